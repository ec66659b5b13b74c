"""`logalyzer dashboards install|serve`: build the bundle for a database and import it into a Superset.

The bundle is built at install time, because its database entry must say how *that* Superset
reaches the published tables: by default the publish target itself (publish.url, or the private
local cluster, started if needed); `dashboards.db_uri` when Superset sees the database under
another address. The database password is never in the bundle: it goes to Superset in the
import call's `passwords` field.
"""
from __future__ import annotations

from typing import Callable
from urllib.parse import quote

from logalyzer.dashboards.bundle import DatabaseSpec, build_zip, database_password_key, load_source
from logalyzer.dashboards.client import SupersetClient


def database_for_superset(conf: dict, progress: Callable = print) -> tuple[DatabaseSpec, str | None]:
    """The database entry of the bundle and its password.

    `dashboards.db_uri` set: that address, with `dashboards.db_password` (else publish.password);
    nothing is started. Otherwise the publish target, the local cluster started if needed."""
    from logalyzer.publish.target import resolve_target

    dash = conf.get("dashboards") or {}
    pub = conf.get("publish") or {}
    schema = str(pub.get("schema") or "logalyzer")
    if dash.get("db_uri"):
        return DatabaseSpec(uri=dash["db_uri"], schema=schema), dash.get("db_password") or pub.get("password") or None
    target = resolve_target(conf, progress=progress)
    uri = f"postgresql+psycopg2://{quote(target.user, safe='')}@{target.host}:{target.port}/{quote(target.dbname)}"
    if target.params:
        uri += "?" + "&".join(f"{k}={quote(str(v))}" for k, v in target.params)
    return DatabaseSpec(uri=uri, schema=target.schema), dash.get("db_password") or target.password


def install(url: str, conf: dict, user: str, password: str, progress: Callable = print) -> list[dict]:
    """Build the bundle for this configuration's database and import it into the Superset at URL.

    Returns the dashboards of the bundle as Superset lists them (title, url)."""
    source = load_source()
    client = SupersetClient(url)
    client.login(user, password)          # first: a wrong URL or login fails before any database work
    db, db_password = database_for_superset(conf, progress)
    bundle = build_zip(source, db)
    client.import_bundle(bundle, {database_password_key(): db_password} if db_password else {})
    slugs = {b.slug for b in source.dashboards}
    found = [d for d in client.dashboards() if d.get("slug") in slugs]
    progress(f"dashboards: imported {len(source.datasets)} datasets, "
             f"{sum(len(b.charts()) for b in source.dashboards)} charts and {len(found)} dashboards into {url}")
    return [{"title": d["dashboard_title"], "url": url.rstrip("/") + d["url"]} for d in found]
