"""Device time series -> table ``device_timeseries``: per device and time bucket, counts of lines, of
each log level and of each VAR event type, plus the configured counters (same columns as sessions).

Buckets are ``sessions.timeseries.bucket`` long (1 minute .. 1 day, dividing the day), aligned to UTC
midnight, so each bucket lies inside one ``date`` partition and a day can be rebuilt on its own.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.sessions import counters
from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.prepare import DEVICE_KEY, ensure_prepared


def device_timeseries(events: DataFrame, cfg, bucket_s: int | None = None) -> DataFrame:
    """``events`` (raw or prepared) -> one row per device and bucket that has lines."""
    cfg = SessionsConfig.of(cfg)
    bucket_s = int(bucket_s or cfg.bucket_s)
    lines = ensure_prepared(events)
    step = F.lit(bucket_s * 1_000_000)
    start_us = F.floor(F.unix_micros("ts") / step).cast("long") * step
    grouped = lines.withColumn("_bucket_us", start_us).groupBy(DEVICE_KEY, "_bucket_us").agg(
        F.first("device_id", ignorenulls=True).alias("device_id"), *counters.aggs(cfg))
    folded = counters.fold_maps(grouped, cfg)
    return folded.select(
        "device_id", DEVICE_KEY,
        F.timestamp_micros("_bucket_us").alias("bucket_start"),
        F.timestamp_micros(F.col("_bucket_us") + step).alias("bucket_end"),
        F.lit(bucket_s).alias("bucket_s"),
        "n_lines", "n_var_events", "error_lines", "level_counts", "event_counts", "errors_by_tag",
        *counters.counter_columns(cfg),
        F.to_date(F.timestamp_micros("_bucket_us")).alias("date"))
