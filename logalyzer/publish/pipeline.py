"""The publish stage: lake gold tables -> PostgreSQL, each table on its own, idempotent and atomic.

For every table (`tables.py`):

1. the drift check: lake columns against the PostgreSQL columns the migrations made (`columns.py`);
2. what changed, compared with `publish_state`: first the lake files each date was read from (a
   date whose files were not rewritten is not even read), then, for the dates that were, a
   fingerprint (row count + sum of a 64-bit hash of every row, computed by Spark; one row per date
   reaches the driver). Only new or changed dates are written, dates gone from the lake are
   deleted, and an unchanged table is left alone;
3. the rows of those dates go into an UNLOGGED staging table (the `copy` or `jdbc` writer), whose
   row count must equal the fingerprint's (a retried task that had already committed would add rows);
4. one transaction deletes those dates from the real table, inserts the staged rows, records the
   new fingerprints and drops the staging table. Readers see the old rows until it commits; a
   failure or a kill at any point before leaves them untouched (the next run drops the leftover
   staging table).

Nothing but per-date fingerprints is collected to the driver.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import unquote

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from logalyzer.catalog import TableNotFoundError
from logalyzer.publish.columns import check_columns, pg_columns, prepare
from logalyzer.publish.connection import DbTarget, PublishError, connect, one_line
from logalyzer.publish.migrations import upgrade
from logalyzer.publish.tables import PublishedTable, select_tables
from logalyzer.publish.target import resolve_target
from logalyzer.publish.writers import make_writer

WHOLE = "*"   # publish_state.part of a table published whole


@dataclass
class PublishSettings:
    writer: str = "copy"
    schema: str = "logalyzer"
    tables: list = field(default_factory=list)
    copy_partitions: int = 0
    copy_encoding: str = "binary"
    jdbc_batch_size: int = 10000
    jdbc_partitions: int = 0
    jdbc_url_options: dict = field(default_factory=dict)

    @classmethod
    def of(cls, conf: dict) -> "PublishSettings":
        pub = conf.get("publish") or {}
        jdbc = pub.get("jdbc") or {}
        return cls(writer=str(pub.get("writer") or "copy"), schema=str(pub.get("schema") or "logalyzer"),
                   tables=list(pub.get("tables") or []),
                   copy_partitions=int((pub.get("copy") or {}).get("partitions") or 0),
                   copy_encoding=str((pub.get("copy") or {}).get("encoding") or "binary"),
                   jdbc_batch_size=int(jdbc.get("batch_size") or 10000),
                   jdbc_partitions=int(jdbc.get("partitions") or 0),
                   jdbc_url_options=dict(jdbc.get("url_options") or {}))


def _hang_point(name: str) -> None:
    """Tests only: LOGALYZER_PUBLISH_HANG_AT=<name> stops here (so a test can kill the process)."""
    if os.environ.get("LOGALYZER_PUBLISH_HANG_AT") == name:
        print(f"publish: hanging at {name} (LOGALYZER_PUBLISH_HANG_AT)", file=sys.stderr, flush=True)
        time.sleep(3600)


def _part_key(value) -> str:
    if value is None:
        return "null"
    return value.isoformat() if isinstance(value, (dt.date, dt.datetime)) else str(value)


_DATE_DIR = re.compile(r"/date=([^/]+)/")


def source_signatures(lake: DataFrame, dated: bool) -> dict[str, str]:
    """Part -> a signature of the lake files that hold it (file names change on every rewrite).

    Per date when the lake table is partitioned by date (so an incremental publish reads only the
    dates whose files changed), else ``{'*': ...}`` for the whole table. Only file names reach the
    driver, never rows.
    """
    def sig(names) -> str:
        return hashlib.sha256("\n".join(sorted(names)).encode()).hexdigest()[:24]

    files = lake.inputFiles()
    if dated and files:
        by_date: dict[str, list] = {}
        for f in files:
            m = _DATE_DIR.search(f)
            if not m:
                by_date = {}
                break
            value = unquote(m.group(1))
            by_date.setdefault("null" if value == "__HIVE_DEFAULT_PARTITION__" else value, []).append(f)
        if by_date:
            return {part: sig(names) for part, names in by_date.items()}
    return {WHOLE: sig(files)}


def _hashable(df: DataFrame, name: str) -> F.Column:
    """A column xxhash64 accepts: maps (which Spark will not hash) as their entry arrays, or JSON when nested."""
    dtype = df.schema[name].dataType
    col = F.col(f"`{name}`")
    if isinstance(dtype, T.MapType) and "map<" not in (dtype.keyType.simpleString() + dtype.valueType.simpleString()):
        return F.map_entries(col)
    return F.to_json(col) if "map<" in dtype.simpleString() else col


def fingerprints(df: DataFrame, dated: bool, columns: list[str]) -> dict[str, tuple[int, str]]:
    """Part ('YYYY-MM-DD', or '*' for a whole table) -> (rows, fingerprint of the rows and the column list)."""
    hashed = df.select(*(["date"] if dated else []),
                       F.xxhash64(*[_hashable(df, c) for c in columns]).cast("decimal(38,0)").alias("_h"))
    grouped = hashed.groupBy("date") if dated else hashed.groupBy()
    cols_sig = hashlib.sha256(",".join(columns).encode()).hexdigest()[:12]
    out = {}
    for row in grouped.agg(F.count(F.lit(1)).alias("n"), F.sum("_h").alias("s")).collect():   # one row per date
        part = _part_key(row["date"]) if dated else WHOLE
        out[part] = (int(row["n"]), f"{row['n']}:{row['s'] or 0}:{cols_sig}")
    if not dated and not out:
        out[WHOLE] = (0, f"0:0:{cols_sig}")
    return out


def _date_filter(parts) -> F.Column:
    dates = [dt.date.fromisoformat(p) for p in parts if p != "null"]
    cond = F.col("date").isin(dates)
    return cond | F.col("date").isNull() if "null" in parts else cond


def _published_state(conn, schema: str, table: str) -> dict[str, tuple[str, str]]:
    with conn.cursor() as cur:
        cur.execute(f'SELECT part, fingerprint, source_files FROM "{schema}".publish_state WHERE table_name = %s',
                    (table,))
        return {part: (fp, files) for part, fp, files in cur.fetchall()}


def _drop_leftover_staging(conn, schema: str, table: str) -> int:
    with conn.cursor() as cur:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s AND tablename LIKE %s",
                    (schema, f"\\_stage\\_{table}\\_%"))
        names = [r[0] for r in cur.fetchall()]
        for name in names:
            cur.execute(f'DROP TABLE IF EXISTS "{schema}"."{name}"')
    conn.commit()
    return len(names)


def _lake_frame(catalog, table: PublishedTable) -> DataFrame | None:
    """The lake table to publish from, or None when it does not exist yet."""
    if table.source not in catalog.tables:
        return None
    try:
        return catalog.read(table.source)
    except TableNotFoundError:
        return None


def _lock_table(conn, qualified: str, wait_s: int = 30) -> None:
    """One publisher per table at a time (a session lock: a killed publisher's goes with its connection)."""
    import psycopg2

    try:
        with conn.cursor() as cur:
            cur.execute(f"SET lock_timeout = '{int(wait_s)}s'")
            cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"logalyzer.publish.{qualified}",))
            cur.execute("SET lock_timeout = 0")
        conn.commit()
    except psycopg2.errors.LockNotAvailable:
        conn.rollback()
        raise PublishError(f"another publish of {qualified} has been running for over {wait_s} s; "
                           "try again when it has finished") from None


