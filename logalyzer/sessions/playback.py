"""VAR playback sessions per device, from window functions over the whole fleet.

A line starts a session when it is one of ``start_events`` (CHANGE_CONTENT) or ``reset_events``
(BOOT_COMPLETED, STANDBY_EXIT), or when the device's previous line is more than ``idle_timeout_s``
older (or there is none): ``lag(ts)`` over the device window decides, line by line. A running
``last(start, ignorenulls)`` over the same window then gives every line its session, whose id is
``sha2(device_key | start ts | start line_hash)``: stable across runs, input order, partitioning
and incremental re-runs, because it depends only on the session's first line.

Aggregation is two-level, both levels keyed by the session (so no shuffle beyond the device
partitioning): per (session, level, tag, template, file) with plain sums, then per session, where
the few (key, count) pairs fold into the ``level_counts`` and ``errors_by_tag`` maps.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.maps import UNKNOWN, empty_if_null, sum_by_key
from logalyzer.sessions.prepare import DEVICE_KEY, device_window, prepare_events

IDLE = "IDLE"  # start reason: no earlier line of the device within idle_timeout_s (or none at all)
_TS_TEXT = "yyyy-MM-dd HH:mm:ss.SSSSSS"


def session_id_col(device_key: F.Column, ts: F.Column, line_hash: F.Column) -> F.Column:
    return F.substring(F.sha2(F.concat_ws("|", device_key, F.date_format(ts, _TS_TEXT),
                                          F.coalesce(line_hash, F.lit(""))), 256), 1, 32)


def start_reason_col(cfg: SessionsConfig) -> F.Column:
    """Per line: why it starts a session (the event type, or IDLE), or null when it continues one."""
    evt = F.col("var_event_type")
    prev_ts = F.lag("ts").over(device_window())
    gap_us = F.unix_micros(F.col("ts")) - F.unix_micros(prev_ts)
    trigger = list(dict.fromkeys(cfg.start_events + cfg.reset_events))
    reason = F.when(evt.isin(trigger), evt) if trigger else F.when(F.lit(False), F.lit(None).cast("string"))
    return reason.when(prev_ts.isNull() | (gap_us > F.lit(cfg.idle_timeout_s * 1_000_000)), F.lit(IDLE))


def sessionize(prepared: DataFrame, cfg: SessionsConfig) -> DataFrame:
    """Per line of a prepared frame: add ``_session`` (session_id, start ts, reason, content data)."""
    is_content = F.col("var_event_type") == F.lit(cfg.content_event)
    df = prepared.withColumn("_reason", start_reason_col(cfg))
    start = F.when(F.col("_reason").isNotNull(), F.struct(
        session_id_col(F.col(DEVICE_KEY), F.col("ts"), F.col("line_hash")).alias("session_id"),
        F.col("ts").alias("start_ts"),
        F.col("_reason").alias("start_reason"),
        F.when(is_content, F.col("var_data")).alias("content_data")))
    running = device_window().rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (df.withColumn("_start", start)
            .withColumn("_session", F.last("_start", ignorenulls=True).over(running))
            .drop("_reason", "_start"))


def _line_counter_cond(lc) -> F.Column:
    cond = F.lit(True)
    if lc.tag:
        cond = cond & (F.col("tag") == F.lit(lc.tag))
    if lc.message_regex:
        cond = cond & F.coalesce(F.col("message").rlike(lc.message_regex), F.lit(False))
    return cond


def _count_if(cond: F.Column) -> F.Column:
    return F.sum(F.when(cond, 1).otherwise(0)).cast("long")


def counter_aggs(cfg: SessionsConfig) -> list[F.Column]:
    """First-level aggregates shared by sessions and time series: counters, durations, line counters."""
    evt = F.col("var_event_type")
    aggs = []
    for c in cfg.counters:
        aggs.append(_count_if(evt.isin(list(c.events))).alias(c.name))
        if c.duration_field:
            value = F.get_json_object(F.col("var_data"), f"$.{c.duration_field}").cast("double")
            aggs.append(F.sum(F.when(evt.isin(list(c.events)), value)).alias(f"{c.name}_ms"))
    for lc in cfg.line_counters:
        aggs.append(_count_if(_line_counter_cond(lc)).alias(lc.name))
    return aggs


def counter_names(cfg: SessionsConfig) -> list[tuple[str, str]]:
    """(column, type) of what ``counter_aggs`` produces, in order."""
    out = []
    for c in cfg.counters:
        out.append((c.name, "int"))
        if c.duration_field:
            out.append((f"{c.name}_ms", "long"))
    out += [(lc.name, "int") for lc in cfg.line_counters]
    return out


def playback_sessions(events: DataFrame, cfg, prepared: bool = False) -> DataFrame:
    """``events`` -> one row per playback session (table ``sessions``, partitioned by ``date``)."""
    cfg = SessionsConfig.of(cfg)
    lines = sessionize(events if prepared else prepare_events(events), cfg)
    is_error = F.upper(F.col("level")).isin(list(cfg.error_levels))
    lines = lines.withColumn("_level", F.coalesce(F.upper(F.col("level")), F.lit(UNKNOWN))) \
                 .withColumn("_tag", F.coalesce(F.col("tag"), F.lit(UNKNOWN))) \
                 .withColumn("_error", is_error)
    keys = [DEVICE_KEY, "device_id", "_session"]
    counters = counter_names(cfg)
    level1 = lines.groupBy(*keys, "_level", "_tag", "_error", "template_id", "source_file").agg(
        F.count(F.lit(1)).alias("_n"),
        F.max("ts").alias("_last"),
        F.count("var_event_type").alias("_n_var"),
        *counter_aggs(cfg))
    level2 = level1.groupBy(*keys).agg(
        F.max("_last").alias("end_ts"),
        F.sum("_n").cast("int").alias("n_lines"),
        F.sum("_n_var").cast("int").alias("n_var_events"),
        *[F.sum(name).cast(typ).alias(name) for name, typ in counters],
        F.sum(F.when(F.col("_error"), F.col("_n")).otherwise(0)).cast("int").alias("error_lines"),
        F.collect_list(F.struct(F.col("_level").alias("k"), F.col("_n").alias("n"))).alias("_levels"),
        F.collect_list(F.when(F.col("_error"), F.struct(F.col("_tag").alias("k"), F.col("_n").alias("n"))))
         .alias("_errtags"),
        F.collect_set("template_id").alias("_templates"),
        F.collect_set("source_file").alias("_files"))
    s = F.col("_session")
    content = [F.get_json_object(s["content_data"], f"$.{key}").alias(name) for name, key in cfg.content_fields]
    out = level2.select(
        F.col("device_id"), F.col(DEVICE_KEY), s["session_id"].alias("session_id"),
        s["start_ts"].alias("start_ts"), F.col("end_ts"),
        ((F.unix_micros("end_ts") - F.unix_micros(s["start_ts"])) / F.lit(1e6)).alias("duration_s"),
        s["start_reason"].alias("start_reason"),
        *content,
        "n_lines", "n_var_events",
        *[F.coalesce(F.col(name), F.lit(0)).cast(typ).alias(name) for name, typ in counters],
        "error_lines",
        empty_if_null(sum_by_key(F.col("_errtags"))).alias("errors_by_tag"),
        sum_by_key(F.col("_levels")).alias("level_counts"),
        F.size(F.array_remove(F.col("_templates"), "")).alias("distinct_templates"),
        F.size("_files").alias("n_files"),
        F.array_sort("_files").alias("source_files"))
    summary = F.to_json(F.struct(*[F.col(c) for c in out.columns if c not in ("source_files",)]))
    return out.withColumn("summary", summary).withColumn("date", F.to_date("start_ts"))
