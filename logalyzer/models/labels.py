"""Ground truth as a lake table (``labels``) and its meaning for each unit.

Two kinds of label files are read (CSV with a header):

* **by key**: two columns, the unit key and its label (``session_id,label``, loghub's
  ``BlockId,Label``): ``Normal``/``Anomaly``, ``0``/``1``, ``true``/``false``. The key is a unit's
  ``key`` (the identifier of an ``id`` sequence, the id of a playback session);
* **by device and time**: ``device_id, start_ts, end_ts`` (+ ``anomaly_type``, ``label``), as the
  fleet generator's ``labels.csv`` writes: a unit of that device whose time range overlaps the
  interval is anomalous.

``unit_truth`` turns the table into one boolean per unit: a key label decides for its unit; else
an overlapping anomalous interval makes the unit anomalous; else the unit is normal when the
labels describe its unit kind by time, and unknown (left out of the metrics) when they describe
it only by key.
"""
from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.runlog import utcnow

LABELS_SCHEMA = ("unit_kind string, key string, device_id string, start_ts timestamp, end_ts timestamp, "
                 "label string, anomaly_type string, source string, loaded_at timestamp")
LABEL_COLUMNS = [c.strip().split(" ")[0] for c in LABELS_SCHEMA.split(",")]
ANOMALY = ("anomaly", "abnormal", "anomalous", "1", "true", "yes", "y")
NORMAL = ("normal", "0", "false", "no", "n", "-")


class LabelFileError(ValueError):
    pass


def _label_col(col: F.Column) -> F.Column:
    v = F.lower(F.trim(col.cast("string")))
    return (F.when(v.isin(*ANOMALY), F.lit("Anomaly")).when(v.isin(*NORMAL), F.lit("Normal"))
            .otherwise(F.lit(None).cast("string")))


def read_label_file(spark: SparkSession, path: str, unit_kind: str | None = None) -> DataFrame:
    """A label CSV → rows in ``LABELS_SCHEMA``; a clear ``LabelFileError`` for a file of neither form."""
    raw = spark.read.option("header", True).option("mode", "FAILFAST").csv(path)
    cols = {c.lower().strip(): c for c in raw.columns}
    now = F.lit(utcnow()).cast("timestamp")
    kind = F.lit(unit_kind).cast("string")
    if {"device_id", "start_ts", "end_ts"} <= set(cols):
        label = _label_col(F.col(cols["label"])) if "label" in cols else F.lit("Anomaly")
        out = raw.select(kind.alias("unit_kind"), F.lit(None).cast("string").alias("key"),
                         F.col(cols["device_id"]).alias("device_id"),
                         F.to_timestamp(cols["start_ts"]).alias("start_ts"),
                         F.to_timestamp(cols["end_ts"]).alias("end_ts"), label.alias("label"),
                         (F.col(cols["anomaly_type"]) if "anomaly_type" in cols else F.lit(None)).cast("string")
                         .alias("anomaly_type"),
                         F.lit(path).alias("source"), now.alias("loaded_at"))
    elif len(raw.columns) == 2:
        key, value = raw.columns
        out = raw.select(kind.alias("unit_kind"), F.trim(F.col(key)).alias("key"),
                         F.lit(None).cast("string").alias("device_id"), F.lit(None).cast("timestamp").alias("start_ts"),
                         F.lit(None).cast("timestamp").alias("end_ts"), _label_col(F.col(value)).alias("label"),
                         F.lit(None).cast("string").alias("anomaly_type"), F.lit(path).alias("source"),
                         now.alias("loaded_at"))
    else:
        raise LabelFileError(
            f"labels: {path} has columns {', '.join(raw.columns)}; expected `KEY,LABEL` (e.g. session_id,label "
            "or BlockId,Label) or `device_id,start_ts,end_ts[,anomaly_type][,label]`")
    bad = out.where(F.col("label").isNull() | (F.col("key").isNull() & F.col("start_ts").isNull())).limit(3).collect()
    if bad:
        raise LabelFileError(f"labels: {path} has rows that are not a label (label Normal/Anomaly or 0/1, and a key "
                             f"or a readable start_ts), e.g. {[r.asDict() for r in bad][:1]}")
    return out