@dataclass
class _Plan:
    """What one publish of one table does: parts to write, to delete, and whose file signature to refresh."""
    current: dict            # part -> (rows, fingerprint), for the parts that were read
    sigs: dict               # part -> file signature now
    changed: list            # parts to (re)write
    gone: list               # parts to delete (no longer in the lake)
    refresh: list            # parts whose rows are unchanged but whose files were rewritten

    def sig(self, part: str) -> str:
        return self.sigs.get(part, self.sigs.get(WHOLE, ""))


def plan_parts(source: DataFrame, lake: DataFrame, table: PublishedTable, columns: list[str],
               state: dict, full: bool) -> _Plan:
    """Which parts changed: file signatures first (no rows read), then content fingerprints of the rest."""
    sigs = source_signatures(source, table.dated)
    per_date = table.dated and WHOLE not in sigs
    if full:
        candidates = None
    elif per_date:
        candidates = sorted(p for p, sg in sigs.items() if state.get(p, (None, None))[1] != sg)
    else:
        same = bool(state) and all(files == sigs[WHOLE] for _, files in state.values())
        candidates = [] if same else None
    gone = sorted(p for p in state if p not in sigs) if per_date and not full else []
    if candidates == []:
        return _Plan({}, sigs, [], gone, [])
    frame = lake if candidates is None else lake.where(_date_filter(candidates))
    current = fingerprints(frame, table.dated, columns)
    read = set(state) if candidates is None else set(candidates)
    gone = sorted(set(gone) | {p for p in read if p in state and p not in current})
    changed = sorted(p for p, (_, fp) in current.items() if full or state.get(p, (None, None))[0] != fp)
    refresh = sorted(p for p in current if p not in changed)
    return _Plan(current, sigs, changed, gone, refresh)


