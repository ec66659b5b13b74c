"""DeepLog (Du et al., CCS 2017): an LSTM that predicts the next template from the h before it.

A unit is anomalous when one of its observed templates is not among the model's top-k predictions
for that position, or is outside the vocabulary. Its **score** is the worst rank it shows (the
rank of the observed template among the predictions, out-of-vocabulary counting as worse than any
rank), so "flagged" is simply ``score > k``; the reason names the first such position, its
template and its rank.

**k is chosen without labels:** on the held-out validation units (assumed normal, like the training
units), the smallest k that flags at most ``max_flagged_share`` of them (``choose_k``).

Training rows are every (history, next template) pair of the training units, built by Spark with
``posexplode`` and de-duplicated with a weight (logs repeat themselves: far fewer rows, the same
loss). A history shorter than h (the start of a unit, or a unit shorter than h) is left-padded, so
every position of every unit is scored, short units included.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.models.features import OOV, PAD, Featurizer

DETECTOR = "deeplog"


def _torch():
    import torch

    return torch


def make_net(vocab_size: int, embedding: int, hidden: int, layers: int):
    torch = _torch()
    nn = torch.nn

    class DeepLogNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(vocab_size, embedding, padding_idx=PAD)
            self.lstm = nn.LSTM(embedding, hidden, num_layers=layers, batch_first=True)
            self.out = nn.Linear(hidden, vocab_size)

        def forward(self, history):
            seq, _ = self.lstm(self.embed(history))
            return self.out(seq[:, -1, :])

    return DeepLogNet()


# -- training rows (Spark) -------------------------------------------------------------------------
def index_sequences(units: DataFrame, featurizer: Featurizer) -> DataFrame:
    """Units → ``unit_id, seq_idx`` (the template sequence as vocabulary indices)."""
    def fn(batches):
        for pdf in batches:
            idx, offsets = featurizer.sequences(pdf["template_seq"].tolist())
            idx = featurizer.known(idx)
            seqs = [idx[offsets[i]:offsets[i + 1]].astype(np.int32) for i in range(len(pdf))]
            yield pd.DataFrame({"unit_id": pdf["unit_id"], "seq_idx": seqs})

    return units.select("unit_id", "template_seq").mapInPandas(fn, "unit_id string, seq_idx array<int>")


def training_windows(indexed: DataFrame, history: int) -> DataFrame:
    """Every (history, target) pair of the indexed units, de-duplicated, with its count as ``weight``.

    Sorted, so the rows petastorm reads (and so the training run) do not depend on Spark's partitioning.
    """
    padded = F.concat(F.array_repeat(F.lit(PAD), history), F.col("seq_idx"))
    pairs = indexed.select(padded.alias("_p"), F.posexplode("seq_idx").alias("_pos", "target"))
    windows = pairs.select(F.slice("_p", F.col("_pos") + 1, history).alias("history"), "target")
    return (windows.groupBy("history", "target").agg(F.count(F.lit(1)).cast("float").alias("weight"))
            .orderBy(F.xxhash64("history", "target"), "history", "target"))


def loss(model, batch, device):
    torch = _torch()
    history = batch["history"].to(device=device, dtype=torch.long)
    target = batch["target"].to(device=device, dtype=torch.long)
    weight = batch["weight"].to(device=device, dtype=torch.float32)
    ce = torch.nn.functional.cross_entropy(model(history), target, reduction="none")
    return (ce * weight).sum(), float(weight.sum())


def choose_k(score_counts: list[tuple[float, int]], n_units: int, share: float, max_k: int) -> tuple[int, float]:
    """Smallest k in 1..max_k that flags at most ``share`` of the units; ``score_counts``: (score, units).

    Returns (k, share of units it flags). When no k within max_k gets there, max_k.
    """
    if not n_units:
        return max_k, 0.0
    for k in range(1, max_k + 1):
        flagged = sum(n for s, n in score_counts if s > k)
        if flagged / n_units <= share:
            return k, flagged / n_units
    return max_k, sum(n for s, n in score_counts if s > max_k) / n_units


# -- scoring (numpy + torch, one Arrow batch at a time) -----------------------------------------
class DeepLogScorer:
    """The trained net, its featurizer and k: scores a pandas batch of units in one go."""

    detector = DETECTOR

    def __init__(self, net, featurizer: Featurizer, meta: dict):
        self.net = net
        self.featurizer = featurizer
        self.meta = dict(meta)          # vocab_size, embedding, hidden, layers, history, k, max_windows

    @property
    def threshold(self) -> float:
        k = self.meta.get("k")
        return float(k) if k is not None else float("nan")

    def with_aliases(self, aliases: dict) -> "DeepLogScorer":
        self.featurizer = self.featurizer.with_aliases(aliases)
        return self

    def __getstate__(self):
        return {"state": {k: v.cpu() for k, v in self.net.state_dict().items()},
                "featurizer": self.featurizer, "meta": self.meta}

    def __setstate__(self, d):
        m = d["meta"]
        self.net = make_net(m["vocab_size"], m["embedding"], m["hidden"], m["layers"])
        self.net.load_state_dict(d["state"])
        self.net.eval()
        self.featurizer, self.meta = d["featurizer"], m

    def _ranks(self, history: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Rank of each target among the predictions for its history (1 = the most likely), and its NLL.

        A group target (a template that replaced several known ones) takes its most likely member's
        rank and the summed probability of its members.
        """
        torch = _torch()
        vocab = self.meta["vocab_size"]
        groups = self.featurizer.groups
        chunk = int(max(256, min(self.meta.get("max_windows", 16384), (1 << 25) // max(vocab, 1))))
        device = next(self.net.parameters()).device
        ranks = np.empty(len(target), dtype=np.int64)
        nll = np.empty(len(target), dtype=np.float64)
        history = self.featurizer.known(history)
        self.net.eval()
        with torch.no_grad():
            for a in range(0, len(target), chunk):
                tgt = target[a:a + chunk]
                h = torch.as_tensor(history[a:a + chunk], dtype=torch.long, device=device)
                t = torch.as_tensor(self.featurizer.known(tgt), dtype=torch.long, device=device)
                logits = self.net(h)
                lt = logits.gather(1, t[:, None])[:, 0]
                lp = lt.clone()
                for g, members in enumerate(groups):
                    rows = torch.as_tensor(np.flatnonzero(tgt == vocab + g), dtype=torch.long, device=device)
                    if len(rows):
                        m = logits[rows][:, torch.as_tensor(members, device=device)]
                        lt[rows] = m.max(1).values
                        lp[rows] = torch.logsumexp(m, 1)
                ranks[a:a + chunk] = ((logits > lt[:, None]).sum(1) + 1).cpu().numpy()
                nll[a:a + chunk] = (torch.logsumexp(logits, 1) - lp).double().cpu().numpy()
        return ranks, nll

    def score(self, pdf: pd.DataFrame) -> pd.DataFrame:
        """Per unit: score (worst rank), threshold (k), flagged, reason, and the validation loss terms
        (``loss``: summed NLL of its positions, ``loss_weight``: its number of positions)."""
        h, vocab = int(self.meta["history"]), int(self.meta["vocab_size"])
        k = self.meta.get("k")
        seqs = pdf["template_seq"].tolist()
        idx, offsets = self.featurizer.sequences(seqs)
        n, total = len(seqs), len(idx)
        lengths = np.diff(offsets)
        worst = np.zeros(n, dtype=np.float64)
        nll_sum = np.zeros(n, dtype=np.float64)
        rank = np.zeros(0, dtype=np.int64)
        if total:
            unit_of = np.repeat(np.arange(n), lengths)
            cols = np.arange(total)[:, None] - h + np.arange(h)[None, :]
            history = np.where(cols >= offsets[unit_of][:, None], idx[np.clip(cols, 0, None)], PAD)
            pairs, inverse = np.unique(np.concatenate([history, idx[:, None]], axis=1), axis=0, return_inverse=True)
            r, nll = self._ranks(pairs[:, :h], pairs[:, h])
            inverse = inverse.reshape(-1)
            rank, nll = r[inverse], nll[inverse]
            rank[idx == OOV] = vocab + 1          # unseen in training: worse than any rank
            starts = offsets[:-1][lengths > 0]
            worst[lengths > 0] = np.maximum.reduceat(rank, starts)
            nll_sum[lengths > 0] = np.add.reduceat(nll, starts)
        flagged = worst > k if k is not None else np.zeros(n, dtype=bool)
        reasons = [None] * n
        if flagged.any():
            miss_at = np.flatnonzero(rank > k)
            for u in np.flatnonzero(flagged):
                lo, hi = offsets[u], offsets[u + 1]
                first = miss_at[np.searchsorted(miss_at, lo)]
                misses = np.searchsorted(miss_at, hi) - np.searchsorted(miss_at, lo)
                reasons[u] = self._reason(seqs[u][first - lo], int(idx[first]), int(rank[first]), int(first - lo) + 1,
                                          int(hi - lo), int(misses), int(k))
        return pd.DataFrame({"score": worst, "threshold": np.full(n, self.threshold), "flagged": flagged,
                             "reason": reasons, "loss": nll_sum, "loss_weight": lengths.astype(np.float64)})

    def _reason(self, template_id: str, index: int, rank: int, position: int, length: int, misses: int,
                k: int) -> str:
        more = f"; {misses} of {length} positions outside the top {k}" if misses > 1 else ""
        if index == OOV:
            return (f"position {position} of {length}: template {template_id} never seen in training "
                    f"(out of vocabulary){more}")
        text = self.featurizer.vocab.text(int(self.featurizer.known(np.array([index]))[0])) or ""
        text = (text[:77] + "...") if len(text) > 80 else text
        return (f"position {position} of {length}: template {template_id} \"{text}\" ranked {rank}, "
                f"outside the top {k}{more}")
