"""A private Apache Superset under project.work_dir, for `logalyzer dashboards serve` and the browser test.

Superset pins its own versions of Flask, SQLAlchemy, pandas and more, which clash with the
pipeline's, so it lives in a virtual environment of its own (`<work_dir>/superset/venv`, made with
the packages in dashboards.superset.packages). Its metadata is a SQLite file beside it; the
config file, a random SECRET_KEY and a random admin password are generated once and kept there
(files of mode 0600). The server is gunicorn on 127.0.0.1, started in the background with its pid
in `superset.pid`, reused while it answers /health, stopped by `logalyzer dashboards serve --stop`.
"""
from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Callable

from logalyzer.dashboards.client import SupersetError
from logalyzer.publish.local_server import free_port

ADMIN_USER = "admin"

_CONFIG = '''\
# Written by LOGalyzer (logalyzer/dashboards/superset_server.py); regenerated at every start.
import os
SECRET_KEY = open(os.path.join({base!r}, "secret_key")).read().strip()
SQLALCHEMY_DATABASE_URI = "sqlite:///" + os.path.join({base!r}, "superset.db")
# The datasets' SQL is Jinja-templated ({{{{ from_dttm }}}}, filter_values(...)); every chart drawn
# when the page loads (no virtualisation), so a screenshot shows all of them.
FEATURE_FLAGS = {{"ENABLE_TEMPLATE_PROCESSING": True, "DASHBOARD_VIRTUALIZATION": False}}
TALISMAN_ENABLED = False
WTF_CSRF_TIME_LIMIT = None
SUPERSET_WEBSERVER_TIMEOUT = 120
'''