def publish_table(spark: SparkSession, catalog, table: PublishedTable, target: DbTarget, conn, writer,
                  full: bool = False, progress: Callable = print, run_id: str = "") -> dict:
    """Publish one table; returns its counts (status, rows, parts written and removed, seconds)."""
    schema = target.schema
    t0 = time.time()
    source = _lake_frame(catalog, table)
    if source is None:
        progress(f"publish: {table.name}: skipped, lake table {table.source!r} does not exist yet "
                 f"({table.produced_by})")
        return {"status": "skipped"}
    lake = table.build(source) if table.build else source
    qualified = f"{schema}.{table.name}"
    _lock_table(conn, qualified)
    staging = f"_stage_{table.name}_{uuid.uuid4().hex[:8]}"
    try:
        if _drop_leftover_staging(conn, schema, table.name):
            progress(f"publish: {table.name}: dropped the staging table of an interrupted publish")
        pg = pg_columns(conn, schema, table.name)
        columns = check_columns(table.name if table.build else table.source, qualified, lake.schema, pg)
        plan = plan_parts(source, lake, table, columns, _published_state(conn, schema, table.name), full)
        if not plan.changed and not plan.gone:
            if plan.refresh:
                _swap(conn, schema, table, None, columns, plan, run_id)
            progress(f"publish: {table.name}: up to date")
            return {"status": "up to date", "rows": 0, "parts": 0}
        expected = sum(plan.current[p][0] for p in plan.changed)
        rows = prepare(lake, columns, pg, mode=writer.mode)
        if table.dated and (plan.refresh or not full):
            rows = rows.where(_date_filter(plan.changed))
        with conn.cursor() as cur:
            cur.execute(f'CREATE UNLOGGED TABLE "{schema}"."{staging}" (LIKE "{schema}"."{table.name}" '
                        "INCLUDING DEFAULTS)")
        conn.commit()
        what = f"{len(plan.changed)} date(s)" if table.dated else "whole table"
        progress(f"publish: {table.name}: writing {expected:,} rows ({what}) with the {writer.label} writer")
        tw = time.time()
        if expected:
            writer.write(rows, target, schema, staging)
        write_s = time.time() - tw
        _hang_point("staged")
        with conn.cursor() as cur:
            cur.execute(f'SELECT count(*) FROM "{schema}"."{staging}"')
            staged = cur.fetchone()[0]
        if staged != expected:
            raise PublishError(f"{qualified}: {staged:,} rows staged but {expected:,} expected (the lake table "
                               "changed during the publish, or a writer task ran twice); nothing was replaced")
        _swap(conn, schema, table, staging, columns, plan, run_id)
        with conn.cursor() as cur:
            cur.execute(f'ANALYZE "{schema}"."{table.name}"')
        conn.commit()
        seconds = time.time() - t0
        rate = f", {expected / write_s:,.0f} rows/s" if expected >= 10000 and write_s > 0 else ""
        progress(f"publish: {table.name}: {expected:,} rows in {seconds:.1f} s (writer {write_s:.1f} s{rate})"
                 + (f"; {len(plan.gone)} date(s) gone from the lake removed" if plan.gone and table.dated else ""))
        return {"status": "published", "rows": expected, "parts": len(plan.changed),
                "parts_removed": len(plan.gone), "seconds": round(seconds, 2), "writer_seconds": round(write_s, 2)}
    finally:
        _cleanup(conn, schema, staging, qualified)


