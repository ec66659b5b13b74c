"""Generic sessions for any log, the three groupings of log-anomaly research -> table ``event_sequences``.

* ``id``: lines that carry the same identifier (first match of a regex in ``message``, e.g. HDFS
  ``blk_-?\\d+``), over all devices or per device;
* ``fixed``: fixed time windows per device (per source file when the device is unknown);
* ``sliding``: overlapping windows of ``size`` every ``slide`` per device.

Each row holds the ordered template-id sequence (``template_seq``, by ts then file and line number)
and the template count vector (``template_counts``): the sequence models' input. Both come from a
two-level aggregation (per key and template, then per key), so no per-line Python runs.
"""
from __future__ import annotations

import re

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.maps import UNKNOWN
from logalyzer.sessions.prepare import DEVICE_KEY, prepare_events

SEQUENCE_COLUMNS = ("kind", "sequence_id", "key", "device_id", "window_start", "window_end", "first_ts",
                    "last_ts", "n_lines", "n_templates", "template_seq", "template_counts", "date")


def sequence_id_col(kind: str, key: F.Column, start: F.Column) -> F.Column:
    return F.substring(F.sha2(F.concat_ws("|", F.lit(kind), key,
                                          F.coalesce(F.date_format(start, "yyyy-MM-dd HH:mm:ss"), F.lit(""))), 256), 1, 32)


def build_sequences(lines: DataFrame, kind: str, key: F.Column, window_start=None, window_end=None,
                    max_length: int = 0) -> DataFrame:
    """Group ``lines`` by ``key`` (and window) into ordered template sequences and count vectors."""
    tid = F.coalesce(F.col("template_id"), F.lit(UNKNOWN))
    ws = window_start if window_start is not None else F.lit(None).cast("timestamp")
    we = window_end if window_end is not None else F.lit(None).cast("timestamp")
    df = lines.select(key.alias("key"), ws.alias("window_start"), we.alias("window_end"), "device_id",
                      tid.alias("_tid"), "ts", "source_file", "line_no")
    keys = ["key", "window_start", "window_end"]
    level1 = df.groupBy(*keys, "_tid").agg(
        F.count(F.lit(1)).cast("int").alias("_n"),
        F.min("device_id").alias("_dmin"), F.max("device_id").alias("_dmax"),
        F.collect_list(F.struct("ts", "source_file", "line_no", F.col("_tid").alias("t"))).alias("_pos"))
    level2 = level1.groupBy(*keys).agg(
        F.sum("_n").cast("int").alias("n_lines"),
        F.min("_dmin").alias("_dmin"), F.max("_dmax").alias("_dmax"),
        F.map_from_entries(F.collect_list(F.struct("_tid", "_n"))).alias("template_counts"),
        F.flatten(F.collect_list("_pos")).alias("_pos"))
    ordered = F.array_sort("_pos")
    seq = F.transform(ordered, lambda p: p["t"])
    if max_length and max_length > 0:
        seq = F.slice(seq, 1, int(max_length))
    start = F.coalesce(F.col("window_start"), ordered[0]["ts"])
    return level2.select(
        F.lit(kind).alias("kind"),
        sequence_id_col(kind, F.col("key"), F.col("window_start")).alias("sequence_id"),
        "key",
        F.when(F.col("_dmin") == F.col("_dmax"), F.col("_dmin")).alias("device_id"),
        "window_start", "window_end",
        ordered[0]["ts"].alias("first_ts"), F.element_at(ordered, -1)["ts"].alias("last_ts"),
        "n_lines", F.size("template_counts").alias("n_templates"),
        seq.alias("template_seq"), "template_counts",
        F.to_date(start).alias("date"))


def _micros(seconds: int) -> F.Column:
    return F.lit(int(seconds) * 1_000_000)


def _floor_us(seconds: int) -> F.Column:
    """Micros of ``ts`` rounded down to a multiple of ``seconds`` (epoch-aligned, so UTC midnight too)."""
    return F.floor(F.unix_micros("ts") / _micros(seconds)).cast("long") * _micros(seconds)


def id_sessions(events: DataFrame, cfg, regex: str | None = None, per_device: bool | None = None,
                prepared: bool = False) -> DataFrame:
    """One sequence per identifier found by ``regex`` in ``message`` (lines without one are left out)."""
    cfg = SessionsConfig.of(cfg)
    regex = regex or cfg.id_regex
    if not regex:
        raise ValueError("id_sessions: no identifier regex (sessions.sequences.id.regex)")
    per_device = cfg.id_per_device if per_device is None else per_device
    lines = events if prepared else prepare_events(events)
    group = 1 if re.compile(regex).groups else 0
    ident = F.regexp_extract(F.col("message"), regex, group)
    lines = lines.withColumn("_id", F.when(ident != "", ident)).where(F.col("_id").isNotNull())
    key = F.concat_ws("|", F.col(DEVICE_KEY), F.col("_id")) if per_device else F.col("_id")
    lines = lines.withColumn("_key", key).repartition("_key")
    return build_sequences(lines, "id", F.col("_key"), max_length=cfg.max_length)


def fixed_window_sessions(events: DataFrame, cfg, size_s: int | None = None, prepared: bool = False) -> DataFrame:
    """One sequence per device (or source) and fixed window of ``size_s`` (aligned to UTC midnight)."""
    cfg = SessionsConfig.of(cfg)
    size_s = size_s or cfg.fixed_size_s
    lines = events if prepared else prepare_events(events)
    start = _floor_us(size_s)
    return build_sequences(lines, "fixed", F.col(DEVICE_KEY), F.timestamp_micros(start),
                           F.timestamp_micros(start + _micros(size_s)), cfg.max_length)


def sliding_window_sessions(events: DataFrame, cfg, size_s: int | None = None, slide_s: int | None = None,
                            prepared: bool = False) -> DataFrame:
    """One sequence per device (or source) and window of ``size_s`` starting every ``slide_s``.

    A line belongs to ``size_s / slide_s`` windows; windows with no line are not emitted.
    """
    cfg = SessionsConfig.of(cfg)
    size_s = size_s or cfg.sliding_size_s
    slide_s = slide_s or cfg.sliding_slide_s
    lines = events if prepared else prepare_events(events)
    n = size_s // slide_s
    lines = lines.withColumn("_k", F.explode(F.sequence(F.lit(0), F.lit(n - 1)))) \
                 .withColumn("_ws", _floor_us(slide_s) - F.col("_k") * _micros(slide_s))
    return build_sequences(lines, "sliding", F.col(DEVICE_KEY), F.timestamp_micros("_ws"),
                           F.timestamp_micros(F.col("_ws") + _micros(size_s)), cfg.max_length)
