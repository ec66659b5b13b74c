"""Where publish writes: a PostgreSQL target, its credentials, and connections whose errors never show them.

The target comes from conf (`publish.url`, normally `${env:LOGALYZER_DB_URL}`) or, when no URL is
configured, from the private cluster under the project's work directory (`local_server.py`).
The password is read, in this order, from `publish.password` (`${env:LOGALYZER_DB_PASSWORD}`), the
URL itself, the secrets file `publish.password_file` (a plain password or `.pgpass` lines), then
`PGPASSWORD`. It is held in one object whose repr hides it, and every message built from a driver
error passes through `redact` first.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, quote, unquote, urlsplit


class PublishError(RuntimeError):
    """A publish problem with a message meant for the user: the CLI prints it on one line, no traceback."""

    exit_code = 1


class DatabaseConfigError(PublishError):
    """The database settings themselves are wrong (malformed URL, unreadable secrets file)."""

    exit_code = 2


class DatabaseConnectError(PublishError):
    """The server could not be reached, or refused the credentials."""


class NoDatabaseError(PublishError):
    """No URL configured and no local server possible (no server binaries): publishing is skipped."""

    exit_code = 2


# libpq keywords passed through from the URL query to psycopg2, and the ones pgjdbc understands too
_LIBPQ_PARAMS = {"sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "application_name",
                 "target_session_attrs", "options", "keepalives", "keepalives_idle"}
_JDBC_FROM_LIBPQ = {"sslmode": "sslmode", "sslrootcert": "sslrootcert", "sslcert": "sslcert",
                    "sslkey": "sslkey", "connect_timeout": "connectTimeout", "application_name": "ApplicationName"}


@dataclass(frozen=True)
class DbTarget:
    """One PostgreSQL database and schema to publish into. ``repr`` never shows the password."""

    host: str
    port: int
    dbname: str
    user: str
    password: str | None = field(default=None, repr=False)
    schema: str = "logalyzer"
    params: tuple = ()            # (key, value) libpq parameters from the URL query
    source: str = "publish.url"   # where the settings came from, for messages

    def describe(self) -> str:
        """``postgresql://user@host:port/db`` (never the password)."""
        return f"postgresql://{quote(self.user)}@{self.host}:{self.port}/{self.dbname}"

    def psycopg2_kwargs(self) -> dict:
        kw = {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user}
        if self.password is not None:
            kw["password"] = self.password
        kw.update(dict(self.params))
        kw.setdefault("connect_timeout", 10)
        kw.setdefault("application_name", "logalyzer")
        return kw

    def jdbc_url(self, extra: dict | None = None) -> str:
        query = {_JDBC_FROM_LIBPQ[k]: v for k, v in self.params if k in _JDBC_FROM_LIBPQ}
        query.setdefault("ApplicationName", "logalyzer")
        query.update({k: str(v) for k, v in (extra or {}).items()})
        qs = "&".join(f"{k}={quote(str(v), safe='')}" for k, v in query.items())
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"jdbc:postgresql://{host}:{self.port}/{quote(self.dbname, safe='')}" + (f"?{qs}" if qs else "")

    def jdbc_properties(self) -> dict:
        props = {"user": self.user, "driver": "org.postgresql.Driver"}
        if self.password is not None:
            props["password"] = self.password
        return props

    def redact(self, text: str) -> str:
        return redact(text, [self.password])


def redact(text: str, secrets=()) -> str:
    """``text`` with every secret, and any ``user:password@`` or ``password=...`` part, masked."""
    out = str(text)
    for secret in secrets:
        if secret:
            out = out.replace(secret, "***")
            out = out.replace(quote(secret, safe=""), "***")
    out = re.sub(r"(://[^:/@\s]+):[^@\s]*@", r"\1:***@", out)
    out = re.sub(r"(?i)(password\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&;,]+)", r"\1***", out)
    return out


