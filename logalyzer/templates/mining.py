"""Partitioned mining: distinct masked messages → drain3 per partition key, in pandas UDFs.

The distinct messages (with their line counts) and the stored Drain state are co-grouped by the
partition key (token count, leading token: drain3's own first tree levels) and each group is mined
by one ``GroupMiner`` (miner.py) in a deterministic order (line count descending, then text). Groups
share nothing in drain3's tree, so the union of the groups' templates is what one drain3 run over
the same ordered messages gives (tests/test_templates_mining.py checks it) -- except that drain3's
``max_children`` cap on *leading-token* children no longer applies: each key has its own miner.

The result is one small DataFrame with three kinds of rows: ``msg`` (masked text → template, id
and the regexes that extract its parameters), ``state`` (the group's new state) and ``lineage``.
"""
from __future__ import annotations

import logging

import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.templates.ids import UNPARSED_TEMPLATE, template_id
from logalyzer.templates.masking import masks_by_format, placeholders
from logalyzer.templates.miner import mine_group
from logalyzer.templates.params import param_regex
from logalyzer.templates.settings import TemplateSettings

log = logging.getLogger(__name__)

MINED_SCHEMA = ("kind string, token_count int, lead string, masked string, template string, template_id string, "
                "raw_template string, n_params int, rx string, rx_loose string, replacement string, "
                "old_template string, old_id string, state string, extra string, n_clusters int, "
                "n_messages bigint, error string")
_COLUMNS = [c.strip().split(" ")[0] for c in MINED_SCHEMA.split(",")]


def shapes_for(settings: TemplateSettings) -> dict[str, list[str]]:
    """Placeholder → mask regexes, over every mask list in use (default and per format)."""
    default, per = masks_by_format(settings)
    shapes: dict[str, list[str]] = {}
    for masks in [default, *per.values()]:
        for ph, rxs in placeholders(masks).items():
            shapes.setdefault(ph, [])
            shapes[ph] += [r for r in rxs if r not in shapes[ph]]
    return shapes


def mine_partition(token_count: int, lead: str, msgs: pd.DataFrame, states: pd.DataFrame,
                   settings: TemplateSettings, shapes: dict) -> pd.DataFrame:
    """One partition key: its distinct messages (``masked``, ``n``) and its stored state (0 or 1 row)."""
    if msgs.empty:
        return pd.DataFrame(columns=_COLUMNS)
    msgs = msgs.sort_values(["n", "masked"], ascending=[False, True], kind="mergesort")
    texts = [str(t) for t in msgs["masked"]]
    state = extra = None
    if len(states):
        state, extra = states["state"].iloc[0], states["extra"].iloc[0]
    rows, error = [], None
    try:
        mined = mine_group(texts, settings, state, extra)
        templates, raws, lineage = mined.templates, mined.raw, mined.lineage
    except Exception as exc:  # one bad group must not fail the batch: its lines get <UNPARSED>
        log.exception("drain3 failed on partition (%s, %r)", token_count, lead)
        error = f"{type(exc).__name__}: {exc}"
        mined, templates, raws, lineage = None, [UNPARSED_TEMPLATE] * len(texts), [None] * len(texts), []
    regex_cache: dict = {}

    def regexes(tpl):
        if tpl not in regex_cache:
            regex_cache[tpl] = param_regex(tpl, shapes, settings.drain.extra_delimiters)
        return regex_cache[tpl]

    base = dict.fromkeys(_COLUMNS)
    for text, tpl, raw in zip(texts, templates, raws):
        pr = regexes(tpl)
        rows.append({**base, "kind": "msg", "token_count": token_count, "lead": lead, "masked": text,
                     "template": tpl, "template_id": template_id(tpl), "raw_template": raw, "n_params": pr.n,
                     "rx": pr.strict, "rx_loose": pr.loose, "replacement": pr.replacement, "error": error})
    for old, new in lineage:
        rows.append({**base, "kind": "lineage", "token_count": token_count, "lead": lead, "template": new,
                     "template_id": template_id(new), "old_template": old, "old_id": template_id(old)})
    if mined is not None and mined.state is not None:
        rows.append({**base, "kind": "state", "token_count": token_count, "lead": lead, "state": mined.state,
                     "extra": mined.extra, "n_clusters": mined.n_clusters, "n_messages": int(msgs["n"].sum())})
    out = pd.DataFrame(rows, columns=_COLUMNS)
    for col in ("token_count", "n_params", "n_clusters"):
        out[col] = out[col].astype("Int32")
    out["n_messages"] = out["n_messages"].astype("Int64")
    return out


def mine_distinct(distinct: DataFrame, state: DataFrame, settings: TemplateSettings,
                  partitions: int | None = None) -> DataFrame:
    """``distinct`` (token_count, lead, masked, n) + ``state`` (drain_state rows) → mined rows.

    Pass ``state`` with the same key columns (an empty DataFrame on a first run).
    """
    shapes = shapes_for(settings)
    keys = ["token_count", "lead"]
    msgs = distinct.select(*keys, "masked", F.col("n").cast("long").alias("n"))
    states = state.select(*keys, "state", "extra")
    if partitions:
        msgs = msgs.repartition(partitions, *keys)
        states = states.repartition(partitions, *keys)

    def fn(key, left: pd.DataFrame, right: pd.DataFrame) -> pd.DataFrame:
        return mine_partition(int(key[0]), str(key[1]), left, right, settings, shapes)

    return msgs.groupBy(*keys).cogroup(states.groupBy(*keys)).applyInPandas(fn, MINED_SCHEMA)
