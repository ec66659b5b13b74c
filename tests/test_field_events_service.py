"""The field-events service as it runs: `logalyzer serve` (uvicorn) in its own process on a free
loopback port, against a real PostgreSQL (the private test cluster, a schema per test module).

Every bad input gets its 4xx and stores nothing; a repeat is idempotent and a changed body under a
used id is a 409; concurrent posts of one id store it once; 1,000+ events posted from a second
process all arrive; the service killed and restarted in the middle of a load leaves no event half
written and loses none.
"""
from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from tests.pg_fixtures import own_schema, query

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-" + uuid.uuid4().hex
OTHER_TOKEN = "other-token-" + uuid.uuid4().hex


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Service:
    """`logalyzer serve` as a subprocess; start / kill / restart on the same port."""

    def __init__(self, target, log_path: Path, max_body: int = 4096):
        self.target, self.log_path, self.max_body = target, log_path, max_body
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def start(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), LOGALYZER_EVENT_TOKENS=f"{TOKEN},{OTHER_TOKEN}",
                   LOGALYZER_DB_URL=f"postgresql://{self.target.user}@{self.target.host}:{self.target.port}/"
                                    f"{self.target.dbname}",
                   LOGALYZER_DB_PASSWORD=self.target.password)
        cmd = [sys.executable, "-m", "logalyzer.cli", "serve", "--port", str(self.port),
               "--conf-dir", str(ROOT / "conf"), "--env", "__tests_ignore_local__",
               "--set", f"publish.schema={self.target.schema}",
               "--set", f"field_events.service.max_body_bytes={self.max_body}"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
                                     cwd=str(ROOT))
        deadline = time.time() + 90
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"logalyzer serve exited {self.proc.returncode}: {self.log_path.read_text()[-2000:]}")
            try:
                if requests.get(self.url + "/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("logalyzer serve did not become healthy: " + self.log_path.read_text()[-2000:])

    def stop(self, sig=signal.SIGTERM) -> int:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                return self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                return self.proc.wait(30)
        return self.proc.returncode if self.proc else 0


@pytest.fixture(scope="module")
def db(pg_server):
    with own_schema(pg_server, "fe_") as t:
        yield t


@pytest.fixture(scope="module")
def service(db, tmp_path_factory):
    svc = Service(db, tmp_path_factory.mktemp("service") / "serve.log")
    svc.start()
    yield svc
    svc.stop()


def auth(token=TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def good_event(event_id=None, **change) -> dict:
    body = {"event_id": event_id or "ev-" + uuid.uuid4().hex[:12], "device_ids": ["R0000000001", "R0000000002"],
            "app_package": "com.operator.player", "version": "5.2.1", "action": "update",
            "time": "2026-11-20T12:00:00Z", "operator": "alice"}
    body.update(change)
    return body


def stored(db, event_id) -> tuple[int, int]:
    """(event rows, device rows) stored for an id."""
    s = db.schema
    return (query(db, f'SELECT count(*) FROM "{s}".field_events WHERE event_id = %s', (event_id,))[0][0],
            query(db, f'SELECT count(*) FROM "{s}".field_event_devices WHERE event_id = %s', (event_id,))[0][0])


# -- the happy path and idempotency -------------------------------------------------------------------
def test_health(service):
    r = requests.get(service.url + "/health")
    assert r.status_code == 200 and r.json() == {"status": "ok", "database": "ok"}


def test_post_then_repeat_then_conflict_then_list(service, db):
    body = good_event(device_ids=["R0000000003", "R0000000001", "R0000000002"], time="2026-11-20T13:00:00+01:00")
    r = requests.post(service.url + "/events", json=body, headers=auth())
    assert r.status_code == 201, r.text
    assert r.json() == {"status": "created", "event_id": body["event_id"], "devices": 3}
    assert stored(db, body["event_id"]) == (1, 3)

    # the same event again (devices in another order, the same instant in UTC): stored once, 200
    again = dict(body, device_ids=["R0000000001", "R0000000002", "R0000000003"], time="2026-11-20T12:00:00Z")
    r = requests.post(service.url + "/events", json=again, headers=auth(OTHER_TOKEN))
    assert r.status_code == 200 and r.json()["status"] == "duplicate"
    # the same id with another body: 409, the stored event unchanged
    r = requests.post(service.url + "/events", json=dict(body, version="9.9.9"), headers=auth())
    assert r.status_code == 409 and r.json()["error"] == "conflict"
    assert query(db, f'SELECT version, event_time FROM "{db.schema}".field_events WHERE event_id = %s',
                 (body["event_id"],))[0][0] == "5.2.1"
    assert stored(db, body["event_id"]) == (1, 3)

    listed = requests.get(service.url + "/events", headers=auth(),
                          params={"device_id": "R0000000003", "since": "2026-11-20T11:00:00Z",
                                  "until": "2026-11-20T12:30:00Z"}).json()
    assert [e["event_id"] for e in listed["events"]] == [body["event_id"]]
    assert listed["events"][0]["device_ids"] == ["R0000000001", "R0000000002", "R0000000003"]
    assert listed["events"][0]["time"] == "2026-11-20T12:00:00Z"
    none = requests.get(service.url + "/events", headers=auth(),
                        params={"device_id": "R0000000003", "since": "2026-11-20T12:00:01Z"}).json()
    assert none == {"count": 0, "events": []}
    other_device = requests.get(service.url + "/events", headers=auth(), params={"device_id": "R9999999999"}).json()
    assert other_device["count"] == 0


# -- bad input: each a clear 4xx, nothing stored -------------------------------------------------------
def _raw(service, method, path, body: bytes, headers: dict, chunked=False):
    conn = http.client.HTTPConnection("127.0.0.1", service.port, timeout=30)
    try:
        if chunked:
            conn.putrequest(method, path)
            for k, v in headers.items():
                conn.putheader(k, v)
            conn.putheader("Transfer-Encoding", "chunked")
            conn.endheaders()
            for i in range(0, len(body), 1000):
                piece = body[i:i + 1000]
                conn.send(b"%x\r\n%s\r\n" % (len(piece), piece))
            conn.send(b"0\r\n\r\n")
        else:
            conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


JSON = {"Content-Type": "application/json"}
BAD_BODIES = {
    "malformed JSON": (b'{"event_id": "ev-bad-1", "device_ids": [', 400, "malformed_json"),
    "not UTF-8": (b'{"event_id": "ev-bad-2\xff"}', 400, "malformed_json"),
    "duplicate key": (b'{"event_id": "ev-bad-3", "event_id": "ev-bad-3b"}', 400, "malformed_json"),
    "NaN": (b'{"event_id": NaN}', 400, "malformed_json"),
    "array, not object": (b'[1, 2]', 422, "invalid"),
    "missing fields": (json.dumps({"event_id": "ev-bad-4", "device_ids": ["R1"]}).encode(), 422, "invalid"),
    "unknown field": (json.dumps(good_event("ev-bad-5", priority="high")).encode(), 422, "invalid"),
    "event_id a number": (json.dumps(good_event(12345)).encode(), 422, "invalid"),
    "device_ids a string": (json.dumps(good_event("ev-bad-6", device_ids="R0000000001")).encode(), 422, "invalid"),
    "device id a number": (json.dumps(good_event("ev-bad-7", device_ids=[1])).encode(), 422, "invalid"),
    "no devices": (json.dumps(good_event("ev-bad-8", device_ids=[])).encode(), 422, "invalid"),
    "repeated device": (json.dumps(good_event("ev-bad-9", device_ids=["R1", "R1"])).encode(), 422, "invalid"),
    "version a number": (json.dumps(good_event("ev-bad-10", version=5.2)).encode(), 422, "invalid"),
    "time without zone": (json.dumps(good_event("ev-bad-11", time="2026-11-20T12:00:00")).encode(), 422, "invalid"),
    "time not a time": (json.dumps(good_event("ev-bad-12", time="yesterday")).encode(), 422, "invalid"),
    "time a number": (json.dumps(good_event("ev-bad-13", time=1763640000)).encode(), 422, "invalid"),
    "unknown action": (json.dumps(good_event("ev-bad-14", action="reboot")).encode(), 422, "invalid"),
    "bad package": (json.dumps(good_event("ev-bad-15", app_package="not a package")).encode(), 422, "invalid"),
    "NUL in operator": (json.dumps(good_event("ev-bad-16", operator="a\u0000b")).encode(), 422, "invalid"),
    "lone surrogate": (b'{"event_id": "ev-bad-17", "device_ids": ["R1"], "app_package": "com.a.b", "version": "1",'
                       b' "action": "update", "time": "2026-11-20T12:00:00Z", "operator": "\\ud800"}', 422, "invalid"),
    "null field": (json.dumps(good_event("ev-bad-18", operator=None)).encode(), 422, "invalid"),
    "empty body": (b"", 400, "malformed_json"),
    "nested too deeply": (b'{"event_id": ' + b"[" * 1900 + b"]" * 1900 + b"}", 400, "malformed_json"),
}


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_bad_body_is_a_clear_4xx_and_stores_nothing(service, db, case):
    body, status, error = BAD_BODIES[case]
    before = query(db, f'SELECT count(*) FROM "{db.schema}".field_events')[0][0]
    code, raw = _raw(service, "POST", "/events", body, dict(JSON, **auth()))
    assert code == status, raw
    reply = json.loads(raw)
    assert reply["error"] == error and reply["message"]
    if status == 422 and case not in ("array, not object",):
        assert reply["details"] and all(d["field"] and d["message"] for d in reply["details"])
    assert query(db, f'SELECT count(*) FROM "{db.schema}".field_events')[0][0] == before


def test_unknown_and_wrong_fields_are_named(service):
    r = requests.post(service.url + "/events", json=good_event(priority="high", version=5), headers=auth())
    assert r.status_code == 422
    fields = {d["field"]: d["type"] for d in r.json()["details"]}
    assert fields == {"priority": "extra_forbidden", "version": "string_type"}


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_body_over_the_limit_is_413(service, db, chunked):
    body = json.dumps(good_event("ev-big-" + str(chunked), device_ids=[f"R{i:010d}" for i in range(400)])).encode()
    assert len(body) > service.max_body
    code, raw = _raw(service, "POST", "/events", body, dict(JSON, **auth()), chunked=chunked)
    assert code == 413 and json.loads(raw)["error"] == "too_large"
    assert stored(db, "ev-big-" + str(chunked)) == (0, 0)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer "}, {"Authorization": "Bearer wrong-token"},
                                     {"Authorization": f"Basic {TOKEN}"}, {"Authorization": f"Bearer {TOKEN}x"},
                                     {"Authorization": f"Bearer {TOKEN[:-1]}"}],
                         ids=["none", "empty", "wrong", "not bearer", "longer", "shorter"])
