"""Which lake tables are published, under which PostgreSQL name, and how (per date or whole).

Each entry names the lake table it reads through the catalog. Tables with a `date` column are
published per date: only dates whose content changed are rewritten. `devices` has no lake table of
its own: it is derived from `sessions` at publish time (one row per device).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from pyspark.sql import DataFrame
from pyspark.sql import functions as F


@dataclass(frozen=True)
class PublishedTable:
    name: str                      # PostgreSQL table (in publish.schema)
    source: str                    # lake table (catalog name)
    dated: bool                    # published per `date`
    produced_by: str               # the command that makes the lake table
    build: Callable[[DataFrame], DataFrame] | None = None   # lake rows -> published rows


_DEVICE_SUMS = ("error_lines", "black_screens", "video_freezes", "display_drops", "hdmi_events", "crashes")


def devices_from_sessions(sessions: DataFrame) -> DataFrame:
    """One row per device: first and last seen, days seen, sessions, lines and the main fault counts."""
    have = set(sessions.columns)
    sums = [(F.sum(c) if c in have else F.lit(None)).cast("bigint").alias(c) for c in _DEVICE_SUMS]
    return (sessions.where(F.col("device_id").isNotNull())
            .groupBy("device_id")
            .agg(F.min("start_ts").alias("first_seen"), F.max("end_ts").alias("last_seen"),
                 F.countDistinct("date").cast("int").alias("days_seen"),
                 F.count(F.lit(1)).cast("bigint").alias("sessions"),
                 F.sum("n_lines").cast("bigint").alias("lines"), *sums))


TABLES: tuple[PublishedTable, ...] = (
    PublishedTable("sessions", "sessions", True, "run `logalyzer sessions` first"),
    PublishedTable("devices", "sessions", False, "run `logalyzer sessions` first", devices_from_sessions),
    PublishedTable("device_timeseries", "device_timeseries", True, "run `logalyzer sessions` first"),
    PublishedTable("event_sequences", "event_sequences", True, "run `logalyzer sessions` first"),
    PublishedTable("templates", "templates", False, "run `logalyzer templates` first"),
    PublishedTable("template_lineage", "template_lineage", False,
                   "written by `logalyzer templates` once a template is generalised"),
    PublishedTable("anomaly_scores", "anomaly_scores", True, "run `logalyzer score` first"),
    PublishedTable("anomalies_consolidated", "anomalies_consolidated", True, "run `logalyzer score` first"),
    PublishedTable("pipeline_runs", "run_log", False, "written by every stage run"),
)
ALIASES = {"run_log": "pipeline_runs"}


def select_tables(names=None) -> list[PublishedTable]:
    """The tables to publish, in the order above; ``names`` may use PostgreSQL or lake names."""
    by_name = {t.name: t for t in TABLES}
    if not names:
        return list(TABLES)
    wanted = []
    for n in names:
        key = ALIASES.get(n, n)
        if key not in by_name:
            raise ValueError(f"unknown table {n!r} to publish; known: {', '.join(by_name)}")
        wanted.append(key)
    return [t for t in TABLES if t.name in wanted]
