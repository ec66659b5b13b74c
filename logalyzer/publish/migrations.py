"""Versioned SQL migrations for the schema the project owns in PostgreSQL.

The files in `migrations/` (`NNNN_name.sql`) are applied in version order, each in its own
transaction together with its row in `<schema>.schema_migrations` (PostgreSQL DDL is
transactional, so a failing migration leaves nothing behind). An advisory lock keeps two upgrades
from racing; a checksum per file catches a migration edited after it was applied.
"""
from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from pathlib import Path

from logalyzer.publish.connection import PublishError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_NAME = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")


class MigrationError(PublishError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    path: Path
    sql: str
    checksum: str


def load_migrations(folder: Path = MIGRATIONS_DIR) -> list[Migration]:
    found: dict[int, Migration] = {}
    for path in sorted(Path(folder).glob("*.sql")):
        m = _NAME.match(path.name)
        if not m:
            raise MigrationError(f"migration file name {path.name!r} does not match NNNN_name.sql")
        sql_text = path.read_text(encoding="utf-8")
        mig = Migration(int(m.group(1)), m.group(2), path, sql_text, hashlib.sha256(sql_text.encode()).hexdigest())
        if mig.version in found:
            raise MigrationError(f"two migrations with version {mig.version:04d}: "
                                 f"{found[mig.version].path.name} and {path.name}")
        found[mig.version] = mig
    return [found[v] for v in sorted(found)]


def _ident(name: str):
    from psycopg2 import sql

    return sql.Identifier(name)


def _ensure_history(cur, schema: str) -> None:
    from psycopg2 import sql

    cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(_ident(schema)))
    cur.execute(sql.SQL("""CREATE TABLE IF NOT EXISTS {}.schema_migrations (
        version integer PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,
        applied_at timestamptz NOT NULL DEFAULT now(), execution_ms integer)""").format(_ident(schema)))


def applied_migrations(conn, schema: str) -> dict[int, dict]:
    """Version -> {name, checksum, applied_at}; empty when the schema has none yet."""
    with conn.cursor() as cur:
        cur.execute("SELECT to_regclass(%s)", (f'"{schema}".schema_migrations',))
        if cur.fetchone()[0] is None:
            return {}
        from psycopg2 import sql

        cur.execute(sql.SQL("SELECT version, name, checksum, applied_at FROM {}.schema_migrations ORDER BY version")
                    .format(_ident(schema)))
        return {r[0]: {"name": r[1], "checksum": r[2], "applied_at": r[3]} for r in cur.fetchall()}


def status(conn, schema: str, migrations: list[Migration] | None = None) -> list[dict]:
    """One entry per known or applied version: version, name, state (applied|pending|changed|unknown)."""
    migrations = load_migrations() if migrations is None else migrations
    done = applied_migrations(conn, schema)
    out = []
    for mig in migrations:
        row = done.get(mig.version)
        state = "pending" if row is None else ("applied" if row["checksum"] == mig.checksum else "changed")
        out.append({"version": mig.version, "name": mig.name, "state": state,
                    "applied_at": row and row["applied_at"]})
    for version, row in done.items():
        if version not in {m.version for m in migrations}:
            out.append({"version": version, "name": row["name"], "state": "unknown", "applied_at": row["applied_at"]})
    return sorted(out, key=lambda e: e["version"])


def upgrade(conn, schema: str, migrations: list[Migration] | None = None, progress=None) -> list[Migration]:
    """Apply every pending migration; returns the ones applied (empty when up to date)."""
    from psycopg2 import sql

    migrations = load_migrations() if migrations is None else migrations
    if conn.autocommit:
        conn.autocommit = False
    else:
        conn.commit()
    with conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (f"logalyzer.migrations.{schema}",))
        _ensure_history(cur, schema)
    conn.commit()
    with conn.cursor() as cur:   # the lock is held across the whole upgrade (session-level)
        cur.execute("SELECT pg_advisory_lock(hashtext(%s))", (f"logalyzer.migrations.{schema}",))
    conn.commit()
    applied = []
    try:
        done = applied_migrations(conn, schema)
        changed = [m for m in migrations if m.version in done and done[m.version]["checksum"] != m.checksum]
        if changed:
            names = ", ".join(m.path.name for m in changed)
            raise MigrationError(f"migration {names} changed after it was applied to schema {schema!r} "
                                 "(checksum differs): restore the file and add a new migration instead")
        for mig in migrations:
            if mig.version in done:
                continue
            t0 = time.time()
            try:
                with conn.cursor() as cur:
                    cur.execute(sql.SQL("SET LOCAL search_path TO {}").format(_ident(schema)))
                    cur.execute(mig.sql)
                    cur.execute(sql.SQL("INSERT INTO {}.schema_migrations (version, name, checksum, execution_ms) "
                                        "VALUES (%s, %s, %s, %s)").format(_ident(schema)),
                                (mig.version, mig.name, mig.checksum, int((time.time() - t0) * 1000)))
                conn.commit()
            except Exception as exc:
                conn.rollback()
                import psycopg2

                if isinstance(exc, psycopg2.Error):
                    raise MigrationError(f"migration {mig.path.name} failed and was rolled back: "
                                         f"{' '.join(str(exc).split())}") from None
                raise
            applied.append(mig)
            if progress:
                progress(f"db: applied migration {mig.version:04d}_{mig.name} to schema {schema}")
    finally:
        with conn.cursor() as cur:
            cur.execute("SELECT pg_advisory_unlock(hashtext(%s))", (f"logalyzer.migrations.{schema}",))
        conn.commit()
    return applied
