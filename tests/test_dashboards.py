"""Dashboards as code: the bundle, its SQL on real published tables, and a real Superset in a real browser.

1. The bundle built from logalyzer/dashboards/source/ is complete and byte-stable; a broken source is
   a clear error naming the file.
2. Every dataset's Jinja SQL, rendered the way Superset renders it (time span, device and
   granularity filters), runs on tables published from a small generated fleet that went through
   ingest, templates, sessions, train and score: rows come back and the time span is honoured.
3. Superset (its own virtual environment, see `logalyzer dashboards setup`) is started on that
   database, the bundle is imported through the REST API, and each dashboard is opened in headless
   Chromium (Debian's package, driven by Playwright): every chart must render data, with no error
   and no "No results", in the expected number; the device drill-down must be filtered to one
   device. Screenshots are kept in test-output/dashboards/.

Outside CI the Superset part skips with the reason when Chromium, Playwright or the Superset
virtual environment is missing; under CI (CI set) that is a failure.
"""
from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml

from logalyzer.config import deep_merge
from logalyzer.dashboards.bundle import (DatabaseSpec, SourceError, build_files, build_zip, database_password_key,
                                         load_source, SOURCE_DIR)

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "test-output" / "dashboards"
DB = DatabaseSpec(uri="postgresql+psycopg2://logalyzer:secret@127.0.0.1:5432/logalyzer", schema="logalyzer")
SMALL_MODELS = {"deeplog": {"epochs": 5, "min_steps": 100, "hidden": 32, "embedding": 16, "layers": 1},
                "autoencoder": {"epochs": 10, "min_steps": 100, "hidden": [16, 4]}}


def _missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(reason + " (CI must run this: .ci/run installs it)")
    pytest.skip(reason)


# -- 1. the bundle ----------------------------------------------------------------------------------
def test_bundle_is_complete_stable_and_keeps_no_password():
    source = load_source()
    first, second = build_zip(source, DB), build_zip(load_source(), DB)
    assert first == second                               # same source -> same bytes, same UUIDs
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert all(n.startswith("logalyzer_dashboards/") for n in names)
    files = build_files(source, DB)
    charts = {p: c for p, c in files.items() if p.startswith("charts/")}
    datasets = {c["uuid"]: c for p, c in files.items() if p.startswith("datasets/")}
    boards = {c["slug"]: c for p, c in files.items() if p.startswith("dashboards/")}
    assert set(boards) == {"logalyzer-overview", "logalyzer-device"}
    assert len(charts) == sum(len(b.charts()) for b in source.dashboards) >= 16
    assert all(c["dataset_uuid"] in datasets for c in charts.values())
    for board in boards.values():                        # every chart placed once, every filter target known
        placed = [v["meta"]["uuid"] for v in board["position"].values() if isinstance(v, dict) and v.get("type") == "CHART"]
        assert len(placed) == len(set(placed)) and set(placed) <= {c["uuid"] for c in charts.values()}
        for flt in board["metadata"]["native_filter_configuration"]:
            assert all(t.get("datasetUuid", next(iter(datasets))) in datasets for t in flt["targets"])
    text = first.decode("latin-1")
    assert "secret" not in "".join(yaml.safe_dump(c) for c in files.values()) and "secret" not in text
    assert files[database_password_key()]["sqlalchemy_uri"] == \
        "postgresql+psycopg2://logalyzer:XXXXXXXXXX@127.0.0.1:5432/logalyzer"
    # every virtual dataset takes the dashboard's time span, as the replaced system's templates did
    for ds in source.datasets.values():
        if ds.time_column and ds.name != "device_list":
            assert "from_dttm" in ds.sql and "to_dttm" in ds.sql, ds.name


def test_a_broken_source_is_a_clear_error(tmp_path):
    src = tmp_path / "source"
    shutil.copytree(SOURCE_DIR, src)
    board = src / "dashboards" / "overview.yml"
    board.write_text(board.read_text().replace("metric: black_screens,", "metric: black_screenz,", 1))
    with pytest.raises(SourceError, match=r"overview.yml: chart top_black_screens: dataset fleet_sessions has no metric 'black_screenz'"):
        load_source(src)
    shutil.copytree(SOURCE_DIR, tmp_path / "s2")
    (tmp_path / "s2" / "datasets" / "anomalies.yml").write_text("name: anomalies\nsql: SELECT 1\n")
    with pytest.raises(SourceError, match="anomalies.yml: missing columns"):
        load_source(tmp_path / "s2")


