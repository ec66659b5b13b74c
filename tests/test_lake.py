"""The lake's guarantees on a real local Spark: atomic replace, write options per format, the format
marker, one writer at a time, one run_log row per stage run, and cleanup that stays in its own stage."""
import datetime as dt
import json
import os
import socket
import subprocess
import sys

import pytest
from pyspark.sql import functions as F

from logalyzer.catalog import Catalog, replace_where, write_plan
from logalyzer.errors import LakeFormatError, LakeLockedError
from logalyzer.ingest import run_ingest
from logalyzer.lakelock import LOCK_FILE, MARKER_FILE
from logalyzer.runlog import RUN_LOG_SCHEMA, stage_run

from test_ingest import DEV, LOGCAT, write_gz

TEMPLATES = "template_id string, template string, count long"


def said_to(lines):
    return lambda msg: lines.append(msg)


def leftovers(catalog, name):
    parent, leaf = catalog.path(name).rsplit("/", 1)
    return [n for n in os.listdir(parent) if n.startswith(leaf + ".__")]


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def write_lock(catalog, pid, stage, run_id, **details):
    os.makedirs(catalog.root, exist_ok=True)
    with open(os.path.join(catalog.root, LOCK_FILE), "w") as fh:
        json.dump({"pid": pid, "host": socket.gethostname(), "stage": stage, "run_id": run_id,
                   "started_at": "2026-12-01T10:00:00+00:00", "token": "t", "details": details}, fh)


# -- 6. the options each format's writes send ---------------------------------------------------------
def test_write_plan_sends_only_options_each_format_accepts():
    spec = {"partition_by": ["date"], "write_options": {"parquet.enable.dictionary#ts": False}}
    days = [(dt.date(2026, 11, 20),), (dt.date(2026, 11, 21),)]

    p = write_plan("parquet", "overwrite", spec)
    assert (p.mode, p.swap, p.options) == ("overwrite", True, {"parquet.enable.dictionary#ts": "False"})
    p = write_plan("parquet", "overwrite_partitions", spec)
    assert p.staged and p.options["partitionOverwriteMode"] == "dynamic" and "overwriteSchema" not in p.options
    assert write_plan("parquet", "append", spec).mode == "append"

    d = write_plan("delta", "overwrite", spec)
    assert d.options["overwriteSchema"] == "true" and not d.swap and d.options["partitionOverwriteMode"] == "static"
    d = write_plan("delta", "overwrite_partitions", spec, days)
    # Delta rejects overwriteSchema with a partition replace: replaceWhere names the partitions instead
    assert "overwriteSchema" not in d.options and "partitionOverwriteMode" not in d.options
    assert d.options["replaceWhere"] == "(`date` = DATE'2026-11-20') OR (`date` = DATE'2026-11-21')"
    assert d.mode == "overwrite" and not d.swap and not d.staged
    assert write_plan("delta", "append", spec).options == {"parquet.enable.dictionary#ts": "False"}
    with pytest.raises(ValueError, match="partition values"):
        write_plan("delta", "overwrite_partitions", spec)
    # an unpartitioned table's "partitions" are the whole table, on both formats
    assert write_plan("delta", "overwrite_partitions", {}).options["overwriteSchema"] == "true"
    assert write_plan("parquet", "overwrite_partitions", {}).swap
    assert replace_where(["kind", "day"], [("it's", None)]) == "(`kind` = 'it\\'s' AND `day` IS NULL)"


# -- 5. atomic replace -----------------------------------------------------------------------------
def test_an_overwrite_that_fails_midway_leaves_the_previous_table_whole(spark, catalog):
    from pyspark.sql.types import StringType

    before = [(f"t{i}", f"template {i}", i) for i in range(40)]
    catalog.overwrite("templates", spark.createDataFrame(before, TEMPLATES))

    @F.udf(StringType())
    def breaks_on_t33(template_id):
        if template_id == "t33":
            raise RuntimeError("injected: the write fails part-way")
        return template_id

    # evaluated over 4 partitions: some tasks write their files before one fails
    failing = catalog.read("templates").repartition(4).withColumn("template_id", breaks_on_t33("template_id"))
    with pytest.raises(Exception, match="injected"):
        catalog.overwrite("templates", failing)
    with pytest.raises(Exception, match="injected"):
        catalog.merge("templates", failing, ["template_id"])
    assert sorted(tuple(r) for r in catalog.read("templates").collect()) == sorted(before)

    # a failure between the renames of the swap (the old copy moved aside, the new one not yet in)
    def dies(step):
        if step == "moved_aside":
            raise RuntimeError("injected between the renames")

    catalog._fault = dies
    with pytest.raises(RuntimeError, match="between the renames"):
        catalog.overwrite("templates", spark.createDataFrame([("n", "new", 1)], TEMPLATES))
    catalog._fault = None
    assert sorted(tuple(r) for r in catalog.read("templates").collect()) == sorted(before)
    assert leftovers(catalog, "templates") == []

    catalog.overwrite("templates", spark.createDataFrame([("n", "new", 1)], TEMPLATES))
    assert [tuple(r) for r in catalog.read("templates").collect()] == [("n", "new", 1)]
    assert leftovers(catalog, "templates") == []