def load_labels(spark: SparkSession, catalog, path: str, unit_kind: str | None = None) -> int:
    """Put the labels of ``path`` into ``labels``, replacing what an earlier load of the same file put there."""
    from logalyzer.runlog import stage_run

    with stage_run(catalog, "labels", path) as run:      # the lake's lock; one row in run_log
        run.counts = {"labels": _load_labels(spark, catalog, path, unit_kind)}
        return run.counts["labels"]


def _load_labels(spark: SparkSession, catalog, path: str, unit_kind: str | None) -> int:
    rows = read_label_file(spark, path, unit_kind).persist()
    try:
        n = rows.count()
        if catalog.exists("labels"):
            kept = catalog.read("labels").where(F.col("source") != F.lit(path))
            catalog.overwrite("labels", kept.unionByName(rows))
        else:
            catalog.overwrite("labels", rows)
        return n
    finally:
        rows.unpersist()


def unit_truth(units: DataFrame, labels: DataFrame) -> DataFrame:
    """``units`` (unit_kind, unit_id, key, device_id, start_ts, end_ts) → ``unit_kind, unit_id, truth``.

    See the module docstring; units the labels say nothing about are left out.
    """
    lab = labels.where(F.col("label").isNotNull())
    applies = F.col("l.unit_kind").isNull() | (F.col("l.unit_kind") == F.col("u.unit_kind"))
    u = units.select("unit_kind", "unit_id", "key", "device_id", "start_ts", "end_ts").alias("u")
    by_key = (u.join(lab.where(F.col("key").isNotNull()).alias("l"), (F.col("u.key") == F.col("l.key")) & applies)
              .groupBy("u.unit_kind", "u.unit_id")
              .agg(F.max((F.col("l.label") == "Anomaly").cast("int")).alias("by_key")))
    intervals = lab.where(F.col("start_ts").isNotNull())
    # an interval must share time with the unit, not only touch it at an end (a session that starts at
    # the very instant an incident ends is the next one); an instant (start = end) is inside when covered
    touches = (F.col("l.end_ts") > F.col("l.start_ts")) & (
        (F.col("u.start_ts") == F.col("l.end_ts")) | (F.col("u.end_ts") == F.col("l.start_ts")))
    overlap = ((F.col("u.device_id") == F.col("l.device_id")) & (F.col("u.start_ts") <= F.col("l.end_ts"))
               & (F.col("u.end_ts") >= F.col("l.start_ts")) & ~touches & applies & (F.col("l.label") == "Anomaly"))
    by_time = (u.join(intervals.alias("l"), overlap).select("u.unit_kind", "u.unit_id").distinct()
               .withColumn("by_time", F.lit(1)))
    # unit kinds the interval labels speak about: their units without an overlap are normal
    timed = intervals.select(F.col("unit_kind").alias("_k")).distinct()
    timed_all = intervals.where(F.col("unit_kind").isNull()).limit(1).count() > 0
    out = (units.select("unit_kind", "unit_id").join(by_key, ["unit_kind", "unit_id"], "left")
           .join(by_time, ["unit_kind", "unit_id"], "left"))
    if timed_all:
        described = F.lit(True)
    else:
        out = out.join(timed.withColumn("_timed", F.lit(True)), F.col("unit_kind") == F.col("_k"), "left")
        described = F.coalesce(F.col("_timed"), F.lit(False))
    truth = (F.when(F.col("by_key").isNotNull(), F.col("by_key") == 1)
             .when(F.col("by_time").isNotNull(), F.lit(True))
             .when(described, F.lit(False)))
    return out.select("unit_kind", "unit_id", truth.alias("truth")).where(F.col("truth").isNotNull())