def _cleanup(conn, schema: str, staging: str, qualified: str) -> None:
    """Drop the staging table and release the table lock; quietly, so it never hides the real error
    (if the connection itself is gone, the server has dropped the lock, and the next run the table)."""
    import psycopg2

    try:
        conn.rollback()
        with conn.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{schema}"."{staging}"')
            cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"logalyzer.publish.{qualified}",))
        conn.commit()
    except psycopg2.Error:
        pass


def _swap(conn, schema: str, table: PublishedTable, staging: str | None, columns: list[str], plan: _Plan,
          run_id: str) -> None:
    """The one commit point: old rows of the parts out, staged rows in, state recorded, staging dropped."""
    cols = ", ".join(f'"{c}"' for c in columns)
    target = f'"{schema}"."{table.name}"'
    with conn.cursor() as cur:
        parts = plan.changed + plan.gone
        if staging is not None:
            if not table.dated:
                cur.execute(f"DELETE FROM {target}")
            else:
                dates = [p for p in parts if p != "null"]
                cur.execute(f"DELETE FROM {target} WHERE date = ANY(%s::date[])"
                            + (" OR date IS NULL" if "null" in parts else ""), (dates,))
            cur.execute(f'INSERT INTO {target} ({cols}) SELECT {cols} FROM "{schema}"."{staging}"')
            _hang_point("swap")
        cur.execute(f'DELETE FROM "{schema}".publish_state WHERE table_name = %s AND part = ANY(%s)',
                    (table.name, parts + plan.refresh))
        for part in plan.changed + plan.refresh:
            rows, fp = plan.current[part]
            cur.execute(f'INSERT INTO "{schema}".publish_state (table_name, part, rows, fingerprint, source_files, '
                        "run_id) VALUES (%s, %s, %s, %s, %s, %s)", (table.name, part, rows, fp, plan.sig(part), run_id))
        if staging is not None:
            cur.execute(f'DROP TABLE "{schema}"."{staging}"')
    conn.commit()


def run_publish(spark: SparkSession, catalog, conf: dict, tables=None, full: bool = False,
                progress: Callable = print, target: DbTarget | None = None, writer=None) -> dict:
    """Publish ``tables`` (default: publish.tables, else all) to ``target`` (default: from conf).

    Applies pending migrations first. Returns counts per table. Raises PublishError on failure.
    """
    from logalyzer.runlog import begin_run

    settings = PublishSettings.of(conf)
    if target is None:
        target = resolve_target(conf, progress)
    writer = writer or make_writer(settings)
    chosen = select_tables(tables or settings.tables or None)
    counts: dict = {}
    rows: dict = {}
    run = begin_run(catalog, "publish", target.describe(), progress)   # the lake's lock; one row in run_log
    run_id = run.run_id
    try:
        conn = connect(target)
    except BaseException:
        _record(run, "failed", rows, counts, target)
        raise
    try:
        upgrade(conn, target.schema, progress=progress)
        progress(f"publish: into {target.describe()} schema {target.schema} ({writer.label} writer)")
        for table in chosen:
            result = publish_table(spark, catalog, table, target, conn, writer, full=full,
                                   progress=progress, run_id=run_id)
            counts[table.name] = (f"{result['rows']:,} rows" if result["status"] == "published"
                                  else result["status"])
            if result["status"] == "published":
                rows[f"{table.name}_rows"] = result["rows"]
    except PublishError:
        _record(run, "failed", rows, counts, target)
        raise
    except Exception as exc:   # a driver error: one line, never the password
        _record(run, "failed", rows, counts, target)
        raise PublishError(f"publish failed: {target.redact(one_line(exc))[:600]}") from None
    finally:
        conn.close()
    _record(run, "succeeded", rows, counts, target)
    return counts


def _record(run, status, rows, counts, target) -> None:
    try:
        run.finish(status, rows, {"tables": counts, "schema": target.schema})
    except Exception:   # the run log must not hide the publish outcome
        pass