def test_a_swap_cut_short_by_a_killed_process_is_put_right_on_next_open(spark, catalog, conf):
    catalog.overwrite("drain_state", spark.createDataFrame([("a", "b", 1)], TEMPLATES))
    path = catalog.path("drain_state")
    # what a process killed between the two renames leaves: the table moved aside, a staging copy
    os.rename(path, path + ".__old__dead0001")
    catalog.overwrite("templates", spark.createDataFrame([("x", "y", 2)], TEMPLATES))
    os.rename(catalog.path("templates"), path + ".__staging__dead0001")
    os.makedirs(catalog.path("templates") + ".__staging__dead0002")     # and a write that never finished
    write_lock(catalog, dead_pid(), "templates", "templates-dead")

    reopened = Catalog(spark, conf)
    assert [tuple(r) for r in reopened.read("drain_state").collect()] == [("a", "b", 1)]
    assert leftovers(reopened, "drain_state") == [] and leftovers(reopened, "templates") == []
    assert not os.path.exists(os.path.join(reopened.root, LOCK_FILE))
    killed = reopened.read("run_log").where("run_id = 'templates-dead'").collect()
    assert [r.status for r in killed] == ["killed"]


# -- 7. the lake records its format ------------------------------------------------------------------
def test_the_lake_records_its_format_and_another_setting_fails_clearly(spark, catalog, conf):
    from logalyzer.config import deep_merge

    assert not os.path.exists(os.path.join(catalog.root, MARKER_FILE))    # opening writes nothing
    catalog.append("run_log", spark.createDataFrame([], RUN_LOG_SCHEMA))
    with open(os.path.join(catalog.root, MARKER_FILE)) as fh:
        assert json.load(fh)["format"] == "parquet"
    with pytest.raises(LakeFormatError, match=r"holds parquet tables .*_logalyzer_lake\.json.*lake\.format is 'delta'"):
        Catalog(spark, deep_merge(conf, {"lake": {"format": "delta"}}))
    assert Catalog(spark, deep_merge(conf, {"lake": {"format": "parquet"}})).format == "parquet"

    with open(os.path.join(catalog.root, MARKER_FILE), "w") as fh:
        json.dump({"format": "delta"}, fh)
    with pytest.raises(LakeFormatError, match="holds Delta tables but the Delta Lake jar is not on the classpath"):
        Catalog(spark, conf)


def test_a_lake_written_before_markers_keeps_its_format(spark, catalog, conf):
    from logalyzer.config import deep_merge

    catalog.append("run_log", spark.createDataFrame([], RUN_LOG_SCHEMA))
    os.remove(os.path.join(catalog.root, MARKER_FILE))
    with pytest.raises(LakeFormatError, match="holds parquet tables"):
        Catalog(spark, deep_merge(conf, {"lake": {"format": "delta"}}))