class LocalSuperset:
    def __init__(self, base_dir, venv: str | None = None, host: str = "127.0.0.1", port: int = 8088,
                 workers: int = 2, packages: list[str] | None = None):
        self.base = Path(base_dir).absolute()
        self.venv = Path(venv).absolute() if venv else self.base / "venv"
        self.host, self.wanted_port, self.workers = host, int(port or 8088), int(workers or 2)
        self.packages = list(packages or ["apache-superset==6.1.0", "psycopg2-binary", "rich",
                                          "flask-caching<2.4", "cachetools"])
        self.pid_file = self.base / "superset.pid"
        self.state_file = self.base / "server.json"
        self.log_file = self.base / "log" / "superset.log"

    @classmethod
    def from_conf(cls, conf: dict) -> "LocalSuperset":
        sup = (conf.get("dashboards") or {}).get("superset") or {}
        work = Path(str((conf.get("project") or {}).get("work_dir") or "work"))
        return cls(work / str(sup.get("dir") or "superset"), venv=sup.get("venv"), host=sup.get("host", "127.0.0.1"),
                   port=int(sup.get("port") or 8088), workers=int(sup.get("workers") or 2),
                   packages=sup.get("packages"))

    # -- the virtual environment --------------------------------------------------------------------
    @property
    def superset_bin(self) -> Path:
        return self.venv / "bin" / "superset"

    def installed(self) -> bool:
        return self.superset_bin.exists() and (self.venv / "bin" / "gunicorn").exists()

    def install(self, progress: Callable = print) -> float:
        """Create the virtual environment and install Superset into it (minutes); seconds taken."""
        started = time.time()
        progress(f"dashboards: installing {', '.join(self.packages)} into {self.venv} (a few minutes, once)")
        self.venv.parent.mkdir(parents=True, exist_ok=True)
        base_python = getattr(sys, "_base_executable", None) or sys.executable
        for argv in ([base_python, "-m", "venv", str(self.venv)],
                     [str(self.venv / "bin" / "python"), "-m", "pip", "install", "-q", *self.packages]):
            out = subprocess.run(argv, capture_output=True, text=True)
            if out.returncode != 0:
                raise SupersetError(f"installing Superset failed ({' '.join(argv[:4])} ...): "
                                    f"{(out.stderr or out.stdout).strip()[-1500:]}")
        progress(f"dashboards: Superset installed in {time.time() - started:.0f} s")
        return time.time() - started

    # -- configuration and metadata ---------------------------------------------------------------
    def _secret(self, name: str) -> str:
        path = self.base / name
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(32) + "\n")
        return path.read_text().strip()

    def admin_password(self) -> str:
        return self._secret("admin_password")

    def env(self) -> dict:
        env = dict(os.environ, SUPERSET_CONFIG_PATH=str(self.base / "superset_config.py"), FLASK_APP="superset",
                   SUPERSET_HOME=str(self.base), PYTHONPATH="")
        env.pop("PYTHONHOME", None)
        return env

    def _superset(self, *args: str, timeout: int = 900) -> None:
        out = subprocess.run([str(self.superset_bin), *args], capture_output=True, text=True, env=self.env(),
                             cwd=str(self.base), timeout=timeout)
        if out.returncode != 0:
            raise SupersetError(f"`superset {' '.join(args[:2])}` failed: {(out.stderr or out.stdout).strip()[-1500:]}")

    def initialize(self, progress: Callable = print) -> None:
        """Config file, metadata database, admin user, roles: the first time only (the marker file)."""
        if not self.installed():
            raise SupersetError(f"Superset is not installed in {self.venv}: run `logalyzer dashboards setup` "
                                "(or `logalyzer dashboards serve`, which installs it)")
        self.base.mkdir(parents=True, exist_ok=True)
        (self.base / "log").mkdir(exist_ok=True)
        self._secret("secret_key")
        config = self.base / "superset_config.py"
        config.write_text(_CONFIG.format(base=str(self.base)))
        marker = self.base / "initialized"
        if marker.exists():
            return
        started = time.time()
        progress("dashboards: creating Superset's metadata database and admin user (about a minute, once)")
        self._superset("db", "upgrade")
        self._superset("fab", "create-admin", "--username", ADMIN_USER, "--firstname", "LOGalyzer",
                       "--lastname", "Admin", "--email", "admin@localhost", "--password", self.admin_password())
        self._superset("init")
        marker.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))
        progress(f"dashboards: Superset metadata ready in {time.time() - started:.0f} s")

    # -- the server -----------------------------------------------------------------------------------
    def _state(self) -> dict:
        try:
            return json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}

    def url(self) -> str | None:
        """The URL of the running server, or None."""
        state = self._state()
        if not state or not self._pid_alive(state.get("pid")):
            return None
        return state["url"] if _healthy(state["url"]) else None

    @staticmethod
    def _pid_alive(pid) -> bool:
        try:
            if os.waitpid(int(pid), os.WNOHANG)[0]:   # our own child that has exited (tests)
                return False
        except (ChildProcessError, TypeError, ValueError):
            pass
        try:
            os.kill(int(pid), 0)
            return True
        except (TypeError, ValueError, ProcessLookupError, PermissionError):
            return False

    def start(self, progress: Callable = print, timeout: float = 300) -> tuple[str, str]:
        """Start Superset (or reuse the running one): (url, what happened)."""
        running = self.url()
        if running:
            return running, "reused"
        self.initialize(progress)
        port = free_port(self.wanted_port, "Superset", SupersetError)
        url = f"http://{self.host}:{port}"
        log = open(self.log_file, "ab")
        argv = [str(self.venv / "bin" / "gunicorn"), "--workers", str(self.workers), "--threads", "4",
                "--timeout", "120", "--bind", f"{self.host}:{port}", "--limit-request-line", "0",
                "superset.app:create_app()"]
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, env=self.env(), cwd=str(self.base),
                                start_new_session=True)   # its own process group: stop() ends every worker
        self.state_file.write_text(json.dumps({"pid": proc.pid, "url": url}))
        started = time.time()
        while time.time() - started < timeout:
            if proc.poll() is not None:
                tail = self.log_file.read_text(errors="replace").strip().splitlines()[-15:]
                raise SupersetError("Superset exited at start: " + " | ".join(tail))
            if _healthy(url):
                progress(f"dashboards: Superset started at {url} in {time.time() - started:.0f} s (log {self.log_file})")
                return url, "started"
            time.sleep(1)
        self.stop()
        raise SupersetError(f"Superset did not answer {url}/health within {timeout:.0f} s (log {self.log_file})")

    def stop(self) -> bool:
        pid = self._state().get("pid")
        if not self._pid_alive(pid):
            return False
        try:
            os.killpg(int(pid), signal.SIGTERM)
        except ProcessLookupError:
            return False
        for _ in range(60):
            if not self._pid_alive(pid):
                break
            time.sleep(0.5)
        else:
            os.killpg(int(pid), signal.SIGKILL)
        self.state_file.unlink(missing_ok=True)
        return True


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/health", timeout=5) as resp:
            return resp.status == 200
    except OSError:
        return False
