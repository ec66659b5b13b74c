"""Device time series -> table ``device_timeseries``: per device and time bucket, counts of lines, of
each log level and of each VAR event type, plus the configured counters (same columns as sessions).

Buckets are ``sessions.timeseries.bucket`` long (1 minute .. 1 day, dividing the day), aligned to UTC
midnight, so each bucket lies inside one ``date`` partition and a day can be rebuilt on its own.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.maps import UNKNOWN, empty_if_null, sum_by_key
from logalyzer.sessions.playback import counter_aggs, counter_names
from logalyzer.sessions.prepare import DEVICE_KEY, prepare_events


def device_timeseries(events: DataFrame, cfg, bucket_s: int | None = None, prepared: bool = False) -> DataFrame:
    cfg = SessionsConfig.of(cfg)
    bucket_s = int(bucket_s or cfg.bucket_s)
    lines = events if prepared else prepare_events(events)
    step = F.lit(bucket_s * 1_000_000)
    start_us = F.floor(F.unix_micros("ts") / step).cast("long") * step
    lines = lines.withColumn("bucket_start", F.timestamp_micros(start_us)) \
                 .withColumn("_level", F.coalesce(F.upper(F.col("level")), F.lit(UNKNOWN)))
    keys = [DEVICE_KEY, "device_id", "bucket_start"]
    counters = counter_names(cfg)
    level1 = lines.groupBy(*keys, "_level", "var_event_type").agg(
        F.count(F.lit(1)).cast("int").alias("_n"), *counter_aggs(cfg))
    level2 = level1.groupBy(*keys).agg(
        F.sum("_n").cast("int").alias("n_lines"),
        F.sum(F.when(F.col("_level").isin(list(cfg.error_levels)), F.col("_n")).otherwise(0)).cast("int")
         .alias("error_lines"),
        *[F.sum(name).cast(typ).alias(name) for name, typ in counters],
        F.collect_list(F.struct(F.col("_level").alias("k"), F.col("_n").alias("n"))).alias("_levels"),
        F.collect_list(F.when(F.col("var_event_type").isNotNull(),
                              F.struct(F.col("var_event_type").alias("k"), F.col("_n").alias("n")))).alias("_events"))
    return level2.select(
        "device_id", DEVICE_KEY, "bucket_start",
        F.timestamp_micros(F.unix_micros("bucket_start") + step).alias("bucket_end"),
        F.lit(bucket_s).alias("bucket_s"),
        "n_lines", "error_lines",
        sum_by_key(F.col("_levels")).alias("level_counts"),
        empty_if_null(sum_by_key(F.col("_events"))).alias("event_counts"),
        *[F.coalesce(F.col(name), F.lit(0)).cast(typ).alias(name) for name, typ in counters],
        F.to_date("bucket_start").alias("date"))
