"""The table API behaves the same whatever the storage format."""
import pytest

from logalyzer.catalog import TableNotFoundError


def test_missing_table_is_a_clear_error(catalog):
    with pytest.raises(TableNotFoundError, match="logalyzer ingest"):
        catalog.read("log_lines")


def test_append_overwrite_merge(spark, catalog):
    df = spark.createDataFrame([("a", 1), ("b", 2)], "k string, v int")
    catalog.append("run_log", df)
    catalog.append("run_log", df)
    assert catalog.read("run_log").count() == 4
    catalog.overwrite("run_log", df)
    assert catalog.read("run_log").count() == 2
    catalog.merge("run_log", spark.createDataFrame([("b", 20), ("c", 3)], "k string, v int"), keys=["k"])
    assert sorted(map(tuple, catalog.read("run_log").collect())) == [("a", 1), ("b", 20), ("c", 3)]


def test_overwrite_only_present_partitions(spark, catalog):
    rows = [("2026-11-20", "x"), ("2026-11-21", "y")]
    df = spark.createDataFrame(rows, "d string, v string").selectExpr("to_date(d) as date", "v")
    catalog.append("log_lines", df)
    new = spark.createDataFrame([("2026-11-21", "z")], "d string, v string").selectExpr("to_date(d) as date", "v")
    catalog.overwrite("log_lines", new, partitions_only=True)
    got = sorted((str(r.date), r.v) for r in catalog.read("log_lines").collect())
    assert got == [("2026-11-20", "x"), ("2026-11-21", "z")]


def test_delete_rewrites_only_touched_partitions_and_drops_an_emptied_table(spark, catalog):
    df = spark.createDataFrame([("a", "x", 1), ("a", "y", 2), ("b", "x", 3)], "part string, run string, v int")
    spec = {"path": "t_delete", "partition_by": ["part"]}
    catalog.tables = {**catalog.tables, "t_delete": spec}
    catalog.append("t_delete", df)
    assert catalog.delete("t_delete", "run = 'x'") == 2
    assert [tuple(r) for r in catalog.read("t_delete").select("part", "run", "v").collect()] == [("a", "y", 2)]
    assert catalog.delete("t_delete", "run = 'nothing'") == 0
    assert catalog.delete("t_delete", "run = 'y'") == 1
    assert not catalog.exists("t_delete")
    assert catalog.delete("t_delete", "run = 'y'") == 0
