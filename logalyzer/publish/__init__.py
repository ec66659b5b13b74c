"""Publish: the lake's gold tables into PostgreSQL for dashboards, services and people.

`migrations/` (applied by `migrations.py`) define the schema the project owns; `pipeline.py` writes
each table idempotently and atomically through one of two writers (`writers.py`); `target.py` picks
the database (configured URL, or the private cluster of `local_server.py`). See docs/postgres.md.
"""
from logalyzer.publish.connection import DbTarget, PublishError
from logalyzer.publish.pipeline import PublishSettings, run_publish
from logalyzer.publish.tables import TABLES, select_tables

__all__ = ["DbTarget", "PublishError", "PublishSettings", "run_publish", "TABLES", "select_tables"]
