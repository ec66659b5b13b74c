"""The job's session pins what the parsers rely on, and logalyzer.jvm's fallbacks agree with its JVM paths."""
from __future__ import annotations

import os

import pytest

from pyspark.sql import functions as F

from logalyzer import jvm
from logalyzer.spark import PINNED_SQL_CONF, build_spark


def test_built_session_has_the_pinned_settings(spark, base_conf):
    assert spark.conf.get("spark.sql.ansi.enabled") == "false"
    assert spark.conf.get("spark.sql.legacy.timeParserPolicy") == "CORRECTED"
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"


def test_pins_override_a_cluster_session_that_said_otherwise(spark, base_conf):
    """On Databricks/EMR getOrCreate returns the cluster's session: its ANSI mode must not survive."""
    spark.conf.set("spark.sql.ansi.enabled", "true")
    spark.conf.set("spark.sql.legacy.timeParserPolicy", "EXCEPTION")
    spark.conf.set("spark.sql.session.timeZone", "America/New_York")
    try:
        again = build_spark("logalyzer-tests", base_conf)
        assert again is spark or again.sparkContext is spark.sparkContext
        for key, value in PINNED_SQL_CONF.items():
            assert again.conf.get(key) == value, key
        # what the pins are for: a malformed value is NULL (-> quarantine), not a failed job
        row = again.range(1).select(F.to_timestamp(F.lit("20-11 99:99"), "MM-dd HH:mm").alias("ts"),
                                    F.lit("x1").cast("int").alias("n")).first()
        assert row["ts"] is None and row["n"] is None
    finally:
        for key, value in PINNED_SQL_CONF.items():
            spark.conf.set(key, value)


def test_jvm_gateway_and_fallbacks_agree(spark, tmp_path):
    assert jvm.has_jvm(spark)
    folder = tmp_path / "in" / "2026-11-20"
    folder.mkdir(parents=True)
    (folder / "a.log").write_text("one\ntwo\n")
    (folder / "b.log").write_text("three\n")
    for path in (str(tmp_path / "in"), str(folder / "a.log")):
        assert jvm.path_exists(spark, path) and jvm._path_exists_by_scan(spark, path)
    missing = str(tmp_path / "nope")
    assert not jvm.path_exists(spark, missing) and not jvm._path_exists_by_scan(spark, missing)

    listed = jvm.list_files(spark, str(tmp_path / "in"))
    assert [(os.path.basename(p), n) for p, n, _ in listed] == [("a.log", 8), ("b.log", 6)]
    rows = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(str(tmp_path / "in"))
            .select("path", "length").collect())  # the fallback's scan, on the same files
    assert sorted((os.path.basename(r["path"]), r["length"]) for r in rows) == [("a.log", 8), ("b.log", 6)]
    # the name glob (Hadoop's {a,b} too) and hidden names: the same answer through the JVM and the scan
    other = tmp_path / "other"
    other.mkdir()
    for name in ("c.log", "d.gz", "e.txt", "_SUCCESS", ".f.log"):
        (other / name).write_text("x\n")
    for lister in (jvm.list_files, jvm._list_files_by_scan):
        assert [os.path.basename(p) for p, _, _ in lister(spark, str(other), "*.{log,gz}")] == ["c.log", "d.gz"]
        with pytest.raises(FileNotFoundError):
            lister(spark, missing, "*")

    assert jvm.delete_path(spark, str(folder)) and not folder.exists()
    assert not jvm.delete_path(spark, str(folder))


def test_classpath_checks(spark):
    assert jvm.class_available(spark, "org.apache.spark.sql.SparkSession")
    assert not jvm.class_available(spark, "com.example.NoSuchClass")
    assert jvm.default_parallelism(spark) >= 1

