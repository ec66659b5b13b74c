"""Publish against a real PostgreSQL server (a private cluster started for the test session).

Round trip of every table with both writers, re-publish idempotency, incremental dates, a writer
killed mid-way and a publisher killed inside its transaction (previous rows intact), bad URL or
password, columns drifted from the migrations, and `db upgrade/status`. Outside CI these skip when
the server binaries are missing; under CI (CI set) that is a failure.
"""
from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from logalyzer.config import deep_merge
from logalyzer.publish.connection import PublishError, connect

ROOT = Path(__file__).resolve().parent.parent

ANOMALY_SCORES_SCHEMA = (
    "unit_kind string, unit_id string, device_id string, start_ts timestamp, end_ts timestamp, detector string, "
    "score double, threshold double, flagged boolean, reason string, model_name string, model_version string, "
    "run_id string, scored_at timestamp, date date")
ANOMALIES_CONSOLIDATED_SCHEMA = (
    "unit_kind string, unit_id string, device_id string, start_ts timestamp, end_ts timestamp, "
    "detectors array<string>, scores map<string,double>, reasons map<string,string>, models map<string,string>, "
    "severity double, run_id string, scored_at timestamp, date date")
ANOMALY_TABLES = {"anomaly_scores": {"path": "gold/anomaly_scores", "partition_by": ["date"]},
                  "anomalies_consolidated": {"path": "gold/anomalies_consolidated", "partition_by": ["date"]}}
LINEAGE_SCHEMA = "old_id string, new_id string, old_template string, new_template string, changed_at timestamp"


# -- the server: fixtures pg_server / pg in tests/pg_fixtures.py (shared through conftest.py) ----------
from tests.pg_fixtures import query  # noqa: E402


# -- the lake ------------------------------------------------------------------------------------------
def anomaly_frames(spark, sessions_rows):
    """anomaly_scores and anomalies_consolidated rows with the agreed schemas, from real session ids."""
    scores, consolidated = [], []
    tricky = ['plain', 'quote " comma , newline \n tab \t backslash \\', 'unicode äöü ✓', '', None, "nul\x00byte"]
    for i, s in enumerate(sessions_rows):
        kind = ("session", "id", "fixed", "sliding")[i % 4]
        flagged = {}
        for j, det in enumerate(("deeplog", "autoencoder")):
            score = float("nan") if i == 3 and j == 0 else round(0.1 * ((i + j) % 17), 3)
            flag = (i + j) % 5 == 0
            scores.append((kind, s.session_id, s.device_id, s.start_ts, s.end_ts, det, score, 0.9, flag,
                           tricky[(i + j) % len(tricky)], f"{det}-model", str(1 + j), "score-run-1",
                           dt.datetime(2026, 11, 22, 3, 4, 5, 123456), s.date))
            if flag:
                flagged[det] = score
        if flagged:
            consolidated.append((kind, s.session_id, s.device_id, s.start_ts, s.end_ts, sorted(flagged),
                                 {d: v for d, v in flagged.items() if not math.isnan(v)},
                                 {d: f"{d} says why" for d in flagged}, {d: f"{d}-model/1" for d in flagged},
                                 max(flagged.values()) / 0.9, "score-run-1", dt.datetime(2026, 11, 22, 3, 4, 5), s.date))
    return (spark.createDataFrame(scores, ANOMALY_SCORES_SCHEMA),
            spark.createDataFrame(consolidated, ANOMALIES_CONSOLIDATED_SCHEMA))


