"""Import the dashboards bundle into a running Superset through its REST API.

Login (`/api/v1/security/login`, database auth), a CSRF token for the session, then one
`/api/v1/assets/import/` call with the bundle, `overwrite`, and the database password in
`passwords`. The assets endpoint overwrites every object of the bundle (database, datasets, charts,
dashboards); `/api/v1/dashboard/import/` with overwrite=true replaces only the dashboards and keeps
existing datasets and charts as they were, so an edited chart would never arrive.
"""
from __future__ import annotations

import json
import os

import requests

from logalyzer.publish.connection import PublishError


class SupersetError(PublishError):
    """A Superset problem meant for the user (the CLI prints it on one line, like publish errors)."""

    exit_code = 1


def credentials_from_env() -> tuple[str, str]:
    """Superset login from the environment: LOGALYZER_SUPERSET_USER / LOGALYZER_SUPERSET_PASSWORD."""
    user = os.environ.get("LOGALYZER_SUPERSET_USER") or os.environ.get("SUPERSET_USERNAME")
    password = os.environ.get("LOGALYZER_SUPERSET_PASSWORD") or os.environ.get("SUPERSET_PASSWORD")
    if not user or not password:
        err = SupersetError("Superset credentials missing: set LOGALYZER_SUPERSET_USER and "
                            "LOGALYZER_SUPERSET_PASSWORD (a user allowed to import, e.g. an Admin)")
        err.exit_code = 2
        raise err
    return user, password


class SupersetClient:
    def __init__(self, url: str, timeout: float = 120):
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.http = requests.Session()

    def _call(self, method: str, path: str, **kw) -> dict:
        try:
            resp = self.http.request(method, self.url + path, timeout=self.timeout, **kw)
        except requests.RequestException as exc:
            raise SupersetError(f"cannot reach Superset at {self.url}: {exc.__class__.__name__}: "
                                f"{str(exc)[:300]}") from None
        if resp.status_code >= 400:
            try:
                detail = json.dumps(resp.json())[:1500]
            except ValueError:
                detail = resp.text[:500]
            raise SupersetError(f"Superset {method} {path} answered {resp.status_code}: {detail}")
        return resp.json() if resp.content else {}

    def login(self, user: str, password: str) -> None:
        token = self._call("POST", "/api/v1/security/login",
                           json={"username": user, "password": password, "provider": "db", "refresh": False})
        self.http.headers["Authorization"] = f"Bearer {token['access_token']}"
        csrf = self._call("GET", "/api/v1/security/csrf_token/")["result"]
        self.http.headers.update({"X-CSRFToken": csrf, "Referer": self.url + "/"})

    def import_bundle(self, bundle: bytes, passwords: dict[str, str]) -> dict:
        files = {"bundle": ("logalyzer_dashboards.zip", bundle, "application/zip")}
        data = {"passwords": json.dumps(passwords), "overwrite": "true"}
        return self._call("POST", "/api/v1/assets/import/", files=files, data=data)

    def dashboards(self) -> list[dict]:
        q = "(page_size:100)"
        return self._call("GET", f"/api/v1/dashboard/?q={q}")["result"]
