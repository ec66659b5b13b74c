"""Small files at the lake root: the format marker and the one-writer-at-a-time lock.

Two runs writing one lake at once would each think the other's half-written rows are an
unfinished run of their own and roll them back. So every writing stage holds
``_logalyzer_lock.json`` (pid, host, stage, run id) while it runs; a second one stops with a clear
message. A lock whose process is gone (same host, pid no longer running) is stale: it is taken over
with a note, and the caller learns which run died so that stage can clean up after it.

On a local folder the lock is created with O_EXCL (atomic); on other Hadoop filesystems with
``create(overwrite=false)``, atomic on HDFS and ABFS but not on S3, where a scheduler must keep runs
of one lake apart itself.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import socket
import time
import uuid

from logalyzer.errors import LakeError, LakeLockedError
from logalyzer.jvm import gateway

log = logging.getLogger(__name__)

LOCK_FILE = "_logalyzer_lock.json"
MARKER_FILE = "_logalyzer_lake.json"

# Locks this process holds, by lake root: a stage started inside another one's run shares its lock.
_HELD: dict = {}


class LakeFiles:
    """Read, create and delete small text files at the lake root (local folder or any Hadoop filesystem)."""

    def __init__(self, root: str, spark=None):
        self.root = root.rstrip("/")
        self.local = "://" not in root and not root.startswith(("dbfs:", "file:"))
        self.spark = spark

    def _hpath(self, name: str):
        from logalyzer.jvm import hadoop_fs     # the one door to the JVM (Spark Connect: JvmUnavailable)

        return hadoop_fs(self.spark, f"{self.root}/{name}" if name else self.root)

    def where(self, name: str) -> str:
        return f"{self.root}/{name}"

    def make_root(self) -> None:
        try:
            if self.local:
                os.makedirs(self.root, exist_ok=True)
                if not os.access(self.root, os.W_OK | os.X_OK):
                    raise PermissionError(f"no write permission on {self.root}")
            else:
                fs, path = self._hpath("")
                fs.mkdirs(path)
        except Exception as exc:   # one line naming the path: the traceback only with --verbose
            raise LakeError(f"cannot write to the lake at {self.root}: {_one_line(exc)}") from exc

    def read(self, name: str) -> str | None:
        if self.local:
            try:
                with open(self.where(name), encoding="utf-8") as fh:
                    return fh.read()
            except (FileNotFoundError, NotADirectoryError):
                return None
        fs, path = self._hpath(name)
        if not fs.exists(path):
            return None
        stream = fs.open(path)
        try:
            return gateway(self.spark)[0].org.apache.commons.io.IOUtils.toString(stream, "UTF-8")
        finally:
            stream.close()

    def create(self, name: str, text: str) -> bool:
        """Create ``name`` holding ``text`` unless it exists; False when it already did."""
        self.make_root()
        if self.local:
            try:
                fd = os.open(self.where(name), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                return False
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            return True
        fs, path = self._hpath(name)
        try:
            out = fs.create(path, False)
        except Exception as exc:
            if "exists" in str(exc).lower():
                return False
            raise
        try:
            out.write(bytearray(text.encode("utf-8")))
        finally:
            out.close()
        return True

    def rename(self, name: str, new_name: str) -> bool:
        """Atomic on a local folder: of two processes renaming the same file, one succeeds."""
        if self.local:
            try:
                os.rename(self.where(name), self.where(new_name))
                return True
            except FileNotFoundError:
                return False
        fs, path = self._hpath(name)
        _, new = self._hpath(new_name)
        return bool(fs.rename(path, new))

    def delete(self, name: str) -> None:
        if self.local:
            try:
                os.remove(self.where(name))
            except FileNotFoundError:
                pass
            return
        fs, path = self._hpath(name)
        fs.delete(path, False)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def pid_running(pid: int) -> bool:
    """True when a process with this id runs on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class LakeLock:
    """The lake's writer lock; ``acquire`` returns the stale holder it took over (or None)."""

    def __init__(self, files: LakeFiles):
        self.files = files

    def holder(self) -> dict | None:
        text = self.files.read(LOCK_FILE)
        if text is None:
            return None
        try:
            return json.loads(text)
        except ValueError:
            return {"unreadable": text[:200]}

    def is_stale(self, holder: dict) -> bool:
        if "pid" not in holder:
            return True   # a lock file cut short while being written: its writer died at once
        if holder.get("host") != socket.gethostname():
            return False  # another machine's process: cannot be checked from here
        if holder["pid"] == os.getpid():
            return self.files.root not in _HELD   # this process' own leftover (a pid reused in a container)
        return not pid_running(int(holder["pid"]))

    def acquire(self, stage: str, run_id: str) -> dict | None:
        root = self.files.root
        now = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        if root in _HELD:
            # a stage inside another run (`logalyzer run`): the lock file names the innermost one, so
            # whoever finds it stale knows which stage's work to clean up
            stack = _HELD[root]["stack"]
            stack.append({**stack[0], "stage": stage, "run_id": run_id, "started_at": now, "details": {}})
            self._rewrite()
            return None
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "stage": stage, "run_id": run_id,
                "started_at": now, "token": uuid.uuid4().hex, "details": {}}
        text = json.dumps(mine, indent=1)
        stale = None
        for _ in range(3):
            if self.files.create(LOCK_FILE, text):
                _HELD[root] = {"stack": [mine], "token": mine["token"]}
                if stale:
                    log.warning("lake %s: took over the lock of %s run %s (pid %s on %s), which is no longer "
                                "running", root, stale.get("stage", "?"), stale.get("run_id", "?"),
                                stale.get("pid", "?"), stale.get("host", "?"))
                return stale
            holder = self.holder()
            if holder is not None and "pid" not in holder:
                time.sleep(0.5)            # created a moment ago and not written yet, or cut short?
                holder = self.holder()
            if holder is None:
                continue   # released in between: try again
            if not self.is_stale(holder):
                raise LakeLockedError(
                    f"the lake at {root} is in use by `{holder.get('stage')}` (run {holder.get('run_id')}, pid "
                    f"{holder.get('pid')} on {holder.get('host')}, since {holder.get('started_at')}): wait until it "
                    f"ends. If that process is gone (e.g. killed on another machine), delete "
                    f"{self.files.where(LOCK_FILE)}")
            # Only one of several processes taking a stale lock over wins this rename.
            if self.files.rename(LOCK_FILE, f"{LOCK_FILE}.stale.{mine['token']}"):
                self.files.delete(f"{LOCK_FILE}.stale.{mine['token']}")
                stale = holder
        raise LakeLockedError(f"the lake at {root} is being locked and unlocked by other runs; try again")

    def release(self) -> None:
        root = self.files.root
        held = _HELD.get(root)
        if not held:
            return
        held["stack"].pop()
        if held["stack"]:
            self._rewrite()
            return
        del _HELD[root]
        holder = self.holder()
        if holder and holder.get("token") == held["token"]:
            self.files.delete(LOCK_FILE)

    def abandon(self) -> None:
        """Let go of the lock but leave its file: the next run finds it stale and cleans up after this one."""
        _HELD.pop(self.files.root, None)

    def note(self, **details) -> None:
        """Add ``details`` to the lock file (what a run has started to write), for whoever finds it stale."""
        held = _HELD.get(self.files.root)
        if held:
            held["stack"][-1]["details"].update(details)
            self._rewrite()

    def _rewrite(self) -> None:
        info = _HELD[self.files.root]["stack"][-1]
        tmp = f"{LOCK_FILE}.{info['token']}.tmp"
        self.files.delete(tmp)
        self.files.create(tmp, json.dumps(info, indent=1, default=str))
        if self.files.local:
            os.replace(self.files.where(tmp), self.files.where(LOCK_FILE))
        else:   # not atomic off a local folder; the window is a few milliseconds
            self.files.delete(LOCK_FILE)
            self.files.rename(tmp, LOCK_FILE)

    @staticmethod
    def held(root: str) -> bool:
        return root.rstrip("/") in _HELD