@pytest.fixture(scope="module")
def gold_lake(spark, base_conf, tmp_path_factory):
    """A lake with every gold table: the real pipeline on a small fleet, plus generated anomaly tables."""
    from logalyzer.catalog import Catalog
    from logalyzer.generate import generate_fleet
    from logalyzer.ingest import run_ingest
    from logalyzer.sessions.pipeline import run_sessions
    from logalyzer.templates.pipeline import run_templates

    root = tmp_path_factory.mktemp("gold")
    generate_fleet(str(root / "fleet"), devices=2, days=2, seed=5, lines_per_device_day=1200)
    conf = deep_merge(base_conf, {"lake": {"root": str(root / "lake")}, "tables": ANOMALY_TABLES})
    catalog = Catalog(spark, conf)
    quiet = lambda *_: None  # noqa: E731
    run_ingest(spark, catalog, conf, str(root / "fleet"), progress=quiet)
    run_templates(spark, catalog, conf, progress=quiet)
    run_sessions(spark, catalog, conf, progress=quiet)
    scores, consolidated = anomaly_frames(spark, catalog.read("sessions").orderBy("session_id").limit(60).collect())
    catalog.overwrite("anomaly_scores", scores)
    catalog.overwrite("anomalies_consolidated", consolidated)
    if not catalog.exists("template_lineage"):
        lineage = [("t1", "t2", "a <*> b", "<*> <*> b", dt.datetime(2026, 11, 21, 1, 2, 3)),
                   ("t3", "t2", "c, \"d\"", "<*> <*> b", None)]
        catalog.overwrite("template_lineage", spark.createDataFrame(lineage, LINEAGE_SCHEMA))
    return root / "lake"


@pytest.fixture
def lake(gold_lake, tmp_path, spark, base_conf):
    """A private copy of the gold lake (tests change it) with its conf and catalog."""
    from logalyzer.catalog import Catalog

    root = tmp_path / "lake"
    shutil.copytree(gold_lake, root)
    conf = deep_merge(base_conf, {"lake": {"root": str(root)}, "tables": ANOMALY_TABLES,
                                  "project": {"work_dir": str(tmp_path / "work")}})
    return conf, Catalog(spark, conf)


# -- comparing lake and PostgreSQL rows ------------------------------------------------------------------
def _norm(value, json_text=False):
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc)   # naive Spark values are local time
    if isinstance(value, str):
        return json.loads(value) if json_text else value.replace("\x00", "")
    if isinstance(value, dict):
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _key(row: dict) -> str:
    return json.dumps(row, default=str, sort_keys=True)


def lake_rows(df, json_cols=()):
    return sorted(({c: _norm(v, c in json_cols) for c, v in r.asDict(recursive=True).items()} for r in df.collect()),
                  key=_key)


def pg_rows(target, table, columns):
    cols = ", ".join(f'"{c}"' for c in columns)
    out = query(target, f'SELECT {cols} FROM "{target.schema}"."{table}"')
    return sorted(({c: _norm(v) for c, v in zip(columns, r)} for r in out), key=_key)


def expected_frames(catalog):
    from logalyzer.publish.tables import devices_from_sessions

    frames = {t: catalog.read(t) for t in ("sessions", "device_timeseries", "event_sequences", "templates",
                                            "template_lineage", "anomaly_scores", "anomalies_consolidated")}
    frames["devices"] = devices_from_sessions(frames["sessions"])
    frames["pipeline_runs"] = catalog.read("run_log")
    return frames


JSON_TEXT = {"sessions": ("summary",), "pipeline_runs": ("details",)}


def assert_same_as_lake(catalog, target, tables=None):
    for table, df in expected_frames(catalog).items():
        if tables and table not in tables:
            continue
        if table == "pipeline_runs":    # publish appends its own run after publishing run_log
            continue
        want = lake_rows(df, JSON_TEXT.get(table, ()))
        got = pg_rows(target, table, df.columns)
        assert len(got) == len(want), table
        assert got == want, f"{table} differs from the lake"


# -- tests -------------------------------------------------------------------------------------------------
def run(spark, catalog, conf, target, **kw):
    from logalyzer.publish import run_publish

    messages = []
    counts = run_publish(spark, catalog, conf, target=target, progress=messages.append, **kw)
    return counts, messages


