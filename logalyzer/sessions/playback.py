"""VAR playback sessions per device, from window functions over the whole fleet.

A line starts a session when it is one of ``start_events`` (CHANGE_CONTENT) or ``reset_events``
(BOOT_COMPLETED, STANDBY_EXIT), when the line before it was one of ``end_events`` (STANDBY_ENTER),
or when the device's previous line is more than ``idle_timeout_s`` older (or there is none):
``lag()`` over the device window decides, line by line. A running count and
``last(start, ignorenulls)`` over the same window then give every line its session, whose id is
``sha2(device_key | start ts | start line_hash)``: stable across runs, input order, partitioning
and incremental re-runs, because it depends only on the session's first line.

One aggregation per (device, session number) follows, on the device partitioning (no shuffle);
the maps and counters are folded from collected lists afterwards (``counters.py``, ``maps.py``).
The session also keeps its ordered template-id sequence (``template_seq``, in the device's line
order, of the lines matching ``sessions.sequence_lines``: by default its VAR events) and the count
vector of all its lines (``template_counts``): the input of the anomaly models.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from logalyzer.sessions import counters
from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.maps import UNKNOWN, with_count_map
from logalyzer.sessions.prepare import DEVICE_KEY, device_window, ensure_prepared

IDLE = "IDLE"  # start reason: no earlier line of the device within idle_timeout_s (or none at all)
_TS_TEXT = "yyyy-MM-dd HH:mm:ss.SSSSSS"


def session_id_col(device_key: F.Column, ts: F.Column, line_hash: F.Column) -> F.Column:
    return F.substring(F.sha2(F.concat_ws("|", device_key, F.date_format(ts, _TS_TEXT),
                                          F.coalesce(line_hash, F.lit(""))), 256), 1, 32)


def start_reason_col(cfg: SessionsConfig) -> F.Column:
    """Per line: why it starts a session, or null when it continues one. In order: its own event type
    (a start or reset event), ``AFTER_<event>`` when the previous line was an end event (so time in
    standby does not stretch the session before it), ``IDLE`` after a gap over the timeout (or none)."""
    evt, prev_evt = F.col("var_event_type"), F.col("_prev_evt")
    gap_us = F.unix_micros(F.col("ts")) - F.unix_micros(F.col("_prev_ts"))
    trigger = list(dict.fromkeys(cfg.start_events + cfg.reset_events))
    reason = F.when(evt.isin(trigger), evt) if trigger else F.when(F.lit(False), F.lit(None).cast("string"))
    if cfg.end_events:
        reason = reason.when(prev_evt.isin(list(cfg.end_events)), F.concat(F.lit("AFTER_"), prev_evt))
    # a null gap (first line of the device) also starts a session
    return reason.when(F.coalesce(gap_us > F.lit(cfg.idle_timeout_s * 1_000_000), F.lit(True)), F.lit(IDLE))


def sessionize(lines: DataFrame, cfg) -> DataFrame:
    """Per line: add ``_sess_no`` (running count of session starts on the device) and ``_session``
    (session_id, start ts, reason, content data of the session's first line). Idempotent."""
    cfg = SessionsConfig.of(cfg)
    df = ensure_prepared(lines)
    if "_session" in df.columns:
        return df
    is_content = F.col("var_event_type") == F.lit(cfg.content_event)
    df = df.withColumn("_reason", start_reason_col(cfg))
    start = F.when(F.col("_reason").isNotNull(), F.struct(
        session_id_col(F.col(DEVICE_KEY), F.col("ts"), F.col("line_hash")).alias("session_id"),
        F.col("ts").alias("start_ts"),
        F.col("_reason").alias("start_reason"),
        F.when(is_content, F.col("var_data")).alias("content_data")))
    running = device_window().rowsBetween(Window.unboundedPreceding, Window.currentRow)
    return (df.withColumn("_start", start)
            .withColumn("_sess_no", F.count("_start").over(running))
            .withColumn("_session", F.last("_start", ignorenulls=True).over(running))
            .drop("_reason", "_start"))


def playback_sessions(events: DataFrame, cfg) -> DataFrame:
    """``events`` -> one row per playback session (table ``sessions``, partitioned by ``date``).

    ``events`` may be raw (it is de-duplicated here) or already prepared / sessionized.
    """
    cfg = SessionsConfig.of(cfg)
    lines = sessionize(events, cfg)
    grouped = lines.groupBy(DEVICE_KEY, "_sess_no").agg(
        F.first("device_id", ignorenulls=True).alias("device_id"),
        F.first("_session").alias("_session"),
        F.max("ts").alias("end_ts"),
        *counters.aggs(cfg),
        F.collect_list(F.struct("_seq", F.coalesce(F.col("template_id"), F.lit(UNKNOWN)).alias("t")))
        .alias("_tpl_pairs"),
        *([F.collect_list(F.when(F.expr(cfg.sequence_lines), F.struct("_seq", F.col("template_id").alias("t"))))
           .alias("_seq_pairs")] if cfg.sequence_lines else []),
        F.collect_set("source_file").alias("_files"))
    ordered = grouped.withColumn("_tpl_all", F.transform(F.sort_array("_tpl_pairs"), lambda p: p["t"]))
    folded = with_count_map(counters.fold_maps(ordered, cfg), "_tpl_all", "template_counts")
    seq = (F.transform(F.sort_array("_seq_pairs"), lambda p: F.coalesce(p["t"], F.lit(UNKNOWN)))
           if cfg.sequence_lines else F.col("_tpl_all"))
    template_seq = F.slice(seq, 1, cfg.max_length) if cfg.max_length > 0 else seq
    s = F.col("_session")
    content = [F.get_json_object(s["content_data"], f"$.{key}").alias(name) for name, key in cfg.content_fields]
    out = folded.select(
        F.col("device_id"), F.col(DEVICE_KEY), s["session_id"].alias("session_id"),
        s["start_ts"].alias("start_ts"), F.col("end_ts"),
        ((F.unix_micros("end_ts") - F.unix_micros(s["start_ts"])) / F.lit(1e6)).alias("duration_s"),
        s["start_reason"].alias("start_reason"),
        *content,
        "n_lines", "n_var_events",
        *counters.counter_columns(cfg),
        "event_counts", "error_lines", "errors_by_tag", "level_counts",
        F.size(F.col("template_counts")).alias("distinct_templates"),
        F.size("_files").alias("n_files"),
        F.sort_array("_files").alias("source_files"),
        template_seq.alias("template_seq"), "template_counts")
    summary = F.to_json(F.struct(*[F.col(c) for c in out.columns
                                   if c not in ("source_files", "template_seq", "template_counts")]))
    return out.withColumn("summary", summary).withColumn("date", F.to_date("start_ts"))
