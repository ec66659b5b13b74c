"""Which database publish uses: the configured one (`publish.url`), else the private local cluster."""
from __future__ import annotations

from typing import Callable

from logalyzer.publish.connection import DbTarget, NoDatabaseError, configured_url, target_from_conf
from logalyzer.publish.local_server import LocalPostgres, find_server_binaries


def local_server(conf: dict) -> LocalPostgres | None:
    """The private cluster publish would use, or None when a URL is configured or it is turned off."""
    if configured_url(conf):
        return None
    if not ((conf.get("publish") or {}).get("local") or {}).get("enabled", True):
        return None
    return LocalPostgres.from_conf(conf)


def no_database_reason(conf: dict) -> str | None:
    """Why there is nothing to publish into (no URL and no way to start a local server), or None."""
    if configured_url(conf):
        return None
    server = local_server(conf)
    if server is None:
        return "no database configured: set LOGALYZER_DB_URL (publish.url); the local server is turned off"
    if find_server_binaries(server.bin_dir_setting) is None:
        return ("no database configured (LOGALYZER_DB_URL is not set) and no PostgreSQL server binaries "
                "to start a local one (`apt-get install postgresql`)")
    return None


def resolve_target(conf: dict, progress: Callable = print) -> DbTarget:
    """The target to publish into; starts (or reuses) the local cluster when no URL is configured."""
    if configured_url(conf):
        return target_from_conf(conf)
    reason = no_database_reason(conf)
    if reason:
        raise NoDatabaseError(reason)
    server = local_server(conf)
    target, what = server.start()
    progress(f"publish: local PostgreSQL {what} at {target.host}:{target.port} (cluster in {server.base})")
    return target
