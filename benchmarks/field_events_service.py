"""Field-events service benchmark: events/s through `logalyzer serve` against the store alone, in one run.

    python benchmarks/field_events_service.py                    # 2,000 events, 8 client threads, 3 repeats
    python benchmarks/field_events_service.py --events 5000 --threads 16

The service runs as `logalyzer serve` in its own process on a free loopback port; the client is
tests/field_events_loader.py in a second process (1-20 devices per event, keep-alive sessions).
Baseline measured in the same run: the same events written by `EventStore.insert` (the service's
own one-transaction write) from as many threads in this process, no HTTP, no JSON, no validation:
the database's share of the work. The database is LOGALYZER_DB_URL, or the private cluster under
work/ (started or reused); each run writes into a fresh schema that is dropped afterwards. Prints a
table and one JSON line; the load average shows how busy the machine was.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service(target, token: str, port: int, log) -> subprocess.Popen:
    import requests

    env = dict(os.environ, PYTHONPATH=str(ROOT), LOGALYZER_EVENT_TOKENS=token,
               LOGALYZER_DB_URL=f"postgresql://{target.user}@{target.host}:{target.port}/{target.dbname}",
               LOGALYZER_DB_PASSWORD=target.password or "")
    proc = subprocess.Popen([sys.executable, "-m", "logalyzer.cli", "serve", "--port", str(port),
                             "--set", f"publish.schema={target.schema}"], env=env, stdout=log,
                            stderr=subprocess.STDOUT, cwd=str(ROOT))
    deadline = time.time() + 120
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"logalyzer serve exited {proc.returncode}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return proc
        except requests.RequestException:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("logalyzer serve did not become healthy")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()

    from field_events_loader import event

    from logalyzer.config import load_config
    from logalyzer.publish.connection import connect
    from logalyzer.publish.migrations import upgrade
    from logalyzer.publish.target import resolve_target
    from logalyzer.service.models import FieldEvent
    from logalyzer.service.store import EventStore

    conf = load_config(None)
    base = resolve_target(conf, progress=lambda m: print(m, file=sys.stderr))
    token = secrets.token_hex(24)
    rows = []
    log = open(ROOT / "work" / "bench_field_events_serve.log", "ab") if (ROOT / "work").is_dir() else subprocess.DEVNULL
    for rep in range(args.repeats):
        target = replace(base, schema=f"bench_fe_{secrets.token_hex(4)}")
        conn = connect(target)
        upgrade(conn, target.schema)
        conn.close()
        try:
            # baseline: the store alone
            store = EventStore(target, args.threads)
            bodies = [FieldEvent.model_validate_json(json.dumps(event("direct", i))) for i in range(args.events)]
            t0 = time.perf_counter()
            with ThreadPoolExecutor(args.threads) as pool:
                results = list(pool.map(store.insert, bodies))
            direct_s = time.perf_counter() - t0
            store.close()
            assert all(r.status == "created" for r in results)
            # the service: HTTP from a second process
            port = _free_port()
            proc = _service(target, token, port, log)
            try:
                out = subprocess.run([sys.executable, str(ROOT / "tests" / "field_events_loader.py"),
                                      f"http://127.0.0.1:{port}", token, str(args.events), "--prefix", "http",
                                      "--threads", str(args.threads)], capture_output=True, text=True, check=True)
            finally:
                proc.terminate()
                proc.wait(60)
            http = json.loads(out.stdout)
            assert http["created"] == args.events and not http["failures"]
            rows.append({"repeat": rep + 1, "direct_events_per_s": args.events / direct_s,
                         "http_events_per_s": http["events_per_s"], "load": os.getloadavg()[0]})
        finally:
            conn = connect(target, autocommit=True)
            with conn.cursor() as cur:
                cur.execute(f'DROP SCHEMA "{target.schema}" CASCADE')
            conn.close()

    print(f"\nfield events: {args.events:,} events per run, {args.threads} threads, 1-20 devices per event")
    print(f"{'repeat':>6} {'store alone ev/s':>17} {'service ev/s':>13} {'ratio':>6} {'load':>5}")
    for r in rows:
        print(f"{r['repeat']:>6} {r['direct_events_per_s']:>17,.0f} {r['http_events_per_s']:>13,.0f} "
              f"{r['http_events_per_s'] / r['direct_events_per_s']:>6.2f} {r['load']:>5.1f}")
    med_d = statistics.median(r["direct_events_per_s"] for r in rows)
    med_h = statistics.median(r["http_events_per_s"] for r in rows)
    print(f"median: store alone {med_d:,.0f} ev/s, service {med_h:,.0f} ev/s ({med_h / med_d:.2f} of the store)")
    print(json.dumps({"events": args.events, "threads": args.threads, "median_direct_events_per_s": round(med_d, 1),
                      "median_http_events_per_s": round(med_h, 1), "ratio": round(med_h / med_d, 3),
                      "runs": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
