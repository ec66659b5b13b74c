"""Common first step of every sessions output: device key, duplicate removal, and line order.

* ``device_key``: the device id, or ``file:<source_file>`` when the line has none, so logs without a
  device (loghub samples) still group per source.
* Duplicates are lines with the same ``device_key`` and ``line_hash`` (the same raw line delivered
  twice, e.g. in an overlapping log upload); the first in line order is kept.
* Line order is ``(ts, source_file, line_no)``: event time first, so out-of-order lines sort
  correctly, then file and line number, so ties are deterministic. ``_seq`` is a line's position in
  its device's order, ``_prev_ts`` / ``_prev_evt`` the time and VAR event type of the line before.

The data is hash-partitioned by ``device_key`` once; the duplicate window and the device window
(and every later per-device window or aggregation) reuse that partitioning, so the stage costs a
single shuffle and memory grows with one device's lines, never with the fleet's.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

ORDER_COLS = ("ts", "source_file", "line_no")
REQUIRED = ("device_id", "ts", "level", "tag", "message", "var_event_type", "var_data", "source_file",
            "line_no", "line_hash", "template_id")
DEVICE_KEY = "device_key"
PREPARED_MARK = "_seq"


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


def mark_duplicates(events: DataFrame, partitions: int | None = None) -> DataFrame:
    """Only the columns the stage uses, ``device_key``, and ``_duplicate``; partitioned by device."""
    check_columns(events)
    cols = list(REQUIRED) + (["date"] if "date" in events.columns else [])
    df = events.select(*cols).where(F.col("ts").isNotNull()).withColumn(DEVICE_KEY, device_key_col())
    df = df.repartition(partitions, DEVICE_KEY) if partitions else df.repartition(DEVICE_KEY)
    dup = Window.partitionBy(DEVICE_KEY, "line_hash").orderBy(*line_order())
    return df.withColumn("_duplicate", (F.row_number().over(dup) > 1) & F.col("line_hash").isNotNull())


def with_line_order(df: DataFrame) -> DataFrame:
    """Add ``_seq``, ``_prev_ts`` and ``_prev_evt`` from the device window."""
    w = device_window()
    return (df.withColumn("_seq", F.row_number().over(w))
            .withColumn("_prev_ts", F.lag("ts").over(w))
            .withColumn("_prev_evt", F.lag("var_event_type").over(w)))


def prepare_events(events: DataFrame, partitions: int | None = None) -> DataFrame:
    """``events`` -> de-duplicated lines with ``device_key`` and line-order columns, partitioned by device."""
    marked = mark_duplicates(events, partitions)
    return with_line_order(marked.where(~F.col("_duplicate")).drop("_duplicate"))


def ensure_prepared(df: DataFrame) -> DataFrame:
    """``df`` itself when ``prepare_events`` already ran on it, else ``prepare_events(df)``."""
    return df if PREPARED_MARK in df.columns and DEVICE_KEY in df.columns else prepare_events(df)
