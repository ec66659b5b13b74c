"""The templates stage: ``log_lines`` (bronze) → ``events`` (silver), plus the template store.

1. **New lines only.** Runs of ``log_lines`` whose line count ``events`` has not reached are the
   candidates (one cheap count per ``run_id`` on both tables); rows of a run ``events`` has never
   seen are taken whole, rows of a partly templated run (an interrupted write) are anti-joined on
   ``(source_hash, line_no)``, the line's identity. ``full=True`` drops the silver tables and the
   Drain state and templates every line again.
2. **Key** every line cheaply: its message prefix with digits turned into ``0`` (one
   ``translate``), hashed. Masks are digit-blind, so all lines of a key share one masked text.
3. **Mask** each distinct key once (masking.py, ``regexp_replace``), cut to the mined prefix
   (tokens.py), and **mine** the distinct masked messages, partitioned by drain3's first tree
   levels (mining.py), continuing from the stored Drain state.
4. **Join** every line to its template by its key hash (broadcast); parameters come from one
   per-template regex over the original message (params.py). No Python runs per line.
5. **Store**: Drain state, templates, lineage, then ``events`` last, so an interrupted run is
   picked up by step 1 next time.
"""
from __future__ import annotations

import logging
from collections import Counter

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.runlog import begin_run, utcnow
from logalyzer.templates.ids import UNPARSED_TEMPLATE, template_id
from logalyzer.templates.masking import digit_blind, mask_stages, masks_by_format
from logalyzer.templates.mining import mine_distinct
from logalyzer.templates.params import with_params
from logalyzer.templates.settings import TemplateSettings
from logalyzer.templates.store import (LINEAGE_SCHEMA, STATE_KEYS, check_fingerprint, lineage_rows, merge_templates,
                                       read_state, state_rows)
from logalyzer.templates.tokens import is_cut, lead_key, mining_text, prekey, token_count
from logalyzer.stage_input import read_input

log = logging.getLogger(__name__)

EVENT_COLUMNS = ("template_id", "template", "params")


# -- 1. which lines --------------------------------------------------------------------------------
def select_new_lines(lines: DataFrame, events: DataFrame | None) -> DataFrame | None:
    """``log_lines`` rows that have no ``events`` row yet (see the module docstring); None if none."""
    if events is None:
        return lines
    run = F.coalesce(F.col("run_id"), F.lit(""))
    have = lines.groupBy(run.alias("_run")).agg(F.count(F.lit(1)).alias("_n"))
    done = events.groupBy(run.alias("_run")).agg(F.count(F.lit(1)).alias("_e"))
    todo = have.join(done, "_run", "left").where(F.col("_e").isNull() | (F.col("_e") < F.col("_n"))).collect()
    fresh = [r["_run"] for r in todo if r["_e"] is None]
    partial = [r["_run"] for r in todo if r["_e"] is not None]
    parts = []
    if fresh:
        parts.append(lines.where(run.isin(fresh)))
    if partial:
        keys = ["source_hash", "line_no"]
        seen = events.where(run.isin(partial)).select(*keys)
        parts.append(lines.where(run.isin(partial)).join(seen, keys, "left_anti").select(*lines.columns))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


# -- 2. key and mask ---------------------------------------------------------------------------------
def _mask_lists(settings):
    default, per = masks_by_format(settings)
    return default, per, all(digit_blind(ms) for ms in [default, *per.values()])


def key_lines(df: DataFrame, settings, message_col: str = "message", format_col: str = "format") -> DataFrame:
    """Add the per-line key: ``_key``, ``_cut``, ``_fmt`` and its 96-bit hash ``_h1``/``_h2``.

    ``_key`` is the digit-blind message prefix, with the first ``masks.per_line`` masks (default 0)
    already applied. ``_fmt`` is the line's format when ``masks.by_format`` names it, else ``""``.
    Lines of one key share their masked text; the hash is the join key back.
    """
    settings = TemplateSettings.of(settings)
    default, per, blind = _mask_lists(settings)
    k = settings.per_line_masks
    fmt = (F.when(F.col(format_col).isin(*per), F.col(format_col)).otherwise(F.lit(""))
           if per and format_col in df.columns else F.lit(""))
    message = F.col(message_col)
    out = df.select("*", prekey(message, settings.max_chars, blind).alias("_key"),
                    is_cut(message, settings.max_chars).alias("_cut"), fmt.alias("_fmt"))
    out = mask_stages(out, "_key", default[:k], only=(F.col("_fmt") == "") if per else None, digit_blind_text=blind)
    for name, masks in per.items():
        out = mask_stages(out, "_key", masks[:k], only=F.col("_fmt") == name, digit_blind_text=blind)
    return out.select("*", F.xxhash64("_fmt", "_key", "_cut").alias("_h1"), F.hash("_fmt", "_key", "_cut").alias("_h2"))