def parse_url(url: str) -> dict:
    """``postgresql://``, ``postgres://`` or ``jdbc:postgresql://`` URL -> host, port, dbname, user, password, params."""
    raw = url.strip()
    if raw.startswith("jdbc:"):
        raw = raw[len("jdbc:"):]
    try:
        parts = urlsplit(raw)
        port = parts.port
    except ValueError as exc:
        raise DatabaseConfigError(f"publish.url is not a valid PostgreSQL URL ({redact(str(exc))}): "
                                  f"expected postgresql://USER@HOST:PORT/DATABASE") from None
    if parts.scheme not in ("postgresql", "postgres") or not parts.hostname:
        raise DatabaseConfigError(f"publish.url is not a PostgreSQL URL: {redact(url)!r} "
                                  "(expected postgresql://USER@HOST:PORT/DATABASE)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    jdbc_user = dict(query).get("user")
    jdbc_password = dict(query).get("password")
    params = tuple((k, v) for k, v in query if k in _LIBPQ_PARAMS)
    return {"host": parts.hostname, "port": port or 5432,
            "dbname": unquote(parts.path.lstrip("/")) or None,
            "user": unquote(parts.username) if parts.username else jdbc_user,
            "password": unquote(parts.password) if parts.password is not None else jdbc_password,
            "params": params}


def read_password_file(path: str, host: str, port: int, dbname: str, user: str) -> str | None:
    """The password in a secrets file: a file holding just the password, or `.pgpass` lines
    (``host:port:database:user:password``, ``*`` matches anything) of which the first match wins."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatabaseConfigError(f"cannot read the database secrets file {p}: {exc.strerror}") from None
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        return None
    if len(lines) == 1 and len(_pgpass_fields(lines[0])) != 5:
        return lines[0].strip()
    for line in lines:
        f = _pgpass_fields(line)
        if len(f) != 5:
            continue
        want = (host, str(port), dbname, user)
        if all(pat == "*" or pat == val for pat, val in zip(f[:4], want)):
            return f[4]
    return None


def _pgpass_fields(line: str) -> list[str]:
    fields, cur, esc = [], [], False
    for ch in line.rstrip("\n"):
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == ":":
            fields.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    fields.append("".join(cur))
    return fields


def configured_url(conf: dict) -> str:
    return str(((conf.get("publish") or {}).get("url")) or "").strip()


def target_from_conf(conf: dict) -> DbTarget:
    """The configured (not local) target; raises DatabaseConfigError when something is missing."""
    pub = conf.get("publish") or {}
    url = configured_url(conf)
    parsed = parse_url(url)
    user = parsed["user"] or str(pub.get("user") or "") or os.environ.get("PGUSER") or ""
    dbname = parsed["dbname"] or os.environ.get("PGDATABASE") or user
    if not user:
        raise DatabaseConfigError("no database user: put it in the URL (postgresql://USER@HOST/DB) "
                                  "or set LOGALYZER_DB_USER (publish.user)")
    password = str(pub.get("password") or "") or parsed["password"]
    if not password and pub.get("password_file"):
        password = read_password_file(str(pub["password_file"]), parsed["host"], parsed["port"], dbname, user)
    if not password:
        password = os.environ.get("PGPASSWORD") or None
    return DbTarget(host=parsed["host"], port=int(parsed["port"]), dbname=dbname, user=user,
                    password=password, schema=str(pub.get("schema") or "logalyzer"),
                    params=parsed["params"], source="publish.url")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def connect(target: DbTarget, autocommit: bool = False, timeout: int | None = None):
    """A psycopg2 connection, or DatabaseConnectError with a one-line, password-free reason."""
    import psycopg2

    kw = target.psycopg2_kwargs()
    if timeout:
        kw["connect_timeout"] = timeout
    try:
        conn = psycopg2.connect(**kw)
    except psycopg2.Error as exc:
        reason = target.redact(one_line(exc))
        hint = ""
        if "password authentication failed" in reason or "no password supplied" in reason:
            hint = (" (check LOGALYZER_DB_PASSWORD or the secrets file publish.password_file)"
                    if target.source == "publish.url" else "")
        raise DatabaseConnectError(
            f"cannot connect to PostgreSQL at {target.describe()} ({target.source}): {reason}{hint}") from None
    conn.autocommit = autocommit
    return conn
