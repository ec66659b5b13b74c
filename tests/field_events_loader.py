"""Posts many field events to a running service from its own process (the load tests run it).

    python tests/field_events_loader.py URL TOKEN COUNT [--prefix P] [--threads 8] [--retry-s 120]

Event i has id `<prefix>-<i>` and 1..20 devices. A connection error or a 503 is retried (the same
event again: the service is idempotent by id) until --retry-s has passed. Prints one JSON line:
sent, created, duplicate (a retry of an event whose first answer was lost), retries, failures,
seconds and events_per_s.
"""
from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests


def event(prefix: str, i: int) -> dict:
    return {"event_id": f"{prefix}-{i}", "device_ids": [f"R{(i * 7 + k) % 5000:010d}" for k in range(1 + i % 20)],
            "app_package": "com.operator.player", "version": f"5.{i % 9}.{i % 97}", "action": "update",
            "time": f"2026-11-{20 + i % 5:02d}T{i % 24:02d}:{i % 60:02d}:00Z", "operator": "load-test"}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("token")
    ap.add_argument("count", type=int)
    ap.add_argument("--prefix", default="load")
    ap.add_argument("--threads", type=int, default=8)
    ap.add_argument("--retry-s", type=float, default=120)
    args = ap.parse_args()
    local = threading.local()
    lock = threading.Lock()
    totals = {"created": 0, "duplicate": 0, "retries": 0, "failures": []}
    deadline = time.time() + args.retry_s

    def post(i: int) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            local.session.headers["Authorization"] = f"Bearer {args.token}"
        body = event(args.prefix, i)
        while True:
            try:
                r = local.session.post(args.url + "/events", json=body, timeout=30)
                if r.status_code in (200, 201):
                    with lock:
                        totals["created" if r.status_code == 201 else "duplicate"] += 1
                    return
                if r.status_code != 503:
                    with lock:
                        totals["failures"].append((body["event_id"], r.status_code, r.text[:200]))
                    return
            except requests.RequestException:
                local.session = requests.Session()
                local.session.headers["Authorization"] = f"Bearer {args.token}"
            with lock:
                totals["retries"] += 1
            if time.time() > deadline:
                with lock:
                    totals["failures"].append((body["event_id"], "gave up", ""))
                return
            time.sleep(0.05)

    t0 = time.perf_counter()
    with ThreadPoolExecutor(args.threads) as pool:
        list(pool.map(post, range(args.count)))
    seconds = time.perf_counter() - t0
    print(json.dumps(dict(totals, sent=args.count, seconds=round(seconds, 3),
                          events_per_s=round(args.count / seconds, 1))))
    return 0 if not totals["failures"] else 1


if __name__ == "__main__":
    sys.exit(main())