# -- 8 and 9. one writer at a time; cleanup of a killed run; one run_log row per run ------------------
def test_a_second_writer_stops_and_a_dead_writers_lock_is_taken_over(spark, catalog, conf, tmp_path):
    # Ingest run A is at work in another process: its lines are in log_lines (and a templates run
    # already made events of them), its manifest rows not yet.
    a_rows = spark.createDataFrame([(DEV, dt.date(2026, 11, 20), "ingest-A", 1)],
                                   "device_id string, date date, run_id string, line_no int")
    catalog.append("log_lines", a_rows)
    catalog.append("events", a_rows)
    catalog.append("run_log", spark.createDataFrame(
        [("ingest-A", "ingest", dt.datetime(2026, 12, 1, 10), None, "running", "x", {}, "{}")], RUN_LOG_SCHEMA))
    alive = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        write_lock(catalog, alive.pid, "ingest", "ingest-A")
        write_gz(tmp_path / "in" / f"{DEV}_20261121_00.log.gz", [LOGCAT[0].replace("11-20", "11-21")])
        with pytest.raises(LakeLockedError, match=r"in use by `ingest` \(run ingest-A, pid \d+ on .*wait until it ends"):
            run_ingest(spark, catalog, conf, str(tmp_path / "in"), progress=lambda m: None)
        assert catalog.read("log_lines").where("run_id = 'ingest-A'").count() == 1     # A's work untouched
    finally:
        alive.kill()
        alive.wait()

    said = []       # A's process is gone now: its lock is stale
    counts = run_ingest(spark, catalog, conf, str(tmp_path / "in"), progress=said_to(said))
    assert counts["lines_loaded"] == 1
    assert any("ingest run ingest-A was killed" in s for s in said)
    assert catalog.read("log_lines").where("run_id = 'ingest-A'").count() == 0          # ingest cleaned its own
    assert catalog.read("events").where("run_id = 'ingest-A'").count() == 1             # silver is not ingest's
    statuses = sorted(r.status for r in catalog.read("run_log").where("run_id = 'ingest-A'").collect())
    assert statuses == ["killed", "running"]      # `running`: as a lake written by an older version has it
    assert not os.path.exists(os.path.join(catalog.root, LOCK_FILE))


def test_a_failed_run_undoes_its_writes_and_the_next_one_announces_nothing(spark, catalog, conf, tmp_path):
    from logalyzer.ingest.files import InputNotFoundError

    with pytest.raises(InputNotFoundError):
        run_ingest(spark, catalog, conf, str(tmp_path / "missing"), progress=lambda m: None)

    class ManifestWriteFails(Exception):
        pass

    class FailingManifest(Catalog):
        def append(self, name, df):
            if name == "ingest_manifest":
                raise ManifestWriteFails("disk full")
            super().append(name, df)

    write_gz(tmp_path / "in" / f"{DEV}_20261120_00.log.gz", LOGCAT + ["garbage"])
    with pytest.raises(ManifestWriteFails):
        run_ingest(spark, FailingManifest(spark, conf), conf, str(tmp_path / "in"), progress=lambda m: None)
    assert not catalog.exists("log_lines") or catalog.read("log_lines").count() == 0     # undone by the run itself
    assert not catalog.exists("quarantine") or catalog.read("quarantine").count() == 0

    said = []
    counts = run_ingest(spark, catalog, conf, str(tmp_path / "in"), progress=said_to(said))
    assert counts["lines_loaded"] == 4 and catalog.read("log_lines").count() == 4
    assert not [s for s in said if "roll" in s]
    runs = catalog.read("run_log").groupBy("run_id").agg(F.collect_list("status").alias("s")).collect()
    assert sorted(r.s[0] for r in runs) == ["failed", "failed", "succeeded"] and all(len(r.s) == 1 for r in runs)


def test_every_stage_run_writes_one_row_with_its_final_status(spark, catalog, conf, tmp_path):
    from logalyzer.sessions.pipeline import run_sessions
    from logalyzer.templates.pipeline import run_templates

    write_gz(tmp_path / "in" / f"{DEV}_20261120_00.log.gz", LOGCAT)
    run_ingest(spark, catalog, conf, str(tmp_path / "in"), progress=lambda m: None)
    run_templates(spark, catalog, conf, progress=lambda m: None)
    run_sessions(spark, catalog, conf, progress=lambda m: None)
    with pytest.raises(ZeroDivisionError):
        with stage_run(catalog, "labels") as run:
            run.counts = {"labels": 1 // 0}
    log = catalog.read("run_log")
    per_run = log.groupBy("run_id", "stage").agg(F.count(F.lit(1)).alias("rows"), F.first("status").alias("status"))
    got = sorted((r.stage, r.rows, r.status) for r in per_run.collect())
    assert got == [("ingest", 1, "succeeded"), ("labels", 1, "failed"), ("sessions", 1, "succeeded"),
                   ("templates", 1, "succeeded")]
    failed = log.where("stage = 'labels'").first()
    assert "ZeroDivisionError" in json.loads(failed.details)["error"] and failed.finished_at >= failed.started_at
    assert not os.path.exists(os.path.join(catalog.root, LOCK_FILE))