def mask_keys(keys: DataFrame, settings) -> DataFrame:
    """Rows with ``_key``, ``_cut``, ``_fmt`` → plus ``masked`` (the mined text), ``token_count``, ``lead``."""
    settings = TemplateSettings.of(settings)
    default, per, blind = _mask_lists(settings)
    k = settings.per_line_masks
    df = keys.withColumn("_masked", F.col("_key"))
    df = mask_stages(df, "_masked", default[k:], only=(F.col("_fmt") == "") if per else None, digit_blind_text=blind)
    for fmt, masks in per.items():
        df = mask_stages(df, "_masked", masks[k:], only=F.col("_fmt") == fmt, digit_blind_text=blind)
    text = mining_text(F.col("_masked"), F.col("_cut"), settings.max_tokens, settings.drain.extra_delimiters)
    out = df.select("*", text.alias("masked")).drop("_masked")
    return out.select("*", token_count(F.col("masked")).alias("token_count"),
                      lead_key(F.col("masked"), settings.split_by_lead).alias("lead"))


def mask_messages(df: DataFrame, settings, message_col: str = "message", format_col: str = "format") -> DataFrame:
    """Add ``masked`` (the mined text), ``token_count`` and ``lead`` to every row (masks run per row).

    ``settings``: ``TemplateSettings`` or the configuration dict. The stage itself masks each
    distinct key once (``key_lines`` → ``distinct_keys`` → ``mask_keys``); the result is the same.
    """
    out = mask_keys(key_lines(df, settings, message_col, format_col), settings)
    return out.drop("_key", "_cut", "_fmt", "_h1", "_h2")


def distinct_keys(keyed: DataFrame) -> DataFrame:
    """One row per distinct key: line count, first/last time, first original message."""
    ts = F.col("ts") if "ts" in keyed.columns else F.lit(None).cast("timestamp")
    # a key's lines share _key/_cut/_fmt (first() is any of them); the example is the earliest message
    return keyed.groupBy("_h1", "_h2").agg(
        F.first("_key").alias("_key"), F.first("_cut").alias("_cut"), F.first("_fmt").alias("_fmt"),
        F.count(F.lit(1)).alias("n"), F.min(ts).alias("first_seen"), F.max(ts).alias("last_seen"),
        F.min_by("message", ts).alias("example"))


def distinct_messages(masked_keys: DataFrame) -> DataFrame:
    """Distinct keys (masked) → one row per distinct masked message, with the summed stats."""
    return masked_keys.groupBy(*STATE_KEYS, "masked").agg(
        F.sum("n").alias("n"), F.min("first_seen").alias("first_seen"), F.max("last_seen").alias("last_seen"),
        F.min(F.struct("first_seen", "example")).getField("example").alias("example"))


# -- 4. join --------------------------------------------------------------------------------------
def assign_templates(keyed: DataFrame, keymap: DataFrame, templates: DataFrame, broadcast: bool = True) -> DataFrame:
    """Lines with their key (``key_lines``) → lines with template_id, template and params.

    ``keymap``: _h1, _h2 → template_id; ``templates``: template_id → template and its parameter
    regexes (mining.py ``msg`` rows). A line whose key is missing gets ``<UNPARSED>``. Lines are
    sorted by date and template first -- the date sort is the one the partitioned write needs
    anyway -- so each task compiles a template's regex once, not once per line.
    """
    km = keymap.select("_h1", "_h2", F.col("template_id").alias("_tid"))
    tp = templates.select(F.col("template_id").alias("_tid"), F.col("template").alias("_tpl"),
                          F.col("n_params").alias("_n"), F.col("rx").alias("_rx"), F.col("rx_loose").alias("_rxl"),
                          F.col("replacement").alias("_rep"))
    if broadcast:
        km, tp = F.broadcast(km), F.broadcast(tp)
    joined = keyed.join(km, ["_h1", "_h2"], "left").join(tp, "_tid", "left")
    # One long sort key, date then a hash of the template id: Spark radix-sorts it on its prefix
    # alone, where (date, template_id) needed string comparisons for every tie on date.
    day = F.coalesce(F.unix_date("date"), F.lit(0)).cast("long") if "date" in keyed.columns else F.lit(0).cast("long")
    sort_key = F.shiftleft(day, 32) + F.hash("_tid").cast("long").bitwiseAND(F.lit(0xFFFFFFFF))
    joined = joined.select("*", sort_key.alias("_sort")).sortWithinPartitions("_sort")
    joined = joined.select("*", F.coalesce(F.col("_n"), F.lit(0)).alias("_np"))
    joined = with_params(joined, "message", "_np", "_rx", "_rxl", "_rep", out="_params")
    keep = [c for c in keyed.columns if not c.startswith("_")]
    return joined.select(
        *keep,
        F.coalesce("_tid", F.lit(template_id(UNPARSED_TEMPLATE))).alias("template_id"),
        F.coalesce("_tpl", F.lit(UNPARSED_TEMPLATE)).alias("template"),
        F.col("_params").alias("params"),
    )