@pytest.mark.parametrize("writer,encoding,tables", [
    ("copy", "binary", None), ("jdbc", None, None),
    ("copy", "csv", ["sessions", "event_sequences", "template_lineage", "anomaly_scores", "anomalies_consolidated"]),
])
def test_round_trip_of_every_table(spark, lake, pg, writer, encoding, tables):
    conf, catalog = lake
    conf = deep_merge(conf, {"publish": {"writer": writer, "copy": {"encoding": encoding}}})
    counts, messages = run(spark, catalog, conf, pg, tables=tables)
    assert all(v.endswith("rows") for v in counts.values()), counts
    assert_same_as_lake(catalog, pg, tables=tables)
    # maps and arrays are jsonb and arrays in PostgreSQL, not strings
    types = dict(query(pg, "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                           "WHERE table_schema = %s", (pg.schema,)))
    assert types["sessions.event_counts"] == "jsonb" and types["sessions.source_files"] == "ARRAY"
    assert types["sessions.summary"] == "jsonb" and types["event_sequences.template_seq"] == "ARRAY"
    assert types["anomalies_consolidated.scores"] == "jsonb" and types["anomaly_scores.start_ts"].startswith(
        "timestamp with time zone")
    got = query(pg, f'SELECT event_counts ? %s, jsonb_typeof(summary) FROM "{pg.schema}".sessions '
                    "WHERE event_counts <> '{}'::jsonb LIMIT 1", ("CHANGE_CONTENT",))
    assert got and got[0][1] == "object"
    if tables is None:
        runs = query(pg, f'SELECT count(*) FROM "{pg.schema}".pipeline_runs')[0][0]
        assert runs == catalog.read("run_log").count() - 1
    nul = query(pg, f"SELECT reason FROM \"{pg.schema}\".anomaly_scores WHERE reason LIKE 'nul%%'")
    assert nul and nul[0][0] == "nulbyte"         # PostgreSQL text cannot hold U+0000: stripped, not a failure


def test_republish_replaces_and_only_changed_dates_are_written(spark, lake, pg):
    from pyspark.sql import functions as F

    conf, catalog = lake
    run(spark, catalog, conf, pg)
    again, messages = run(spark, catalog, conf, pg)
    assert {k: v for k, v in again.items() if k != "pipeline_runs"} == {
        k: "up to date" for k in again if k != "pipeline_runs"}
    full, _ = run(spark, catalog, conf, pg, full=True, tables=["sessions", "devices"])
    assert full["sessions"] == f"{catalog.read('sessions').count():,} rows"
    assert_same_as_lake(catalog, pg, tables=["sessions", "devices"])       # replaced, never duplicated

    dates = sorted(r.date for r in catalog.read("sessions").select("date").distinct().collect())
    first, last = dates[0], dates[-1]
    before = dict(query(pg, f'SELECT date, min(xmin::text) FROM "{pg.schema}".sessions GROUP BY date'))
    # the sessions stage rewrites two dates; only one of them really changes
    sessions = catalog.read("sessions").where(F.col("date").isin([first, last])).localCheckpoint()
    changed = sessions.withColumn("crashes", F.when(F.col("date") == last, F.col("crashes") + 7)
                                  .otherwise(F.col("crashes")))
    catalog.overwrite("sessions", changed, partitions_only=True)
    counts, messages = run(spark, catalog, conf, pg, tables=["sessions"])
    n_last = catalog.read("sessions").where(F.col("date") == last).count()
    assert counts["sessions"] == f"{n_last:,} rows"
    assert any("1 date(s)" in m for m in messages)
    after = dict(query(pg, f'SELECT date, min(xmin::text) FROM "{pg.schema}".sessions GROUP BY date'))
    assert after[first] == before[first] and after[last] != before[last]   # the first date's rows untouched
    assert_same_as_lake(catalog, pg, tables=["sessions"])
    assert run(spark, catalog, conf, pg, tables=["sessions"])[0]["sessions"] == "up to date"

    # a date that disappears from the lake disappears from PostgreSQL; a new date is added alone
    scores = catalog.read("anomaly_scores").localCheckpoint()
    new_day = scores.where(F.col("date") == last).withColumn("date", F.lit(dt.date(2030, 1, 1))) \
        .withColumn("unit_id", F.concat(F.col("unit_id"), F.lit("-new")))
    catalog.overwrite("anomaly_scores", scores.where(F.col("date") != first).unionByName(new_day))
    counts, _ = run(spark, catalog, conf, pg, tables=["anomaly_scores"])
    assert counts["anomaly_scores"] == f"{new_day.count():,} rows"     # the other date's rows did not change
    assert_same_as_lake(catalog, pg, tables=["anomaly_scores"])


def test_writer_killed_midway_leaves_previous_rows(spark, lake, pg):
    from pyspark.sql import functions as F

    from logalyzer.publish.writers import CopyWriter

    conf, catalog = lake
    run(spark, catalog, conf, pg, tables=["device_timeseries"])
    before = pg_rows(pg, "device_timeseries", catalog.read("device_timeseries").columns)
    state = query(pg, f'SELECT * FROM "{pg.schema}".publish_state ORDER BY part')
    ts = catalog.read("device_timeseries").localCheckpoint()
    catalog.overwrite("device_timeseries", ts.withColumn("n_lines", F.col("n_lines") + 1))
    with pytest.raises(PublishError) as err:
        run(spark, catalog, conf, pg, tables=["device_timeseries"], writer=CopyWriter(kill_after_batches=1))
    assert "copy writer failed" in str(err.value) and "\n" not in str(err.value)
    assert pg_rows(pg, "device_timeseries", ts.columns) == before
    assert query(pg, f'SELECT * FROM "{pg.schema}".publish_state ORDER BY part') == state
    assert not query(pg, "SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE '\\_stage%%'",
                     (pg.schema,))
    run(spark, catalog, conf, pg, tables=["device_timeseries"])
    assert_same_as_lake(catalog, pg, tables=["device_timeseries"])


def _cli_args(lake_conf, target, pgpass):
    conf, _ = lake_conf
    return ["--lake", conf["lake"]["root"], "--master", "local[2]",
            "--set", f"publish.url=postgresql://{target.user}@{target.host}:{target.port}/{target.dbname}",
            "--set", f"publish.password_file={pgpass}", "--set", f"publish.schema={target.schema}"]


def test_publisher_killed_inside_its_transaction_leaves_previous_rows(spark, lake, pg, pg_server, tmp_path):
    from pyspark.sql import functions as F

    server, _ = pg_server
    conf, catalog = lake
    run(spark, catalog, conf, pg, tables=["sessions"])
    before = pg_rows(pg, "sessions", catalog.read("sessions").columns)
    sessions = catalog.read("sessions").localCheckpoint()
    catalog.overwrite("sessions", sessions.withColumn("crashes", F.col("crashes") + 1))
    env = dict(os.environ, LOGALYZER_PUBLISH_HANG_AT="swap", PYTHONUNBUFFERED="1")
    cmd = [sys.executable, "-m", "logalyzer.cli", "publish", "sessions", *_cli_args(lake, pg, server.pgpass)]
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        seen = []
        for line in proc.stderr:     # wait until it has deleted and inserted, uncommitted
            seen.append(line)
            if "hanging at swap" in line:
                break
        assert any("hanging at swap" in s for s in seen), "".join(seen[-20:])
        inside = query(pg, "SELECT count(*) FROM pg_stat_activity WHERE state = 'idle in transaction' "
                           "AND application_name = 'logalyzer'")[0][0]
        assert inside >= 1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    assert pg_rows(pg, "sessions", sessions.columns) == before
    counts, messages = run(spark, catalog, conf, pg, tables=["sessions"])
    assert any("interrupted publish" in m for m in messages)
    assert_same_as_lake(catalog, pg, tables=["sessions"])


def test_bad_url_password_and_drift_are_one_line_errors(spark, lake, pg, pg_server, tmp_path, capsys, caplog):
    from pyspark.sql import functions as F

    from logalyzer import cli

    server, _ = pg_server
    args = _cli_args(lake, pg, server.pgpass)
    wrong = tmp_path / "wrong"
    wrong.write_text("NotThePassword-42\n")
    cases = [
        (["--set", f"publish.password_file={wrong}"], 1, "password authentication failed"),
        (["--set", "publish.url=postgresql://logalyzer@127.0.0.1:1/logalyzer"], 1, "Connection refused"),
        (["--set", "publish.url=postgresql://logalyzer@127.0.0.1:port/x"], 2, "not a valid PostgreSQL URL"),
        (["--set", "publish.url=mysql://x@y/z"], 2, "not a PostgreSQL URL"),
    ]
    for extra, code, words in cases:
        assert cli.main(["publish", "sessions", *args, *extra]) == code, extra
        out, err = capsys.readouterr()
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and words in lines[0], err
        assert "Traceback" not in out + err
        for secret in ("NotThePassword-42", server.password()):
            assert secret not in out + err + caplog.text

    conf, catalog = lake
    sessions = catalog.read("sessions").localCheckpoint()
    catalog.overwrite("sessions", sessions.withColumn("rebuffer_events", F.lit(1)))
    assert cli.main(["publish", "sessions", *args]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "sessions.rebuffer_events" in err[0] and "migration" in err[0], err
    catalog.overwrite("sessions", sessions)
    query(pg, f'ALTER TABLE "{pg.schema}".sessions ALTER COLUMN n_files TYPE smallint')
    assert cli.main(["publish", "sessions", *args]) == 1
    err = capsys.readouterr().err
    assert "sessions.n_files is int in the lake but smallint" in err


def test_missing_lake_tables_are_skipped_with_their_producer(spark, pg, base_conf, tmp_path):
    from logalyzer.catalog import Catalog

    conf = deep_merge(base_conf, {"lake": {"root": str(tmp_path / "empty")}, "tables": ANOMALY_TABLES})
    counts, messages = run(spark, Catalog(spark, conf), conf, pg, tables=["anomaly_scores", "sessions"])
    assert counts == {"sessions": "skipped", "anomaly_scores": "skipped"}
    assert any("anomaly_scores" in m and "logalyzer score" in m for m in messages)
    # without a catalog entry at all (the lake has never heard of it) it is skipped the same way
    conf2 = deep_merge(base_conf, {"lake": {"root": str(tmp_path / "empty")}})
    assert run(spark, Catalog(spark, conf2), conf2, pg, tables=["anomalies_consolidated"])[0] == {
        "anomalies_consolidated": "skipped"}


def test_db_upgrade_status_and_a_changed_migration(pg, pg_server, tmp_path, capsys):
    from logalyzer import cli
    from logalyzer.publish.migrations import MigrationError, load_migrations, status, upgrade

    server, _ = pg_server
    args = ["--set", f"publish.url=postgresql://{pg.user}@{pg.host}:{pg.port}/{pg.dbname}",
            "--set", f"publish.password_file={server.pgpass}", "--set", f"publish.schema={pg.schema}"]
    assert cli.main(["db", "status", *args]) == 0
    assert "pending: run `logalyzer db upgrade`" in capsys.readouterr().out
    assert cli.main(["db", "upgrade", *args]) == 0
    out = capsys.readouterr().out
    assert "0001  pipeline_tables" in out and "applied 20" in out and "pending" not in out
    assert cli.main(["db", "upgrade", *args]) == 0
    assert "schema is up to date" in capsys.readouterr().out

    folder = tmp_path / "migs"
    folder.mkdir()
    for m in load_migrations():
        shutil.copy(m.path, folder / m.path.name)
    # numbered after the last shipped migration, so new migrations never collide with it
    broken = folder / f"{max(m.version for m in load_migrations()) + 1:04d}_broken.sql"
    broken.write_text("CREATE TABLE half_done (x int);\nSELECT * FROM no_such_table;")
    conn = connect(pg)
    try:
        with pytest.raises(MigrationError, match=f"{broken.name} failed and was rolled back"):
            upgrade(conn, pg.schema, load_migrations(folder))
        assert query(pg, "SELECT to_regclass(%s)", (f'"{pg.schema}".half_done',))[0][0] is None
        assert [e["state"] for e in status(conn, pg.schema, load_migrations(folder))][-1] == "pending"
        broken.unlink()
        (folder / "0001_pipeline_tables.sql").write_text("-- edited\n" + (folder / "0001_pipeline_tables.sql").read_text())
        with pytest.raises(MigrationError, match="changed after it was applied"):
            upgrade(conn, pg.schema, load_migrations(folder))
    finally:
        conn.close()


def test_run_publishes_into_a_private_cluster_or_says_why_not(spark, pg_server, tmp_path, capsys):
    """`logalyzer run` with no URL: skipped (exit 0) without server binaries, else a private cluster
    under project.work_dir is created, published into and explained; the next run reuses it."""
    from logalyzer import cli
    from logalyzer.generate import generate_fleet
    from logalyzer.publish.local_server import LocalPostgres

    fleet = tmp_path / "fleet"
    generate_fleet(str(fleet), devices=1, days=1, seed=9, lines_per_device_day=300)
    work = tempfile.mkdtemp(prefix="logalyzer-test-work-")   # reachable by the server's user under root
    os.chmod(work, 0o755)
    base = ["run", str(fleet), "--lake", str(tmp_path / "lake"), "--master", "local[2]",
            "--set", "publish.url=", "--set", f"project.work_dir={work}"]
    try:
        # run's last step, without server binaries: a one-line note, exit 0
        from logalyzer.config import load_config

        conf = load_config(overrides=["publish.url=", f"project.work_dir={work}",
                                      f"publish.local.bin_dir={tmp_path / 'nothing'}"])
        assert cli._run_publish(None, conf, spark, None) == 0
        out = capsys.readouterr().out
        assert out.strip() == ("publish: skipped: no database configured (LOGALYZER_DB_URL is not set) and no "
                               "PostgreSQL server binaries to start a local one (`apt-get install postgresql`)")

        assert cli.main(base) == 0
        out = capsys.readouterr().out
        server = LocalPostgres(Path(work) / "postgres")
        port = server.running_port()
        assert port and "PGPASSFILE=" in out and f"-p {port} -U logalyzer logalyzer" in out
        assert "publish summary" in out and "sessions" in out
        target = server.target(port)
        assert query(target, "SELECT count(*) FROM logalyzer.sessions")[0][0] > 0
        assert (Path(work) / "postgres" / "pgpass").stat().st_mode & 0o077 == 0    # the secret is private
        assert cli.main(["publish", "--lake", str(tmp_path / "lake"), "--set", "publish.url=",
                         "--set", f"project.work_dir={work}"]) == 0
        assert "up to date" in capsys.readouterr().out
    finally:
        LocalPostgres(Path(work) / "postgres").stop("immediate")
        shutil.rmtree(work, ignore_errors=True)


def test_work_dir_the_server_user_cannot_reach_is_a_clear_error(pg_server, tmp_path):
    from logalyzer.publish.local_server import LocalPostgres, LocalServerError

    if os.geteuid() != 0:
        pytest.skip("only as root does the server run as another user (postgres)")
    closed = Path(tempfile.mkdtemp(prefix="logalyzer-test-closed-"))   # mode 0700, like /root
    try:
        server = LocalPostgres(closed / "work" / "postgres")
        with pytest.raises(LocalServerError) as err:
            server.start()
        msg = str(err.value)
        assert f"{closed} is not searchable by other users" in msg and "project.work_dir" in msg
        assert not (closed / "work" / "postgres" / "data").exists()
    finally:
        shutil.rmtree(closed, ignore_errors=True)


def test_doctor_reports_server_binaries_and_jdbc_driver(pg_server, capsys, tmp_path):
    from logalyzer import cli

    assert cli.main(["doctor"]) in (0, 1)
    out = capsys.readouterr().out
    assert "postgres server 1" in out and "/bin" in out
    assert "jdbc     " in out
    cli.main(["doctor", "--set", f"publish.local.bin_dir={tmp_path}", "--set", "publish.url="])
    out = capsys.readouterr().out
    assert "postgres MISSING: no server binaries" in out and "will skip publishing" in out