def _cli(*argv):
    from logalyzer import cli

    args = cli.build_parser().parse_args(["dashboards", *argv])
    return cli.cmd_dashboards(args)


def test_build_command_writes_the_bundle_for_the_configured_database(tmp_path, capsys):
    out = tmp_path / "bundle.zip"
    assert _cli("build", "--out", str(out), "--set", "dashboards.db_uri=postgresql+psycopg2://ann@db.example:5432/fleet",
                "--set", "publish.schema=fleet_gold") == 0
    with zipfile.ZipFile(out) as zf:
        db = yaml.safe_load(zf.read("logalyzer_dashboards/databases/logalyzer.yaml"))
        ds = yaml.safe_load(zf.read("logalyzer_dashboards/datasets/logalyzer/fleet_sessions.yaml"))
    assert db["sqlalchemy_uri"] == "postgresql+psycopg2://ann:XXXXXXXXXX@db.example:5432/fleet"
    assert "search_path=fleet_gold" in db["extra"]["engine_params"]["connect_args"]["options"]
    assert ds["schema"] == "fleet_gold" and "written to" in capsys.readouterr().out


def test_install_needs_credentials_and_a_reachable_superset(monkeypatch):
    from logalyzer.dashboards.client import SupersetError

    for name in ("LOGALYZER_SUPERSET_USER", "LOGALYZER_SUPERSET_PASSWORD", "SUPERSET_USERNAME", "SUPERSET_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(SupersetError, match="LOGALYZER_SUPERSET_USER") as missing:
        _cli("install", "--url", "http://127.0.0.1:9")
    assert missing.value.exit_code == 2
    monkeypatch.setenv("LOGALYZER_SUPERSET_USER", "ann")
    monkeypatch.setenv("LOGALYZER_SUPERSET_PASSWORD", "s3cret-pw")
    with pytest.raises(SupersetError, match=r"cannot reach Superset at http://127.0.0.1:9") as down:
        _cli("install", "--url", "http://127.0.0.1:9/")
    assert down.value.exit_code == 1 and "s3cret-pw" not in str(down.value)
    assert _cli("install") == 2                          # no --url


# -- 2. the SQL on published tables -----------------------------------------------------------------
@pytest.fixture(scope="module")
def published(spark, base_conf, tmp_path_factory):
    """A small fleet through every stage (small models), published into a private PostgreSQL cluster."""
    from logalyzer.catalog import Catalog
    from logalyzer.field_events.impact import run_impact
    from logalyzer.generate import generate_fleet
    from logalyzer.ingest import run_ingest
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train
    from logalyzer.publish import run_publish
    from logalyzer.publish.local_server import LocalPostgres, find_server_binaries
    from logalyzer.service.models import FieldEvent
    from logalyzer.service.store import EventStore
    from logalyzer.sessions.pipeline import run_sessions
    from logalyzer.templates.pipeline import run_templates

    if find_server_binaries() is None:
        _missing("PostgreSQL server binaries (initdb, pg_ctl) not found: `apt-get install postgresql`")
    base = Path(tempfile.mkdtemp(prefix="logalyzer-test-dash-"))   # /tmp: reachable by the server's user as root
    os.chmod(base, 0o755)
    root = tmp_path_factory.mktemp("dash")
    # one app push, so the overview's field-event chart has a measurement to show
    generate_fleet(str(root / "fleet"), devices=4, days=3, seed=7, lines_per_device_day=2000,
                   pushes=["2026-11-21T12:00:00Z,0-1,worse"])
    conf = deep_merge(base_conf, {"lake": {"root": str(root / "lake")}, "project": {"work_dir": str(root / "work")},
                                  "models": SMALL_MODELS})
    catalog = Catalog(spark, conf)
    quiet = lambda *_: None  # noqa: E731
    run_ingest(spark, catalog, conf, str(root / "fleet"), progress=quiet)
    run_templates(spark, catalog, conf, progress=quiet)
    run_sessions(spark, catalog, conf, progress=quiet)
    run_train(spark, catalog, conf, progress=quiet)
    run_score(spark, catalog, conf, progress=quiet)
    server = LocalPostgres(base / "postgres")
    target, _ = server.start()
    try:
        run_publish(spark, catalog, conf, tables=[], full=False, progress=quiet, target=target)
        store = EventStore(target, 1)      # the push, recorded as `logalyzer serve` would
        try:
            for body in sorted((root / "fleet" / "pushes").glob("*.json")):
                store.insert(FieldEvent.model_validate_json(body.read_text()))
        finally:
            store.close()
        run_impact(spark, catalog, conf, publish=True, progress=quiet, target=target)
        n = _query(target, "SELECT count(*) FROM anomalies_consolidated")[0][0]
        assert n > 0, "the small models flagged nothing: the anomaly charts would be empty"
        yield conf, target
    finally:
        server.stop("immediate")
        shutil.rmtree(base, ignore_errors=True)


def _query(target, sql_text, args=None):
    from logalyzer.publish.connection import connect

    conn = connect(target, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SET search_path = "{target.schema}", public')
            cur.execute(sql_text, args)
            return cur.fetchall()
    finally:
        conn.close()


def render(sql: str, from_dttm=None, to_dttm=None, filters: dict | None = None, url_params: dict | None = None) -> str:
    """Render a dataset's SQL with the macros Superset gives it (jinja_context.py), sandboxed like Superset."""
    from jinja2.sandbox import SandboxedEnvironment

    filters = filters or {}
    env = SandboxedEnvironment()
    env.filters["where_in"] = lambda values: "(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + ")"
    ctx = {"from_dttm": from_dttm, "to_dttm": to_dttm,
           "filter_values": lambda col, default=None, remove_filter=False: list(filters.get(col) or ([default] if default else [])),
           "url_param": lambda name, default=None, *a, **k: (url_params or {}).get(name, default)}
    return env.from_string(sql).render(**ctx)


def test_every_dataset_query_runs_on_the_published_tables(published):
    conf, target = published
    source = load_source()
    device = _query(target, "SELECT device_id FROM anomalies_consolidated GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")[0][0]
    for ds in source.datasets.values():
        rows = _query(target, f"SELECT * FROM ({render(ds.sql)}) AS q")
        assert rows, f"{ds.name}: no rows on the published sample"
        got = _columns(target, render(ds.sql))
        assert got == list(ds.columns), f"{ds.name}: the SQL returns {got}, the YAML declares {list(ds.columns)}"
        # one device: only its rows
        if "device_id" in ds.columns and "filter_values('device_id')" in ds.sql:
            sql = render(ds.sql, filters={"device_id": [device]})
            devices = {r[0] for r in _query(target, f"SELECT DISTINCT device_id FROM ({sql}) AS q")}
            assert devices == {device}, ds.name
    # the time span reaches the scan: from the second day on, nothing earlier comes back
    first = _query(target, "SELECT min(start_ts) FROM sessions")[0][0]
    cut = (first + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    sessions = source.datasets["fleet_sessions"]
    sql = render(sessions.sql, from_dttm=cut, to_dttm=cut + dt.timedelta(days=1))
    lo, hi, n = _query(target, f"SELECT min(start_ts), max(start_ts), count(*) FROM ({sql}) AS q")[0]
    assert n > 0 and lo.replace(tzinfo=None) >= cut and hi.replace(tzinfo=None) < cut + dt.timedelta(days=1)
    # granularity: day buckets from the Granularity filter, hour from the URL, hour by default
    metrics = source.datasets["device_metrics"]
    for filters, url, grain in (({"grain": ["day"]}, None, "day"), ({}, {"grain": "week"}, "week"), ({}, None, "hour"),
                                ({"grain": ["1; DROP TABLE sessions"]}, None, "hour")):
        sql = render(metrics.sql, filters=filters, url_params=url)
        assert {r[0] for r in _query(target, f"SELECT DISTINCT grain FROM ({sql}) AS q")} == {grain}
    days = _query(target, f"SELECT count(DISTINCT bucket) FROM ({render(metrics.sql, filters={'grain': ['day']})}) AS q")[0][0]
    assert days == _query(target, "SELECT count(DISTINCT date) FROM device_timeseries")[0][0]


def _columns(target, sql: str) -> list[str]:
    from logalyzer.publish.connection import connect

    conn = connect(target, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SET search_path = "{target.schema}", public')
            cur.execute(f"SELECT * FROM ({sql}) AS q LIMIT 0")
            return [d.name for d in cur.description]
    finally:
        conn.close()


# -- 3. Superset in a browser -----------------------------------------------------------------------
CHROMIUM = os.environ.get("LOGALYZER_CHROMIUM", "/usr/bin/chromium")
SUPERSET_VENV = Path(os.environ.get("LOGALYZER_SUPERSET_VENV", ROOT / "work" / "superset" / "venv"))

# The state of every chart on the page: loading, no-results, error, rendered (or empty).
PROBE = """() => Array.from(document.querySelectorAll('.dashboard-component-chart-holder')).map(h => {
  const title = ((h.querySelector('[data-test="editable-title"], .header-title') || {}).innerText || '').split('\\n')[0];
  const text = h.innerText || '';
  let state = 'empty';
  if (h.querySelector('[data-test="loading-indicator"], .loading') || /Waiting on/.test(text)) state = 'loading';
  else if (/No results/i.test(text)) state = 'no-results';
  else if (h.querySelector('[data-test="error-tooltip"], .ant-alert-error, .alert-danger, [role="alert"]')
           || /Unexpected error|error occurred|Error:/i.test(text)) state = 'error';
  else if (h.querySelector('canvas, svg, table, .header-line')) state = 'rendered';
  return {title, state, text: text.slice(0, 300)};
})"""


@pytest.fixture(scope="module")
def superset(request, tmp_path_factory):
    """Superset from its own virtual environment, metadata in a temporary folder, the bundle imported."""
    from logalyzer.dashboards.install import install
    from logalyzer.dashboards.superset_server import ADMIN_USER, LocalSuperset

    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"no Chromium at {CHROMIUM}: `apt-get install chromium` (or set LOGALYZER_CHROMIUM)")
    if importlib.util.find_spec("playwright") is None:
        _missing("Playwright is not installed: `pip install -e '.[dev]'`")
    server = LocalSuperset(tmp_path_factory.mktemp("superset"), venv=str(SUPERSET_VENV), port=18088, workers=2)
    if not server.installed():
        _missing(f"no Superset virtual environment at {SUPERSET_VENV}: `logalyzer dashboards setup` "
                 "(or set LOGALYZER_SUPERSET_VENV)")
    conf, target = request.getfixturevalue("published")   # only now: a skip above costs nothing
    conf = deep_merge(conf, {"dashboards": {
        "db_uri": f"postgresql+psycopg2://{target.user}@{target.host}:{target.port}/{target.dbname}",
        "db_password": target.password}, "publish": {"schema": target.schema}})
    started = time.time()
    url, _ = server.start(progress=print)
    print(f"superset: initialised and started in {time.time() - started:.0f} s")
    try:
        boards = install(url, conf, ADMIN_USER, server.admin_password(), progress=print)
        assert len(boards) == 2
        yield url, server.admin_password()
    finally:
        server.stop()


def _open_dashboard(page, url: str, slug: str, expected: int, ready=lambda answers: True, timeout: float = 300):
    """Open a dashboard and wait until its charts settled: no chart request in flight, none loading,
    and `ready(answers)` (the drill-down first draws its charts unfiltered, then for the device)."""
    inflight, answers = set(), {}

    def chart_id(req):
        fd = parse_qs(urlparse(req.url).query).get("form_data")
        return json.loads(fd[0]).get("slice_id") if fd else None

    def on_request(req):
        if "/api/v1/chart/data" in req.url and chart_id(req):
            inflight.add(req)

    def on_finished(req, failed=False):
        if req in inflight:
            inflight.discard(req)
            resp = None if failed else req.response()
            try:
                body = resp.json() if resp else {}
            except Exception:
                body = {}
            answers[chart_id(req)] = {"status": resp.status if resp else None, "body": body,
                                      "request": json.loads(req.post_data or "{}")}

    page.on("request", on_request)
    page.on("requestfinished", on_finished)
    page.on("requestfailed", lambda r: on_finished(r, failed=True))
    page.goto(f"{url}/superset/dashboard/{slug}/")
    page.wait_for_selector(".dashboard-component-chart-holder", timeout=timeout * 1000)
    started, quiet_since = time.time(), None
    while time.time() - started < timeout:
        states = page.evaluate(PROBE)
        settled = (not inflight and len(states) == expected and len(answers) == expected
                   and all(s["state"] != "loading" for s in states) and ready(answers))
        quiet_since = (quiet_since or time.time()) if settled else None
        if quiet_since and time.time() - quiet_since > 3:
            break
        time.sleep(0.5)
    page.remove_listener("request", on_request)
    page.remove_listener("requestfinished", on_finished)
    return page.evaluate(PROBE), answers


def _device_filter(answer: dict):
    """The one device a chart's query was filtered to, or None."""
    for q in answer["request"].get("queries", []):
        for f in q.get("filters", []):
            if f.get("col") == "device_id" and f.get("op") == "IN" and len(f.get("val") or []) == 1:
                return f["val"][0]
    return None


def test_every_dashboard_renders_every_chart_with_data(superset, request):
    from playwright.sync_api import sync_playwright

    url, password = superset
    boards = {b.slug: b for b in load_source().dashboards}
    OUTPUT.mkdir(parents=True, exist_ok=True)
    problems = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking"])
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url + "/login/")
            page.fill("[data-test=username-input]", "admin")
            page.fill("[data-test=password-input]", password)
            page.click("[data-test=login-button]")
            page.wait_for_url("**/superset/welcome/**", timeout=120_000)
            for slug, board in boards.items():
                expected = len(board.charts())
                # tall enough for the whole dashboard, so the screenshot shows every chart as drawn
                page.set_viewport_size({"width": 1600, "height": 300 + sum(
                    max(int(c.get("height", 50)) for c in row) * 8 + 16 for row in board.rows)})
                ready = (lambda a: all(_device_filter(x) for x in a.values())) if slug == "logalyzer-device" \
                    else (lambda a: True)
                states, answers = _open_dashboard(page, url, slug, expected, ready)
                page.screenshot(path=str(OUTPUT / f"{slug}.png"))
                if len(states) != expected:
                    problems.append(f"{slug}: {len(states)} charts on the page, expected {expected}")
                for s in states:
                    if s["state"] != "rendered":
                        problems.append(f"{slug}: chart {s['title']!r} is {s['state']}: {s['text'][:200]!r}")
                for cid, a in answers.items():
                    results = a["body"].get("result") or []
                    if a["status"] != 200 or not results:
                        problems.append(f"{slug}: chart {cid} data answered {a['status']}: {str(a['body'])[:300]}")
                    for r in results:
                        if r.get("error") or not r.get("rowcount"):
                            problems.append(f"{slug}: chart {cid} query: error {r.get('error')!r}, "
                                            f"{r.get('rowcount')} rows")
                if slug == "logalyzer-device":   # the drill-down shows one device, one with the most anomalies
                    target = request.getfixturevalue("published")[1]
                    counts = dict(_query(target, "SELECT device_id, count(*) FROM anomalies_consolidated GROUP BY 1"))
                    top = {d for d, n in counts.items() if n == max(counts.values())}
                    for cid, a in answers.items():
                        if _device_filter(a) not in top:
                            problems.append(f"{slug}: chart {cid} is filtered to {_device_filter(a)!r}, "
                                            f"not to a device with the most anomalies {sorted(top)}")
        finally:
            browser.close()
    assert not problems, "\n".join(problems)
    assert (OUTPUT / "logalyzer-overview.png").stat().st_size > 50_000
