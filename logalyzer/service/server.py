"""`logalyzer serve`: the field-events service on uvicorn, against the publish stage's database.

The schema's pending migrations are applied first (so `field_events` exists), then uvicorn serves
the app in this process. SIGTERM / Ctrl-C stop it gracefully: requests in flight finish (each is one
transaction), new connections are refused.
"""
from __future__ import annotations

import logging
from typing import Callable

from logalyzer.service.settings import ServiceSettings

log = logging.getLogger("logalyzer.service")


def prepare(conf: dict, progress: Callable = print):
    """The settings, database target and store the service runs with; applies pending migrations."""
    from logalyzer.publish.connection import connect
    from logalyzer.publish.migrations import upgrade
    from logalyzer.publish.target import resolve_target
    from logalyzer.service.store import EventStore

    settings = ServiceSettings.of(conf)
    settings.require_tokens()
    target = resolve_target(conf, progress=progress)
    conn = connect(target)
    try:
        upgrade(conn, target.schema, progress=progress)
    finally:
        conn.close()
    return settings, target, EventStore(target, settings.db_connections)


def serve(conf: dict, host: str | None = None, port: int | None = None, progress: Callable = print) -> int:
    import uvicorn

    from logalyzer.service.app import create_app

    settings, target, store = prepare(conf, progress)
    host = host or settings.host
    port = settings.port if port is None else port
    progress(f"serve: field events into {target.describe()} schema {target.schema}; "
             f"{len(settings.tokens)} token(s); listening on http://{host}:{port} (Ctrl-C stops)")
    try:
        uvicorn.run(create_app(settings, store), host=host, port=port, log_level="info", access_log=False,
                    timeout_graceful_shutdown=10, server_header=False)
    finally:
        store.close()
    return 0
