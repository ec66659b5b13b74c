"""Impact of field events: the difference in differences on hand-made rates (exact numbers), and end to
end: a generated fleet with one push that makes its devices worse and one that changes nothing, the
pushes recorded through the real service, the real ingest / templates / sessions stages, then
`logalyzer impact` into the lake and PostgreSQL. The worse push is found; for the other none is claimed.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import requests

from logalyzer.config import deep_merge
from logalyzer.field_events.impact import ImpactSettings, device_changes, did_table, event_windows
from tests.pg_fixtures import query

T0 = dt.datetime(2026, 11, 20, 12, 0)
EVENTS_SCHEMA = "event_id string, app_package string, version string, action string, event_time timestamp"
DEVICES_SCHEMA = "event_id string, device_id string, event_time timestamp"
RATES_SCHEMA = "event_id string, device_id string, metric string, period string, value double"


def _frames(spark, rates, events=(("e1", T0),), devices=None):
    ev = spark.createDataFrame([(e, "com.operator.player", "1", "update", t) for e, t in events], EVENTS_SCHEMA)
    dv = spark.createDataFrame(devices or [("e1", "T1", T0), ("e1", "T2", T0), ("e1", "T3", T0)], DEVICES_SCHEMA)
    rows = []
    for dev, before, after in rates:
        rows += [("e1", dev, "black_screen_rate", "before", before), ("e1", dev, "black_screen_rate", "after", after)]
    return ev, dv, spark.createDataFrame(rows, RATES_SCHEMA)


def test_did_and_its_welch_interval_are_exact(spark):
    from scipy.stats import t

    treated = [("T1", 1.0, 4.0), ("T2", 2.0, 4.0), ("T3", 1.0, 5.0)]        # changes 3, 2, 4
    control = [("C1", 1.0, 1.0), ("C2", 2.0, 3.0), ("C3", 1.0, 0.0), ("C4", 2.0, 2.0)]   # 0, 1, -1, 0
    ev, dv, rates = _frames(spark, treated + control)
    settings = ImpactSettings(window_hours=6, metrics=("black_screen_rate",), min_devices=3)
    changes = device_changes(rates, event_windows(ev, 6), dv)
    row = did_table(changes, ev, settings).collect()[0]
    assert (row.n_treated, row.n_control) == (3, 4)
    assert row.treated_before == pytest.approx(4 / 3) and row.treated_after == pytest.approx(13 / 3)
    assert row.control_before == pytest.approx(1.5) and row.control_after == pytest.approx(1.5)
    assert row.did == pytest.approx(3.0)
    a, b = 1.0 / 3, (2 / 3) / 4                       # var_samp of the changes / n
    df = (a + b) ** 2 / (a * a / 2 + b * b / 3)
    half = t.ppf(0.975, math.floor(df)) * math.sqrt(a + b)
    assert (row.ci_low, row.ci_high) == (pytest.approx(3 - half), pytest.approx(3 + half))
    assert row.verdict == "worse"


def test_no_change_better_and_insufficient_data(spark):
    settings = ImpactSettings(window_hours=6, metrics=("black_screen_rate",), min_devices=3)
    same = [("T1", 1.0, 1.2), ("T2", 2.0, 1.8), ("T3", 1.0, 1.1), ("C1", 1.0, 1.1), ("C2", 2.0, 1.9), ("C3", 1.5, 1.5)]
    better = [("T1", 3.0, 1.0), ("T2", 4.0, 1.0), ("T3", 3.0, 0.5), ("C1", 1.0, 1.1), ("C2", 2.0, 1.9), ("C3", 1.5, 1.5)]
    few = [("T1", 1.0, 4.0), ("T2", 2.0, 4.0), ("C1", 1.0, 1.0), ("C2", 2.0, 3.0), ("C3", 1.0, 0.0)]
    for rates, verdict in ((same, "no_change"), (better, "better"), (few, "insufficient_data")):
        ev, dv, r = _frames(spark, rates)
        row = did_table(device_changes(r, event_windows(ev, 6), dv), ev, settings).collect()[0]
        assert row.verdict == verdict, (verdict, row)
    # a tiny but consistent change is not claimed: under min_relative_change of the rate before
    tiny = [("T1", 10.0, 10.1), ("T2", 10.0, 10.11), ("T3", 10.0, 10.12), ("C1", 10.0, 10.0), ("C2", 10.0, 10.01),
            ("C3", 10.0, 9.99)]
    ev, dv, r = _frames(spark, tiny)
    row = did_table(device_changes(r, event_windows(ev, 6), dv), ev, settings).collect()[0]
    assert row.ci_low > 0 and row.verdict == "no_change"
    # an event with no data at all still gets its row
    ev, dv, r = _frames(spark, [])
    rows = did_table(device_changes(r, event_windows(ev, 6), dv), ev, settings).collect()
    assert [(x.event_id, x.n_treated, x.n_control, x.verdict) for x in rows] == [("e1", 0, 0, "insufficient_data")]


def test_devices_pushed_by_another_event_in_the_window_are_not_controls(spark):
    rates = [("T1", 1.0, 4.0), ("T2", 2.0, 4.0), ("T3", 1.0, 5.0), ("C1", 1.0, 1.0), ("C2", 2.0, 3.0),
             ("C3", 1.0, 0.0), ("X1", 1.0, 9.0)]
    devices = [("e1", "T1", T0), ("e1", "T2", T0), ("e1", "T3", T0),
               ("e2", "X1", T0 + dt.timedelta(hours=5)),      # inside e1's ±6 h: not a control of e1
               ("e3", "C1", T0 + dt.timedelta(hours=7))]      # outside: still a control
    ev, dv, r = _frames(spark, rates, devices=devices)
    changes = device_changes(r, event_windows(ev, 6), dv)
    roles = {(x.device_id, x.role) for x in changes.collect()}
    assert roles == {("T1", "treated"), ("T2", "treated"), ("T3", "treated"), ("C1", "control"), ("C2", "control"),
                     ("C3", "control")}


# -- end to end -------------------------------------------------------------------------------------------
WORSE_AT, NONE_AT = "2026-11-20T16:00:00Z", "2026-11-21T12:00:00Z"


@pytest.fixture(scope="module")
def fleet_lake(spark, base_conf, tmp_path_factory):
    """16 devices x 2 days with two pushes; the real ingest / templates / sessions stages; anomaly tables
    from a stand-in detector (a playback session with two or more BlackScreen / VideoFreeze is flagged),
    so no model needs training here."""
    from pyspark.sql import functions as F

    from logalyzer.catalog import Catalog
    from logalyzer.generate import generate_fleet
    from logalyzer.ingest import run_ingest
    from logalyzer.sessions.pipeline import run_sessions
    from logalyzer.templates.pipeline import run_templates

    root = tmp_path_factory.mktemp("impact")
    summary = generate_fleet(str(root / "fleet"), devices=16, days=2, seed=7, lines_per_device_day=1500,
                             bad_input=False, anomaly_rate=0,
                             pushes=[f"{WORSE_AT},0-5,worse", f"{NONE_AT},10-15,none"])
    conf = deep_merge(base_conf, {"lake": {"root": str(root / "lake")}, "project": {"work_dir": str(root / "work")}})
    catalog = Catalog(spark, conf)
    quiet = lambda *_: None  # noqa: E731
    run_ingest(spark, catalog, conf, str(root / "fleet"), progress=quiet)
    run_templates(spark, catalog, conf, progress=quiet)
    run_sessions(spark, catalog, conf, progress=quiet)
    s = catalog.read("sessions").where(F.col("n_var_events") > 0)
    glitches = F.col("black_screens") + F.col("video_freezes")
    scores = s.select(F.lit("session").alias("unit_kind"), F.col("session_id").alias("unit_id"), "device_id",
                      "start_ts", "end_ts", F.lit("stand-in").alias("detector"), glitches.cast("double").alias("score"),
                      F.lit(2.0).alias("threshold"), (glitches >= 2).alias("flagged"), F.lit(None).cast("string").alias("reason"),
                      F.lit("stand-in").alias("model_name"), F.lit("1").alias("model_version"), F.lit("r").alias("run_id"),
                      F.current_timestamp().alias("scored_at"), "date")
    catalog.overwrite("anomaly_scores", scores)
    consolidated = scores.where("flagged").select(
        "unit_kind", "unit_id", "device_id", "start_ts", "end_ts", F.array(F.lit("stand-in")).alias("detectors"),
        F.create_map(F.lit("stand-in"), F.col("score")).alias("scores"),
        F.create_map(F.lit("stand-in"), F.lit("glitches")).alias("reasons"),
        F.create_map(F.lit("stand-in"), F.lit("stand-in/1")).alias("models"), (F.col("score") / 2).alias("severity"),
        "run_id", "scored_at", "date")
    catalog.overwrite("anomalies_consolidated", consolidated)
    return conf, catalog, summary["push_files"]


def test_impact_finds_the_worse_push_and_claims_nothing_for_the_other(spark, fleet_lake, pg_server, tmp_path, capsys,
                                                                         monkeypatch):
    from logalyzer.cli import main
    from tests.test_field_events_service import TOKEN, Service

    conf, catalog, push_files = fleet_lake
    _, server_target = pg_server
    db = replace(server_target, schema="impact_" + Path(tmp_path).name[-8:].replace("-", "_").lower())
    svc = Service(db, tmp_path / "serve.log")
    svc.start()
    try:
        for path in push_files:                           # record the pushes as an operator would
            body = json.loads(Path(path).read_text())
            r = requests.post(svc.url + "/events", json=body, headers={"Authorization": f"Bearer {TOKEN}"})
            assert r.status_code == 201, r.text
    finally:
        svc.stop()

    lake_root = conf["lake"]["root"]
    monkeypatch.setenv("LOGALYZER_DB_URL", f"postgresql://{db.user}@{db.host}:{db.port}/{db.dbname}")
    monkeypatch.setenv("LOGALYZER_DB_PASSWORD", db.password)
    code = main(["impact", "--lake", lake_root, "--conf-dir", str(Path(__file__).resolve().parent.parent / "conf"),
                 "--env", "__tests_ignore_local__", "--set", f"publish.schema={db.schema}",
                 "--set", f"project.work_dir={tmp_path / 'work'}"])
    assert code == 0
    rows = query(db, f'SELECT event_id, metric, treated_before, treated_after, control_before, control_after, did, '
                     f'ci_low, ci_high, n_treated, n_control, verdict FROM "{db.schema}".field_event_impact '
                     'ORDER BY event_id, metric')
    lake_rows = catalog.read("field_event_impact").count()
    assert len(rows) == lake_rows == 8
    by = {(r[0], r[1]): r for r in rows}
    worse, none = "gen-push-7-0", "gen-push-7-1"
    with capsys.disabled():
        print("\nfield event impact (±6 h, 95%):")
        for r in rows:
            print(f"  {r[0]} {r[1]:<18} treated {r[2]:.3f} -> {r[3]:.3f}  control {r[4]:.3f} -> {r[5]:.3f}  "
                  f"DiD {r[6]:+.3f} [{r[7]:+.3f}, {r[8]:+.3f}]  n={r[9]}/{r[10]}  {r[11]}")
    for metric in ("black_screen_rate", "video_freeze_rate", "anomaly_rate"):
        r = by[(worse, metric)]
        assert r[11] == "worse" and r[7] > 0, r
        assert r[9] >= 5 and r[10] >= 8
    assert by[(worse, "display_drop_rate")][11] != "worse"
    for metric in ("black_screen_rate", "video_freeze_rate", "anomaly_rate", "display_drop_rate"):
        r = by[(none, metric)]
        assert r[11] == "no_change" and r[7] <= 0 <= r[8], r
        assert r[9] >= 5 and r[10] >= 5


def test_impact_without_events_or_anomaly_tables(spark, catalog, conf, pg, tmp_path):
    """No events yet: an empty table in the lake and PostgreSQL, no error; without anomaly tables the
    anomaly rate is left out, not reported as insufficient."""
    from logalyzer.field_events.impact import run_impact
    from logalyzer.publish.connection import connect
    from logalyzer.publish.migrations import upgrade
    from logalyzer.service.models import FieldEvent
    from logalyzer.service.store import EventStore

    ts = [("R1", T0.date(), T0 + dt.timedelta(minutes=5 * i), 300, 1, 0, 0) for i in range(-80, 80)]
    catalog.overwrite("device_timeseries", spark.createDataFrame(
        ts, "device_id string, date date, bucket_start timestamp, bucket_s int, black_screens int, "
            "video_freezes int, display_drops int"))
    messages = []
    counts = run_impact(spark, catalog, conf, progress=messages.append, target=pg)
    assert counts["events"] == 0 and counts["published"] in ("0 rows", "up to date")
    assert catalog.read("field_event_impact").count() == 0
    assert query(pg, f'SELECT count(*) FROM "{pg.schema}".field_event_impact')[0][0] == 0
    assert any("anomaly_rate is left out" in m for m in messages)

    conn = connect(pg)
    upgrade(conn, pg.schema)
    conn.close()
    store = EventStore(pg, 1)
    store.insert(FieldEvent.model_validate_json(json.dumps(
        {"event_id": "e1", "device_ids": ["R1"], "app_package": "com.operator.player", "version": "1",
         "action": "update", "time": T0.isoformat() + "Z", "operator": "x"})))
    store.close()
    run_impact(spark, catalog, conf, progress=messages.append, target=pg)
    got = query(pg, f'SELECT metric, n_treated, n_control, verdict FROM "{pg.schema}".field_event_impact ORDER BY metric')
    assert got == [("black_screen_rate", 1, 0, "insufficient_data"), ("display_drop_rate", 1, 0, "insufficient_data"),
                   ("video_freeze_rate", 1, 0, "insufficient_data")]
