"""A private PostgreSQL cluster under the project's work directory: the local default target.

With no `publish.url`, `logalyzer run` (and `publish`, `db ...`) starts this cluster, or reuses it when
it already runs, so a first try needs no database set up. It is an ordinary cluster made with the
installed server binaries (`initdb`, `pg_ctl`): data in `<work_dir>/postgres/data`, listening on
127.0.0.1 only (no Unix socket, so no shared /run folder is needed), password authentication
(scram-sha-256) for one superuser whose random password lives in `<work_dir>/postgres/pgpass`
(mode 0600, `.pgpass` format, so `psql` can use it through PGPASSFILE).

PostgreSQL refuses to run as root. When LOGalyzer runs as root (containers, CI), the server runs
as `publish.local.os_user` (default `postgres`, the user Debian's package creates) through
`runuser`; that user must be able to reach the work directory. Tests start the same kind of
cluster in a temporary folder, so CI and `logalyzer run` use one mechanism.
"""
from __future__ import annotations

import glob
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import stat
import subprocess
from pathlib import Path

from logalyzer.publish.connection import DbTarget, PublishError

_BIN_GLOBS = ("/usr/lib/postgresql/*/bin", "/usr/local/pgsql/bin", "/usr/pgsql-*/bin",
              "/opt/homebrew/opt/postgresql*/bin", "/usr/local/opt/postgresql*/bin")


class LocalServerError(PublishError):
    pass


def _version_key(path: str):
    nums = [int(n) for n in re.findall(r"\d+", path)]
    return nums or [0]


