"""The run log: one row per job run (stage, times, status, counts), so every outcome is on record."""
from __future__ import annotations

import datetime as dt
import json
import uuid

RUN_LOG_SCHEMA = ("run_id string, stage string, started_at timestamp, finished_at timestamp, "
                  "status string, input string, counts map<string,bigint>, details string")


def new_run_id(stage: str) -> str:
    return f"{stage}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record_run(catalog, run_id: str, stage: str, started_at: dt.datetime, status: str,
               counts: dict, input_desc: str = "", details: dict | None = None) -> None:
    row = (run_id, stage, started_at, utcnow(), status, input_desc,
           {k: int(v) for k, v in counts.items() if isinstance(v, (int, float))},
           json.dumps(details or {}, default=str))
    catalog.append("run_log", catalog.spark.createDataFrame([row], RUN_LOG_SCHEMA))
