"""Generic sessions for any log, the three groupings of log-anomaly research -> table ``event_sequences``.

* ``id``: lines that carry the same identifier (a regex in ``message``, e.g. HDFS ``blk_-?\\d+``),
  over all devices or per device; a line that names several identifiers belongs to each;
* ``fixed``: fixed time windows per device (per source file when the device is unknown);
* ``sliding``: overlapping windows of ``size`` every ``slide`` per device.

Each row holds the ordered template-id sequence (``template_seq``, by ts then file and line number:
the device's line order ``_seq`` for the window kinds) and the template count vector
(``template_counts``): the sequence models' input, with the same counters as playback sessions
(VAR event counts and durations, levels, errors; ``counters.py``). One aggregation per key
collects (position, template) pairs; sorting them gives the sequence, and a linear pass over the
sorted template ids the counts (``maps.with_count_map``). No Python runs per line.
"""
from __future__ import annotations

import re

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.sessions import counters
from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.maps import UNKNOWN, with_count_map
from logalyzer.sessions.prepare import DEVICE_KEY, ORDER_COLS, device_key_col, ensure_prepared

SEQUENCE_COLUMNS = ("kind", "sequence_id", "key", "device_id", "window_start", "window_end", "first_ts",
                    "last_ts", "n_lines", "n_templates", "template_seq", "template_counts", "n_var_events",
                    "error_lines", "level_counts", "event_counts", "errors_by_tag", "date")
# ... plus one column per configured counter (counters.counter_columns), before ``date``.


def sequence_id_col(kind: str, key: F.Column, start: F.Column) -> F.Column:
    return F.substring(F.sha2(F.concat_ws("|", F.lit(kind), key,
                                          F.coalesce(F.date_format(start, "yyyy-MM-dd HH:mm:ss"), F.lit(""))), 256), 1, 32)


def build_sequences(lines: DataFrame, cfg, kind: str, key: F.Column, window_start_us=None,
                    size_s: int | None = None, order: tuple = ("_seq",)) -> DataFrame:
    """Group ``lines`` by ``key`` (and window start, in epoch microseconds) into the template sequence,
    ordered by the ``order`` columns, the template count vector and the configured counters."""
    cfg = SessionsConfig.of(cfg)
    tid = F.coalesce(F.col("template_id"), F.lit(UNKNOWN))
    ws = window_start_us if window_start_us is not None else F.lit(None).cast("long")
    df = lines.select("*", key.alias("key"), ws.alias("_ws"),
                      F.struct(*[F.col(c) for c in order], tid.alias("t")).alias("_p"))
    grouped = df.groupBy("key", "_ws").agg(
        F.min("device_id").alias("_dmin"), F.max("device_id").alias("_dmax"),
        F.min("ts").alias("first_ts"), F.max("ts").alias("last_ts"),
        F.collect_list("_p").alias("_p"), *counters.aggs(cfg))
    seq = with_count_map(grouped.withColumn("_seq_all", F.transform(F.sort_array("_p"), lambda p: p["t"])),
                         "_seq_all", "template_counts")
    seq = counters.fold_maps(seq, cfg)
    max_length = cfg.max_length
    window_start = F.timestamp_micros("_ws")
    window_end = F.timestamp_micros(F.col("_ws") + F.lit(int(size_s or 0) * 1_000_000)) if size_s else \
        F.lit(None).cast("timestamp")
    template_seq = F.slice("_seq_all", 1, int(max_length)) if max_length and max_length > 0 else F.col("_seq_all")
    return seq.select(
        F.lit(kind).alias("kind"),
        sequence_id_col(kind, F.col("key"), window_start).alias("sequence_id"),
        "key",
        F.when(F.col("_dmin") == F.col("_dmax"), F.col("_dmin")).alias("device_id"),
        window_start.alias("window_start"), window_end.alias("window_end"),
        "first_ts", "last_ts", "n_lines", F.size("template_counts").alias("n_templates"),
        template_seq.alias("template_seq"), "template_counts",
        "n_var_events", "error_lines", "level_counts", "event_counts", "errors_by_tag",
        *counters.counter_columns(cfg),
        F.to_date(F.coalesce(window_start, F.col("first_ts"))).alias("date"))


def _micros(seconds: int) -> F.Column:
    return F.lit(int(seconds) * 1_000_000)


def _floor_us(seconds: int) -> F.Column:
    """Micros of ``ts`` rounded down to a multiple of ``seconds`` (epoch-aligned, so UTC midnight too)."""
    return F.floor(F.unix_micros("ts") / _micros(seconds)).cast("long") * _micros(seconds)


def id_key_col(lines: DataFrame, cfg, regex: str | None = None, per_device: bool | None = None) -> DataFrame:
    """``lines`` with ``_key``: the identifier (or ``device_key|identifier``), one row per distinct
    identifier the line names (a line naming several belongs to each); lines without one dropped."""
    cfg = SessionsConfig.of(cfg)
    regex = regex or cfg.id_regex
    if not regex:
        raise ValueError("id sessions: no identifier regex (sessions.sequences.id.regex)")
    per_device = cfg.id_per_device if per_device is None else per_device
    group = 1 if re.compile(regex).groups else 0
    if DEVICE_KEY not in lines.columns:
        lines = lines.withColumn(DEVICE_KEY, device_key_col())
    idents = F.array_distinct(F.regexp_extract_all(F.col("message"), F.lit(regex), F.lit(group)))
    lines = lines.withColumn("_ident", F.explode(F.filter(idents, lambda x: x != "")))
    key = F.concat_ws("|", F.col(DEVICE_KEY), F.col("_ident")) if per_device else F.col("_ident")
    return lines.withColumn("_key", key).drop("_ident")


def id_sessions(events: DataFrame, cfg, regex: str | None = None, per_device: bool | None = None) -> DataFrame:
    """One sequence per identifier found by ``regex`` in ``message`` (lines without one are left out),
    ordered by (ts, source_file, line_no) across all the identifier's sources."""
    cfg = SessionsConfig.of(cfg)
    lines = id_key_col(ensure_prepared(events), cfg, regex, per_device)
    return build_sequences(lines.repartition("_key"), cfg, "id", F.col("_key"), order=ORDER_COLS)


def fixed_window_sessions(events: DataFrame, cfg, size_s: int | None = None) -> DataFrame:
    """One sequence per device (or source) and fixed window of ``size_s`` (aligned to UTC midnight)."""
    cfg = SessionsConfig.of(cfg)
    size_s = size_s or cfg.fixed_size_s
    return build_sequences(ensure_prepared(events), cfg, "fixed", F.col(DEVICE_KEY), _floor_us(size_s), size_s)


def sliding_window_sessions(events: DataFrame, cfg, size_s: int | None = None, slide_s: int | None = None) -> DataFrame:
    """One sequence per device (or source) and window of ``size_s`` starting every ``slide_s``.

    A line belongs to ``size_s / slide_s`` windows; windows with no line are not emitted.
    """
    cfg = SessionsConfig.of(cfg)
    size_s = size_s or cfg.sliding_size_s
    slide_s = slide_s or cfg.sliding_slide_s
    n = size_s // slide_s
    lines = ensure_prepared(events).withColumn("_k", F.explode(F.sequence(F.lit(0), F.lit(n - 1))))
    return build_sequences(lines, cfg, "sliding", F.col(DEVICE_KEY),
                           _floor_us(slide_s) - F.col("_k") * _micros(slide_s), size_s)
