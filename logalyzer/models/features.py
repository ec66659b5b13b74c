"""Units → fixed-shape numeric arrays: the vocabulary and the featurizer both detectors share.

The vocabulary is built from the training units (Spark: one aggregation over the count maps) and
travels inside the model, because scoring must map template ids exactly as training did. Index 0
pads a short history, index 1 is every template outside the vocabulary (OOV), templates follow by
falling frequency.

The featurizer turns one Arrow batch of units (a pandas frame) into numpy arrays, vectorised over
the batch. It is the same code at training time (inside ``mapInPandas``, producing the columns
petastorm hands to torch) and at scoring time (inside the model): Python here is the model's own
input mapping, not per-line parsing. Template lineage is applied through one composed lookup table:

* an old id maps to its current id's index (Drain generalised the template after training);
* a current id the model never saw maps to the index of an old id it did see (Drain generalised
  after the model was trained on the old template), so neither looks new.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

PAD, OOV = 0, 1
RESERVED = 2
# Where the Autoencoder's count vector comes from: the unit's template sequence (for playback
# sessions its VAR events, sessions.sequence_lines) or the counts of all its lines.
COUNT_SOURCES = ("sequence", "all")


@dataclass
class Vocabulary:
    ids: list[str]                      # template id at index i + RESERVED
    templates: list[str] = field(default_factory=list)   # their text, for reasons
    counts: list[int] = field(default_factory=list)      # occurrences in the training units

    @property
    def size(self) -> int:
        return len(self.ids) + RESERVED

    def index(self) -> dict[str, int]:
        return {t: i + RESERVED for i, t in enumerate(self.ids)}

    def text(self, idx: int) -> str | None:
        i = idx - RESERVED
        return self.templates[i] if 0 <= i < len(self.templates) else None

    def to_dict(self) -> dict:
        return {"ids": self.ids, "templates": self.templates, "counts": self.counts}

    @classmethod
    def from_dict(cls, d: dict) -> "Vocabulary":
        return cls(list(d["ids"]), list(d.get("templates") or []), list(d.get("counts") or []))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False)


def build_vocabulary(train_units: DataFrame, aliases: dict, templates: DataFrame | None,
                     max_size: int, min_count: int = 1, source: str = "sequence") -> Vocabulary:
    """The ``max_size`` most frequent (current) template ids of the training units (model input shape,
    see ``model_input``), with their text.

    Only the vocabulary (at most ``max_size`` rows) reaches the driver.
    """
    spark = train_units.sparkSession
    if source == "sequence":     # the templates the models see: the units' sequences
        entries = train_units.select(F.explode("template_seq").alias("tid"), F.lit(1).cast("long").alias("n"))
    else:
        pair = F.explode(F.arrays_zip(F.col("count_keys").alias("tid"), F.col("count_values").alias("n")))
        entries = train_units.select(pair.alias("_e")).select("_e.tid", "_e.n")
    if aliases:
        amap = spark.createDataFrame(sorted(aliases.items()), "tid string, current string")
        entries = entries.join(F.broadcast(amap), "tid", "left").select(
            F.coalesce("current", "tid").alias("tid"), "n")
    top = (entries.groupBy("tid").agg(F.sum("n").alias("n")).where(F.col("n") >= F.lit(int(min_count)))
           .orderBy(F.desc("n"), "tid").limit(int(max_size)))
    if templates is not None:
        top = top.join(F.broadcast(templates.select(F.col("template_id").alias("tid"), "template")), "tid", "left")
    else:
        top = top.withColumn("template", F.lit(None).cast("string"))
    rows = sorted(top.collect(), key=lambda r: (-r["n"], r["tid"]))
    return Vocabulary([r["tid"] for r in rows], [r["template"] or "" for r in rows], [int(r["n"]) for r in rows])


def slog1p(x: np.ndarray) -> np.ndarray:
    """Sign-preserving log1p: counts and durations span orders of magnitude."""
    return np.sign(x) * np.log1p(np.abs(x))


class Featurizer:
    """Vocabulary + metric names → arrays for one pandas batch of units (see module docstring)."""

    def __init__(self, vocab: Vocabulary, metric_names: list[str], aliases: dict | None = None,
                 counts_from: str = "sequence"):
        if counts_from not in COUNT_SOURCES:
            raise ValueError(f"counts_from must be one of {', '.join(COUNT_SOURCES)}, got {counts_from!r}")
        self.vocab = vocab
        self.metric_names = list(metric_names)
        self.aliases = dict(aliases or {})
        self.counts_from = counts_from
        self._lut: dict[str, int] | None = None
        self._groups: list = []

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_lut"], state["_groups"] = None, []   # rebuilt where they are used
        return state

    @property
    def lut(self) -> dict[str, int]:
        """Template id → index; ``>= vocab.size`` means a group (see ``groups``)."""
        if self._lut is None:
            index = self.vocab.index()
            lut = dict(index)
            predecessors: dict[str, set] = {}
            for old, current in self.aliases.items():
                if old in index and current not in index:
                    predecessors.setdefault(current, set()).add(index[old])
            groups = []
            for current, members in sorted(predecessors.items()):
                if len(members) == 1:
                    lut[current] = min(members)
                else:   # several known templates were generalised into this one: it stands for any of them
                    lut[current] = self.vocab.size + len(groups)
                    groups.append(np.array(sorted(members), dtype=np.int64))
            for old, current in self.aliases.items():
                if old not in lut and current in lut:
                    lut[old] = lut[current]
            self._groups, self._lut = groups, lut
        return self._lut

    @property
    def groups(self) -> list[np.ndarray]:
        """Vocabulary indices each group index (``vocab.size + g``) stands for, most frequent first."""
        self.lut
        return self._groups

    def known(self, idx: np.ndarray) -> np.ndarray:
        """Indices with each group replaced by its most frequent member (for inputs and counts)."""
        if not self.groups or not len(idx):
            return idx
        first = np.array([g[0] for g in self.groups], dtype=np.int64)
        return np.where(idx >= self.vocab.size, first[np.clip(idx - self.vocab.size, 0, len(first) - 1)], idx)

    @property
    def n_counts(self) -> int:
        """Count features: OOV, then each vocabulary template (PAD is never counted)."""
        return self.vocab.size - 1

    @property
    def n_features(self) -> int:
        return self.n_counts + len(self.metric_names)

    def feature_names(self) -> list[str]:
        return ["template <OOV>"] + [f"template {t}" for t in self.vocab.ids] + list(self.metric_names)

    # -- lookups ----------------------------------------------------------------------------------
    def _map(self, flat: list) -> np.ndarray:
        if not len(flat):
            return np.zeros(0, dtype=np.int64)
        return pd.Series(flat, dtype=object).map(self.lut).fillna(OOV).to_numpy(dtype=np.int64)

    def sequences(self, seqs) -> tuple[np.ndarray, np.ndarray]:
        """Template indices of all units, concatenated, and each unit's offset (len n + 1)."""
        lengths = np.fromiter((0 if s is None else len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = [t for s in seqs if s is not None for t in s]
        return self._map(flat), offsets

    def counts(self, keys, values) -> np.ndarray:
        """(n, n_counts) raw template counts; column 0 is OOV."""
        n = len(keys)
        out = np.zeros((n, self.n_counts), dtype=np.float32)
        lengths = np.fromiter((0 if k is None else len(k) for k in keys), dtype=np.int64, count=n)
        if not lengths.sum():
            return out
        flat_keys = [k for ks in keys if ks is not None for k in ks]
        flat_vals = np.concatenate([np.asarray(v, dtype=np.float64) for v in values if v is not None and len(v)])
        cols = self.known(self._map(flat_keys)) - 1
        rows = np.repeat(np.arange(n), lengths)
        np.add.at(out, (rows, cols), flat_vals)
        return out

    def metrics(self, names, values) -> np.ndarray:
        """(n, len(metric_names)) in the model's order; a metric the unit lacks is 0."""
        out = np.zeros((len(names), len(self.metric_names)), dtype=np.float32)
        if not self.metric_names:
            return out
        position = {m: i for i, m in enumerate(self.metric_names)}
        cache: dict = {}
        for r, (ns, vs) in enumerate(zip(names, values)):
            if ns is None:
                continue
            key = tuple(ns)
            if key not in cache:   # every unit of a table has the same names: one mapping per batch
                cache[key] = np.array([position.get(x, -1) for x in key], dtype=np.int64)
            cols = cache[key]
            keep = cols >= 0
            out[r, cols[keep]] = np.asarray(vs, dtype=np.float64)[keep]
        return out

    def sequence_counts(self, seqs) -> np.ndarray:
        """(n, n_counts) template counts of each unit's sequence; column 0 is OOV."""
        idx, offsets = self.sequences(seqs)
        out = np.zeros((len(seqs), self.n_counts), dtype=np.float32)
        if len(idx):
            np.add.at(out, (np.repeat(np.arange(len(seqs)), np.diff(offsets)), self.known(idx) - 1), 1.0)
        return out

    def with_aliases(self, aliases: dict) -> "Featurizer":
        return Featurizer(self.vocab, self.metric_names, aliases, self.counts_from)

    def features(self, pdf: pd.DataFrame) -> np.ndarray:
        """(n, n_features) Autoencoder input before standardisation: log counts, then log metrics."""
        c = (self.sequence_counts(pdf["template_seq"].tolist()) if self.counts_from == "sequence"
             else self.counts(pdf["count_keys"].tolist(), pdf["count_values"].tolist()))
        m = self.metrics(pdf["metric_names"].tolist(), pdf["metric_values"].tolist())
        return np.hstack([slog1p(c), slog1p(m)]).astype(np.float32)


def model_input(units: DataFrame) -> DataFrame:
    """Units → the columns a model takes (arrays only, so one signature fits every unit kind)."""
    return units.select("*", F.map_keys("template_counts").alias("count_keys"),
                        F.map_values("template_counts").alias("count_values")).drop("template_counts")


MODEL_INPUT = ("template_seq", "count_keys", "count_values", "metric_names", "metric_values")
