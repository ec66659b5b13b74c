"""A real PostgreSQL server for tests: a private cluster started once per test session, a schema per test.

Shared through conftest.py by every test that needs the database (publish, the field-events service).
Outside CI these skip when the server binaries are missing; under CI (CI set) that is a failure.
"""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from dataclasses import replace
from pathlib import Path

import pytest

from logalyzer.publish.connection import connect


# -- the server ----------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server():
    from logalyzer.publish.local_server import LocalPostgres, find_server_binaries

    if find_server_binaries() is None:
        reason = ("PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: "
                  "`apt-get install postgresql` to run the publish tests")
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI must run them: .ci/run installs the server)")
        pytest.skip(reason)
    base = tempfile.mkdtemp(prefix="logalyzer-test-pg-")   # /tmp: reachable by the server's user under root
    os.chmod(base, 0o755)
    server = LocalPostgres(Path(base) / "postgres")
    target, _ = server.start()
    yield server, target
    try:
        server.stop("immediate")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def own_schema(pg_server, prefix: str):
    """The test server's target with a fresh schema name, dropped (with everything in it) afterwards."""
    _, target = pg_server
    t = replace(target, schema=prefix + uuid.uuid4().hex[:10])
    yield t
    conn = connect(t, autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f'DROP SCHEMA IF EXISTS "{t.schema}" CASCADE')
    conn.close()


@pytest.fixture
def pg(pg_server):
    """The test server with a schema of its own for this test."""
    with own_schema(pg_server, "t_") as t:
        yield t


def query(target, sql_text, args=None):
    conn = connect(target, autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql_text, args)
            return cur.fetchall() if cur.description else None
    finally:
        conn.close()
