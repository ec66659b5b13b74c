"""The service's PostgreSQL side: one transaction per event, idempotent by event id, and the reads.

`insert` writes the event row and its device rows in one transaction. `INSERT ... ON CONFLICT DO
NOTHING` makes a concurrent or repeated post of the same id wait for the first one and then do
nothing; the stored body hash then says whether the repeat is the same event (fine) or another one
under a used id (a conflict). A failure anywhere rolls the whole event back.
"""
from __future__ import annotations

import datetime as dt
import threading
from contextlib import contextmanager
from dataclasses import dataclass

from psycopg2 import sql

from logalyzer.publish.connection import DbTarget, connect, one_line
from logalyzer.service.models import FieldEvent


class DatabaseUnavailable(RuntimeError):
    """The database could not be reached or failed mid-request: the client should retry (503)."""


class PoolBusy(DatabaseUnavailable):
    """Every pooled connection stayed in use for the whole wait."""


@dataclass(frozen=True)
class InsertResult:
    status: str          # created | duplicate | conflict


class EventStore:
    """A small pool of connections to the target schema; thread-safe (FastAPI runs the calls in threads)."""

    def __init__(self, target: DbTarget, connections: int = 8):
        import psycopg2

        self.target = target
        self.schema = target.schema
        self._size = connections
        self._idle: list = []
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(connections)
        self._errors = (psycopg2.OperationalError, psycopg2.InterfaceError)   # the connection is gone
        self._psycopg2 = psycopg2

    # -- connections --------------------------------------------------------------------------------
    @contextmanager
    def _conn(self):
        """A pooled connection; a broken one is thrown away, not returned to the pool."""
        if not self._slots.acquire(timeout=30):
            raise PoolBusy("all database connections are busy; retry")
        conn = None
        try:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None or conn.closed:
                try:
                    conn = connect(self.target, timeout=5)
                except Exception as exc:   # DatabaseConnectError: already one password-free line
                    conn = None
                    raise DatabaseUnavailable(str(exc)) from None
            try:
                yield conn
            except self._psycopg2.Error as exc:
                if isinstance(exc, self._errors):
                    _close(conn)
                    conn = None
                    self.close()   # the other idle connections went with the server, most likely
                else:
                    try:
                        conn.rollback()
                    except self._psycopg2.Error:
                        _close(conn)
                        conn = None
                raise DatabaseUnavailable(f"the database failed: {self.target.redact(one_line(exc))}") from None
            except BaseException:
                if conn is not None and not conn.closed:
                    try:
                        conn.rollback()
                    except self._errors:
                        _close(conn)
                        conn = None
                raise
        finally:
            if conn is not None and not conn.closed:
                with self._lock:
                    self._idle.append(conn)
            self._slots.release()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            _close(conn)

    def _once_more(self, work):
        """Run ``work`` again, once, when it failed on a broken connection: a pooled connection goes
        stale when the server restarts, and every call here is safe to repeat (one transaction)."""
        try:
            return work()
        except PoolBusy:
            raise
        except DatabaseUnavailable:
            return work()

    def _q(self, text: str):
        return sql.SQL(text).format(schema=sql.Identifier(self.schema))

    # -- writes -------------------------------------------------------------------------------------
    def insert(self, event: FieldEvent) -> InsertResult:
        return self._once_more(lambda: self._insert(event))

    def _insert(self, event: FieldEvent) -> InsertResult:
        from psycopg2.extras import execute_values

        digest = event.body_sha256()
        when = event.utc_time()
        devices = sorted(event.device_ids)
        with self._conn() as conn:
            with conn.cursor() as cur:
                cur.execute(self._q(
                    "INSERT INTO {schema}.field_events (event_id, app_package, version, action, event_time, "
                    "operator, n_devices, body_sha256) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (event_id) DO NOTHING RETURNING event_id"),
                    (event.event_id, event.app_package, event.version, event.action, when, event.operator,
                     len(devices), digest))
                if cur.fetchone() is None:
                    cur.execute(self._q("SELECT body_sha256 FROM {schema}.field_events WHERE event_id = %s"),
                                (event.event_id,))
                    row = cur.fetchone()
                    conn.rollback()
                    return InsertResult("duplicate" if row and row[0] == digest else "conflict")
                execute_values(cur, self._q("INSERT INTO {schema}.field_event_devices (event_id, device_id, "
                                            "event_time) VALUES %s").as_string(cur),
                               [(event.event_id, d, when) for d in devices], page_size=1000)
            conn.commit()
        return InsertResult("created")

    # -- reads --------------------------------------------------------------------------------------
    def list_events(self, device_id: str | None, since: dt.datetime | None, until: dt.datetime | None,
                    limit: int) -> list[dict]:
        """Events (newest first) that went to ``device_id`` (any device when None) in [since, until)."""
        return self._once_more(lambda: self._list_events(device_id, since, until, limit))

    def _list_events(self, device_id, since, until, limit) -> list[dict]:
        where, args = [], []
        if device_id is not None:
            where.append("e.event_id IN (SELECT d.event_id FROM {schema}.field_event_devices d "
                         "WHERE d.device_id = %s" + (" AND d.event_time >= %s" if since else "")
                         + (" AND d.event_time < %s" if until else "") + ")")
            args.append(device_id)
            args += [t for t in (since, until) if t]
        if since:
            where.append("e.event_time >= %s")
            args.append(since)
        if until:
            where.append("e.event_time < %s")
            args.append(until)
        text = ("SELECT e.event_id, e.app_package, e.version, e.action, e.event_time, e.operator, e.received_at, "
                "ARRAY(SELECT d.device_id FROM {schema}.field_event_devices d WHERE d.event_id = e.event_id "
                "ORDER BY d.device_id) FROM {schema}.field_events e"
                + (" WHERE " + " AND ".join(where) if where else "")
                + " ORDER BY e.event_time DESC, e.event_id LIMIT %s")
        args.append(limit)
        with self._conn() as conn:
            with conn.cursor() as cur:
                cur.execute(self._q(text), args)
                rows = cur.fetchall()
            conn.rollback()
        return [{"event_id": r[0], "app_package": r[1], "version": r[2], "action": r[3],
                 "time": _iso(r[4]), "operator": r[5], "received_at": _iso(r[6]), "device_ids": list(r[7])}
                for r in rows]

    def ping(self) -> None:
        self._once_more(self._ping)

    def _ping(self) -> None:
        with self._conn() as conn:
            with conn.cursor() as cur:
                cur.execute(self._q("SELECT count(*) FROM {schema}.field_events WHERE false"))
            conn.rollback()


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _close(conn) -> None:
    try:
        conn.close()
    except Exception:
        pass