# -- the stage ------------------------------------------------------------------------------------
def run_templates(spark: SparkSession, catalog, conf: dict, full: bool = False, progress=print) -> dict:
    """Template every new ``log_lines`` row into ``events``; returns the counts (also in ``run_log``)."""
    settings = TemplateSettings.of(conf)
    run = begin_run(catalog, "templates", "log_lines", progress)   # the lake's lock; one row in run_log
    run_id = run.run_id
    counts: Counter = Counter()
    status = "failed"
    cached: list = []
    try:
        lines = read_input(catalog, "log_lines")
        if lines is None:
            progress("templates: log_lines holds no rows; nothing to do")
            status = "succeeded"
            return {"run_id": run_id, "status": status, "lines_templated": 0}
        if full:
            progress("templates: --full, dropping events, templates, template_lineage and drain_state")
            for name in ("events", "templates", "template_lineage", "drain_state"):
                catalog.drop(name)
        events = catalog.read("events") if catalog.exists("events") else None
        new = select_new_lines(lines, events)
        if new is None:
            progress("templates: no new log_lines rows; nothing to do")
            status = "succeeded"
            return {"run_id": run_id, "status": status, "lines_templated": 0}
        state = read_state(catalog)
        check_fingerprint(state, settings.mining_fingerprint())

        keyed = key_lines(new, settings)
        keys = mask_keys(distinct_keys(keyed), settings).persist()
        cached.append(keys)
        distinct = distinct_messages(keys).persist()
        cached.append(distinct)
        totals = distinct.agg(F.sum("n").alias("lines"), F.count(F.lit(1)).alias("distinct"),
                              F.countDistinct(*STATE_KEYS).alias("groups")).first()
        counts["lines_templated"] = int(totals["lines"] or 0)
        counts["distinct_masked"] = int(totals["distinct"] or 0)
        counts["partition_keys"] = int(totals["groups"] or 0)
        if not counts["lines_templated"]:
            progress("templates: no new log_lines rows; nothing to do")
            status = "succeeded"
            return {"run_id": run_id, "status": status, **counts}
        counts["distinct_keys"] = keys.count()
        progress(f"templates: {counts['lines_templated']:,} new lines, {counts['distinct_keys']:,} digit-blind keys, "
                 f"{counts['distinct_masked']:,} distinct masked messages in "
                 f"{counts['partition_keys']:,} partition keys")

        # localCheckpoint (eager) cuts the plan's link to drain_state: writing the new state below
        # would otherwise make Spark re-mine from it when the cached result is invalidated
        mined = mine_distinct(distinct, state, settings, settings.mining_partitions or None).localCheckpoint()
        now = utcnow()
        msg = mined.where(F.col("kind") == "msg")
        per_tpl = (distinct.join(msg.select("masked", "template_id", "template"), "masked")
                   .groupBy("template_id", "template").agg(
                       F.sum("n").alias("count"), F.min("first_seen").alias("first_seen"),
                       F.max("last_seen").alias("last_seen"),
                       F.min(F.struct("first_seen", "example")).getField("example").alias("example")))
        lineage = lineage_rows(mined, now).collect()           # a handful of rows
        counts["templates_changed"] = len(lineage)
        lineage_df = spark.createDataFrame(lineage, LINEAGE_SCHEMA)

        # 5. store: state first, events last (the marker that these lines are done)
        catalog.merge("drain_state", state_rows(mined, settings.mining_fingerprint(), now), STATE_KEYS)
        counts.update(merge_templates(catalog, per_tpl, lineage_df, now))
        if lineage:
            catalog.append("template_lineage", lineage_df)
        keymap = keys.select("_h1", "_h2", "masked").join(msg.select("masked", "template_id"), "masked")
        templates = msg.dropDuplicates(["template_id"])
        events_df = assign_templates(key_lines(new, settings), keymap, templates,
                                     broadcast=counts["distinct_keys"] <= settings.broadcast_max_keys)
        catalog.append("events", events_df)   # --full dropped the table above
        progress(f"templates: {counts['templates_in_batch']:,} templates in this batch "
                 f"({counts['templates_new']:,} new, {counts['templates_known']:,} known, "
                 f"{counts['templates_changed']:,} generalised); events written")
        status = "succeeded"
        return {"run_id": run_id, "status": status, **counts}
    finally:
        for df in cached:
            df.unpersist()
        run.finish(status, counts)