def test_missing_or_wrong_token_is_401(service, db, headers):
    body = good_event()
    r = requests.post(service.url + "/events", json=body, headers=headers)
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Bearer"
    assert stored(db, body["event_id"]) == (0, 0)
    assert requests.get(service.url + "/events", headers=headers).status_code == 401


def test_not_json_content_type_is_415(service, db):
    body = good_event()
    code, raw = _raw(service, "POST", "/events", json.dumps(body).encode(),
                     {"Content-Type": "text/plain", **auth()})
    assert code == 415 and json.loads(raw)["error"] == "unsupported_media_type"
    assert stored(db, body["event_id"]) == (0, 0)


@pytest.mark.parametrize("params", [{"since": "2026-11-21T00:00:00Z", "until": "2026-11-20T00:00:00Z"},
                                    {"since": "not-a-time"}, {"since": "2026-11-20T00:00:00"},
                                    {"limit": "0"}, {"limit": "ten"}, {"limit": "1000000"},
                                    {"device_id": "bad id with spaces"}, {"since": "0001-01-01T00:00:00+01:00"}])
def test_bad_list_parameters_are_422(service, params):
    r = requests.get(service.url + "/events", headers=auth(), params=params)
    assert r.status_code == 422 and r.json()["error"] == "invalid"


