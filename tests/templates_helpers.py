"""Shared helpers for the template tests: hand-made ``log_lines`` rows."""
from __future__ import annotations

import datetime as dt
import hashlib

LOG_LINES_SCHEMA = (
    "device_id string, ts timestamp, date date, level string, pid int, tid int, tag string, message string, "
    "var_category string, var_function string, var_event_type string, var_data string, "
    "fields map<string,string>, format string, source_file string, source_hash string, line_no long, "
    "line_hash string, run_id string")


def lines_df(spark, messages, run_id="ingest-1", file="/logs/R0000000001/a.log", start="2026-11-20 10:00:00",
             fmt="logcat"):
    """One log_lines row per message, one second apart, line numbers from 1."""
    t0 = dt.datetime.fromisoformat(start)
    source_hash = hashlib.sha256((file + run_id).encode()).hexdigest()
    rows = []
    for i, msg in enumerate(messages):
        ts = t0 + dt.timedelta(seconds=i)
        rows.append(("R0000000001", ts, ts.date(), "INFO", 1, 2, "Tag", msg, None, None, None, None, {}, fmt, file,
                     source_hash, i + 1, hashlib.md5(f"{file}{i}{msg}".encode()).hexdigest(), run_id))
    return spark.createDataFrame(rows, LOG_LINES_SCHEMA)


def quiet(*_):
    pass