def find_server_binaries(bin_dir: str | None = None) -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: ``bin_dir``, PATH, then the usual places (newest)."""
    def ok(folder) -> bool:
        return folder and all(os.access(os.path.join(folder, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres"))

    if bin_dir:
        return Path(bin_dir) if ok(bin_dir) else None
    on_path = shutil.which("pg_ctl")
    if on_path:
        folder = os.path.dirname(os.path.realpath(on_path))
        if ok(folder):
            return Path(folder)
    for pattern in _BIN_GLOBS:
        for folder in sorted(glob.glob(pattern), key=_version_key, reverse=True):
            if ok(folder):
                return Path(folder)
    return None


def server_version(bin_dir: Path) -> str:
    out = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True)
    m = re.search(r"\(PostgreSQL\)\s+(\S+)", out.stdout)
    return m.group(1) if out.returncode == 0 and m else "unknown"


def free_port(preferred: int | None = None, what: str = "the local PostgreSQL server",
              error: type[Exception] = LocalServerError) -> int:
    """``preferred`` when it is free on 127.0.0.1, else any free port (also for the local Superset)."""
    for port in ([preferred] if preferred else []) + [0]:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return s.getsockname()[1]
    raise error(f"no free TCP port on 127.0.0.1 for {what}")


class LocalPostgres:
    """The private cluster in ``base_dir`` (``data/``, ``log/``, ``pgpass``, ``cluster.json``)."""

    def __init__(self, base_dir, user: str = "logalyzer", database: str = "logalyzer", port: int = 0,
                 os_user: str = "postgres", bin_dir: str | None = None, schema: str = "logalyzer"):
        self.base = Path(base_dir).absolute()
        self.data = self.base / "data"
        self.logfile = self.base / "log" / "server.log"
        self.pgpass = self.base / "pgpass"
        self.meta_file = self.base / "cluster.json"
        self.user, self.database, self.schema = user, database, schema
        self.wanted_port = int(port or 0)
        self.os_user = os_user
        self.bin_dir_setting = bin_dir
        self.as_root = hasattr(os, "geteuid") and os.geteuid() == 0

    @classmethod
    def from_conf(cls, conf: dict) -> "LocalPostgres":
        pub = conf.get("publish") or {}
        local = pub.get("local") or {}
        work = Path(str((conf.get("project") or {}).get("work_dir") or "work"))
        return cls(work / str(local.get("dir") or "postgres"), user=str(local.get("user") or "logalyzer"),
                   database=str(local.get("database") or "logalyzer"), port=int(local.get("port") or 0),
                   os_user=str(local.get("os_user") or "postgres"), bin_dir=local.get("bin_dir"),
                   schema=str(pub.get("schema") or "logalyzer"))

    # -- facts ------------------------------------------------------------------------------------
    def bin_dir(self) -> Path:
        found = find_server_binaries(self.bin_dir_setting)
        if not found:
            raise LocalServerError(
                "PostgreSQL server binaries (initdb, pg_ctl) not found"
                + (f" in publish.local.bin_dir={self.bin_dir_setting}" if self.bin_dir_setting else "")
                + ": install them (`apt-get install postgresql`, `brew install postgresql`) "
                  "or configure a server with LOGALYZER_DB_URL")
        return found

    def initialized(self) -> bool:
        return (self.data / "PG_VERSION").exists() and self.pgpass.exists()

    def _meta(self) -> dict:
        try:
            return json.loads(self.meta_file.read_text())
        except (OSError, ValueError):
            return {}

    def password(self) -> str:
        return self.pgpass.read_text().strip().rsplit(":", 1)[-1]

    def target(self, port: int) -> DbTarget:
        return DbTarget(host="127.0.0.1", port=port, dbname=self.database, user=self.user,
                        password=self.password(), schema=self.schema,
                        source=f"local cluster in {self.base}")

    def running_port(self) -> int | None:
        """The port of the server running on this data folder, or None."""
        pid_file = self.data / "postmaster.pid"
        try:
            lines = pid_file.read_text().splitlines()
        except OSError:
            return None
        if self._pg_ctl(["status"], check=False).returncode != 0:
            return None
        try:
            return int(lines[3])
        except (IndexError, ValueError):
            return None

    # -- running commands as the server's user ------------------------------------------------------
    def _server_uid(self):
        if not self.as_root:
            return None
        try:
            return pwd.getpwnam(self.os_user)
        except KeyError:
            raise LocalServerError(
                f"running as root, and PostgreSQL refuses to run as root; the user {self.os_user!r} that "
                "should run it does not exist (Debian's postgresql package creates `postgres`; or set "
                "publish.local.os_user)") from None

    def _run(self, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        name = os.path.basename(argv[0])
        if self.as_root:
            self._server_uid()
            runuser = shutil.which("runuser")
            if runuser:
                argv = [runuser, "-u", self.os_user, "--"] + argv
            else:
                argv = ["su", "-s", "/bin/sh", self.os_user, "-c", " ".join(_sh_quote(a) for a in argv)]
        out = subprocess.run(argv, capture_output=True, text=True, cwd="/")
        if check and out.returncode != 0:
            raise LocalServerError(f"{name} failed "
                                   f"({out.returncode}): {(out.stderr or out.stdout).strip()[-800:]}")
        return out

    def _pg_ctl(self, args: list[str], check: bool = True):
        return self._run([str(self.bin_dir() / "pg_ctl"), "-D", str(self.data)] + args, check=check)

    def _give_to_server(self, path: Path, mode: int) -> None:
        os.chmod(path, mode)
        owner = self._server_uid()
        if owner is not None:
            os.chown(path, owner.pw_uid, owner.pw_gid)

    def _check_reachable(self) -> None:
        """As root, the server's user must be able to enter every folder above the data folder."""
        if not self.as_root:
            return
        if self._run(["test", "-w", str(self.logfile.parent)], check=False).returncode == 0:
            return
        blocker = next((str(p) for p in reversed(self.base.parents)
                        if p.exists() and not os.stat(p).st_mode & stat.S_IXOTH), None)
        raise LocalServerError(
            f"the local PostgreSQL server runs as {self.os_user!r} (PostgreSQL refuses root), which cannot "
            f"reach {self.base}" + (f" ({blocker} is not searchable by other users)" if blocker else "")
            + ": set project.work_dir to a folder it can reach (e.g. --set project.work_dir=/var/tmp/logalyzer), "
              f"`chmod o+x {blocker or 'the folders above it'}`, or configure a server with LOGALYZER_DB_URL")

    # -- lifecycle ----------------------------------------------------------------------------------
    def init(self) -> None:
        """Create the cluster (once): data folder, superuser with a random password, pgpass file."""
        bins = self.bin_dir()
        self.base.mkdir(parents=True, exist_ok=True)
        os.chmod(self.base, 0o755)
        (self.base / "log").mkdir(exist_ok=True)
        self._give_to_server(self.base / "log", 0o755)
        self._check_reachable()
        if self.data.exists() and any(self.data.iterdir()):
            raise LocalServerError(f"{self.data} exists but is not a complete LOGalyzer cluster "
                                   "(no PG_VERSION or pgpass): move it away or delete it")
        self.data.mkdir(exist_ok=True)
        self._give_to_server(self.data, 0o700)
        password = secrets.token_urlsafe(24)
        pwfile = self.base / f".initpw-{secrets.token_hex(4)}"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(password + "\n")
        try:
            self._give_to_server(pwfile, 0o600)
            self._run([str(bins / "initdb"), "-D", str(self.data), "-U", self.user, f"--pwfile={pwfile}",
                       "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-instructions"])
        finally:
            pwfile.unlink(missing_ok=True)
        fd = os.open(self.pgpass, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(f"127.0.0.1:*:*:{self.user}:{password}\n")
        self.meta_file.write_text(json.dumps({"user": self.user, "database": self.database,
                                              "version": server_version(bins)}, indent=1))

    def start(self) -> tuple[DbTarget, str]:
        """Start the cluster, or reuse it when it runs. Returns the target and what happened."""
        what = "reused"
        if not self.initialized():
            self.init()
            what = "created"
        port = self.running_port()
        if port is None:
            self._check_reachable()
            meta = self._meta()
            port = free_port(self.wanted_port or meta.get("port"))
            # local only; a bigger buffer cache and WAL budget than the defaults (128MB, 1GB), so a
            # publish of millions of rows does not force a checkpoint every few seconds
            opts = (f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' "
                    "-c shared_buffers=256MB -c max_wal_size=4GB")
            out = self._pg_ctl(["start", "-w", "-t", "60", "-l", str(self.logfile), "-o", opts], check=False)
            if out.returncode != 0:
                tail = ""
                try:
                    tail = " | ".join(self.logfile.read_text().strip().splitlines()[-5:])
                except OSError:
                    pass
                raise LocalServerError(f"the local PostgreSQL server in {self.data} did not start: "
                                       f"{(out.stderr or out.stdout).strip()[-400:]} {tail}".strip())
            self.meta_file.write_text(json.dumps(dict(meta, port=port), indent=1))
            what = "created and started" if what == "created" else "started"
        target = self.target(port)
        self._ensure_database(target)
        return target, what

    def _ensure_database(self, target: DbTarget) -> None:
        from dataclasses import replace

        from logalyzer.publish.connection import connect

        conn = connect(replace(target, dbname="postgres"), autocommit=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,))
                if not cur.fetchone():
                    from psycopg2 import sql

                    cur.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))
        finally:
            conn.close()

    def stop(self, mode: str = "fast") -> bool:
        """Stop the server if it runs; True when it was running."""
        if not self.initialized() or self.running_port() is None:
            return False
        self._pg_ctl(["stop", "-w", "-t", "60", "-m", mode])
        return True

    def connect_hint(self, target: DbTarget) -> str:
        rel = os.path.relpath(self.pgpass) if not os.path.relpath(self.pgpass).startswith("..") else str(self.pgpass)
        return (f"PGPASSFILE={rel} psql -h {target.host} -p {target.port} -U {target.user} {target.dbname}"
                f"   (tables in schema {target.schema}; stop the server with `logalyzer db stop`)")


def _sh_quote(s: str) -> str:
    import shlex

    return shlex.quote(s)