def test_unknown_path_and_method(service):
    assert requests.get(service.url + "/nothing", headers=auth()).status_code == 404
    assert requests.delete(service.url + "/events", headers=auth()).status_code == 405


# -- concurrency, load, restart -------------------------------------------------------------------------
def test_concurrent_posts_of_one_event_store_it_once(service, db):
    body = good_event(device_ids=[f"R{i:010d}" for i in range(50)])
    changed = dict(body, version="6.0.0")
    results, barrier = [], threading.Barrier(24)

    def post(b):
        barrier.wait()
        results.append(requests.post(service.url + "/events", json=b, headers=auth(), timeout=60).status_code)

    threads = [threading.Thread(target=post, args=(body if i % 6 else changed,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(201) == 1 and len(results) == 24
    assert set(results) <= {200, 201, 409}
    assert stored(db, body["event_id"]) == (1, 50)
    winner = query(db, f'SELECT version FROM "{db.schema}".field_events WHERE event_id = %s', (body["event_id"],))[0][0]
    # whichever body won, every post of the other body was refused, every post of the same one accepted
    same = 20 if winner == "5.2.1" else 4
    assert results.count(200) + results.count(201) == same and results.count(409) == 24 - same


def _loader(service, count, prefix, threads=8):
    return subprocess.Popen([sys.executable, str(ROOT / "tests" / "field_events_loader.py"), service.url, TOKEN,
                             str(count), "--prefix", prefix, "--threads", str(threads)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _check_complete(db, prefix, count):
    """Every event of the load stored once, each with all of its devices (none half written)."""
    s = db.schema
    rows = query(db, f'SELECT e.event_id, e.n_devices, count(d.device_id) FROM "{s}".field_events e '
                     f'LEFT JOIN "{s}".field_event_devices d USING (event_id) WHERE e.event_id LIKE %s '
                     'GROUP BY e.event_id, e.n_devices', (prefix + "-%",))
    assert len(rows) == count
    assert all(n == linked == 1 + int(eid.rsplit("-", 1)[1]) % 20 for eid, n, linked in rows)
    orphans = query(db, f'SELECT count(*) FROM "{s}".field_event_devices d WHERE d.event_id LIKE %s AND NOT EXISTS '
                        f'(SELECT 1 FROM "{s}".field_events e WHERE e.event_id = d.event_id)', (prefix + "-%",))
    assert orphans[0][0] == 0


def test_load_from_a_second_process_loses_nothing(service, db, capsys):
    proc = _loader(service, 1500, "load")
    out, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err + out
    result = json.loads(out)
    assert result["created"] == 1500 and result["duplicate"] == 0 and not result["failures"]
    _check_complete(db, "load", 1500)
    with capsys.disabled():
        print(f"\nfield events load: {result['sent']} events from a second process in {result['seconds']} s, "
              f"{result['events_per_s']} events/s (8 client threads, loopback)")


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["killed", "terminated"])
def test_service_restarted_mid_load_leaves_nothing_half_written(db, tmp_path, sig, capsys):
    svc = Service(db, tmp_path / "serve.log")
    svc.start()
    prefix = f"restart{int(sig)}"
    try:
        proc = _loader(svc, 1200, prefix)
        deadline = time.time() + 120
        while query(db, f'SELECT count(*) FROM "{db.schema}".field_events WHERE event_id LIKE %s',
                    (prefix + "-%",))[0][0] < 200:
            assert time.time() < deadline and proc.poll() is None, "the load did not get going"
            time.sleep(0.02)
        svc.stop(sig)
        mid = query(db, f'SELECT count(*) FROM "{db.schema}".field_events WHERE event_id LIKE %s', (prefix + "-%",))[0][0]
        # while it is down: whatever was committed is complete
        half = query(db, f'SELECT count(*) FROM "{db.schema}".field_events e WHERE e.event_id LIKE %s AND n_devices <> '
                         f'(SELECT count(*) FROM "{db.schema}".field_event_devices d WHERE d.event_id = e.event_id)',
                     (prefix + "-%",))[0][0]
        assert half == 0
        svc.start()
        out, err = proc.communicate(timeout=600)
    finally:
        svc.stop()
    assert proc.returncode == 0, err + out
    result = json.loads(out)
    assert mid < 1200 and result["retries"] > 0
    assert result["created"] + result["duplicate"] == 1200 and not result["failures"]
    _check_complete(db, prefix, 1200)
    with capsys.disabled():
        print(f"\nfield events restart ({signal.Signals(sig).name}): {mid} of 1200 stored when it stopped; after the "
              f"restart all 1200 stored once ({result['retries']} retries, {result['duplicate']} answered as "
              "duplicates)")


def test_serve_refuses_to_start_without_a_token_or_with_a_short_one(tmp_path):
    for tokens, words in (("", "no API token configured"), ("short", "shorter than 16 characters")):
        env = dict(os.environ, PYTHONPATH=str(ROOT), LOGALYZER_EVENT_TOKENS=tokens)
        out = subprocess.run([sys.executable, "-m", "logalyzer.cli", "serve", "--conf-dir", str(ROOT / "conf"),
                              "--env", "__tests_ignore_local__", "--set", f"project.work_dir={tmp_path}"],
                             env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 2 and words in out.stderr and "Traceback" not in out.stderr, out.stderr


def test_serve_with_an_unreachable_database_is_a_one_line_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT), LOGALYZER_EVENT_TOKENS=TOKEN,
               LOGALYZER_DB_URL=f"postgresql://nobody@127.0.0.1:{free_port()}/nothing", LOGALYZER_DB_PASSWORD="secret-pw")
    out = subprocess.run([sys.executable, "-m", "logalyzer.cli", "serve", "--conf-dir", str(ROOT / "conf"),
                          "--env", "__tests_ignore_local__"], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1 and "cannot connect to PostgreSQL" in out.stderr
    assert "Traceback" not in out.stderr and "secret-pw" not in out.stderr


def test_database_restart_under_the_service_needs_no_client_retry(tmp_path):
    """The pool's connections die with the server; the next request reconnects by itself. A private
    cluster of its own, so the shared test server is never restarted."""
    import tempfile

    from logalyzer.publish.local_server import LocalPostgres, find_server_binaries

    if find_server_binaries() is None:
        pytest.skip("PostgreSQL server binaries not found")
    base = Path(tempfile.mkdtemp(prefix="logalyzer-test-pg-restart-"))
    os.chmod(base, 0o755)
    server = LocalPostgres(base / "postgres", port=free_port())
    target, _ = server.start()
    svc = Service(target, tmp_path / "serve.log")
    try:
        svc.start()
        first = good_event()
        assert requests.post(svc.url + "/events", json=first, headers=auth()).status_code == 201
        server.stop("fast")
        down = requests.post(svc.url + "/events", json=good_event(), headers=auth())
        assert down.status_code == 503 and down.json()["error"] == "unavailable"
        assert requests.get(svc.url + "/health").status_code == 503
        assert server.start()[0].port == target.port
        second = good_event()
        r = requests.post(svc.url + "/events", json=second, headers=auth())
        assert r.status_code == 201, r.text
        assert stored(target, first["event_id"]) == stored(target, second["event_id"]) == (1, 2)
        assert requests.get(svc.url + "/health").status_code == 200
    finally:
        svc.stop()
        server.stop("immediate")
        import shutil

        shutil.rmtree(base, ignore_errors=True)
