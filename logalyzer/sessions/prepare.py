"""Common first step of every sessions output: device key, line order, and duplicate removal.

* ``device_key``: the device id, or ``file:<source_file>`` when the line has none, so logs without a
  device (loghub samples) still group per source.
* Line order is ``(ts, source_file, line_no)``: event time first, so out-of-order lines sort
  correctly, then file and line number, so ties are deterministic.
* Duplicates are lines with the same ``device_key`` and ``line_hash`` (the same raw line delivered
  twice, e.g. in an overlapping log upload). The first in line order is kept.

The data is hash-partitioned by ``device_key`` once; the duplicate window (device_key, line_hash)
and every later per-device window or aggregation reuse that partitioning, so the whole stage costs a
single shuffle and memory grows with one device's lines, never with the fleet's.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ORDER_COLS = ("ts", "source_file", "line_no")
REQUIRED = ("device_id", "ts", "level", "tag", "message", "var_event_type", "var_data", "source_file",
            "line_no", "line_hash", "template_id")
DEVICE_KEY = "device_key"


def device_key_col() -> F.Column:
    return F.coalesce(F.col("device_id"), F.concat(F.lit("file:"), F.col("source_file")))


def line_order() -> list[F.Column]:
    return [F.col(c).asc_nulls_first() for c in ORDER_COLS]


def device_window() -> Window:
    """Per device, in line order: what lag() and running sums use."""
    return Window.partitionBy(DEVICE_KEY).orderBy(*line_order())


def check_columns(events: DataFrame) -> None:
    missing = [c for c in REQUIRED if c not in events.columns]
    if missing:
        raise ValueError(f"sessions: the events DataFrame lacks column(s) {', '.join(missing)} "
                         "(see docs/data_model.md, table `events`)")


def prepare_events(events: DataFrame, partitions: int | None = None) -> DataFrame:
    """Add ``device_key``, drop rows without a timestamp and duplicate lines; partition by device."""
    check_columns(events)
    df = events.where(F.col("ts").isNotNull()).withColumn(DEVICE_KEY, device_key_col())
    df = df.repartition(partitions, DEVICE_KEY) if partitions else df.repartition(DEVICE_KEY)
    dup = Window.partitionBy(DEVICE_KEY, "line_hash").orderBy(*line_order())
    return (df.withColumn("_dup_rank", F.row_number().over(dup))
            .where((F.col("_dup_rank") == 1) | F.col("line_hash").isNull())
            .drop("_dup_rank"))
