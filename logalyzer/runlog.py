"""The run log: one row per run of every stage (stage, times, final status, counts), so every outcome is on record.

Each stage's library entry point runs inside ``stage_run`` (or ``begin_run`` ... ``run.finish``):

* it holds the lake's writer lock for the run (logalyzer/lakelock.py), so a second writing stage
  stops with a clear message instead of taking the first one's rows for leftovers;
* a run that fails undoes its own unfinished writes (the callbacks given to ``run.on_failure``)
  before its row is written, so the next run has nothing to roll back and says nothing about it;
* a run killed outright leaves its lock behind; the next writing stage on the lake takes the stale
  lock over, runs the dead stage's cleanup (CLEANUPS) and writes the dead run's row (``killed``).

Statuses: succeeded, failed, failed_strict (ingest: a corrupt file under --strict, rows kept),
killed, and on lakes written before this log had final rows only, running / rolled_back.
"""
from __future__ import annotations

import datetime as dt
import importlib
import json
import logging
import uuid
from contextlib import contextmanager
from typing import Callable

log = logging.getLogger(__name__)

RUN_LOG_SCHEMA = ("run_id string, stage string, started_at timestamp, finished_at timestamp, "
                  "status string, input string, counts map<string,bigint>, details string")
SUCCEEDED, FAILED, KILLED = "succeeded", "failed", "killed"

# stage -> "module:function(catalog, run_id, progress) -> counts" removing what an unfinished run wrote.
# Stages whose writes are replacements (templates, sessions, score, ...) need none: a rerun rewrites.
CLEANUPS = {"ingest": "logalyzer.ingest.pipeline:roll_back_run"}


def new_run_id(stage: str) -> str:
    return f"{stage}-{dt.datetime.now(dt.timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def record_run(catalog, run_id: str, stage: str, started_at: dt.datetime, status: str,
               counts: dict, input_desc: str = "", details: dict | None = None) -> None:
    row = (run_id, stage, started_at, utcnow(), status, input_desc,
           {k: int(v) for k, v in counts.items() if isinstance(v, (int, float)) and not isinstance(v, bool)},
           json.dumps(details or {}, default=str))
    catalog.append("run_log", catalog.spark.createDataFrame([row], RUN_LOG_SCHEMA))


def _one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0] if lines else ''}"[:500]


class StageRun:
    """One run of a stage: its id, counts and details, and the undo steps for a failure."""

    def __init__(self, catalog, stage: str, input_desc: str = "", progress: Callable = print):
        self.catalog, self.stage, self.input_desc, self.progress = catalog, stage, input_desc, progress
        self.run_id = new_run_id(stage)
        self.started_at = utcnow()
        self.counts: dict = {}
        self.details: dict = {}
        self._undo: list = []
        self._open = False

    def on_failure(self, undo: Callable[[], object]) -> None:
        """Run ``undo`` if this run ends failed (latest first), before its row is written."""
        self._undo.append(undo)

    def note(self, **details) -> None:
        """Keep ``details`` with the run, also in the lock file, where a dead run's successor reads them."""
        self.details.update(details)
        self.catalog.lock.note(**details)

    def begin(self) -> "StageRun":
        self._cm = self.catalog.writing(self.stage, self.run_id)
        stale = self._cm.__enter__()
        self._open = True
        if stale:
            try:
                settle_killed(self.catalog, stale, self.progress)
            except BaseException:
                self._open = False
                self._cm.__exit__(None, None, None)
                raise
        return self

    def finish(self, status: str, counts: dict | None = None, details: dict | None = None,
               error: BaseException | None = None) -> None:
        """Undo a failed run's writes, write its one row, let go of the lake."""
        if not self._open:
            return
        self._open = False
        if counts is not None:
            self.counts = counts
        self.details.update(details or {})
        if error is not None:
            self.details.setdefault("error", _one_line(error))
        try:
            if status == FAILED:
                for undo in reversed(self._undo):
                    try:
                        undo()
                    except Exception as exc:   # keep the lock: the next run finds it stale and cleans up
                        log.error("%s run %s: could not undo its writes (%s); the next run on this lake does",
                                  self.stage, self.run_id, _one_line(exc))
                        self.catalog.lock.abandon()
                        return
            record_run(self.catalog, self.run_id, self.stage, self.started_at, status, self.counts,
                       self.input_desc, self.details)
        finally:
            self._cm.__exit__(None, None, None)


def begin_run(catalog, stage: str, input_desc: str = "", progress: Callable = print) -> StageRun:
    """Start a run (lock held); end it with ``run.finish(status, counts)`` in a ``finally``."""
    return StageRun(catalog, stage, input_desc, progress).begin()


@contextmanager
def stage_run(catalog, stage: str, input_desc: str = "", progress: Callable = print):
    """``with stage_run(catalog, "sessions") as run:`` ... the run ends succeeded, or failed on an exception.

    Set ``run.counts`` (and ``run.details``) in the block; ``run.status`` may name another final
    status (e.g. failed_strict).
    """
    run = begin_run(catalog, stage, input_desc, progress)
    run.status = SUCCEEDED
    try:
        yield run
    except BaseException as exc:
        try:
            run.finish(FAILED, error=exc)
        except Exception as record_exc:   # never hide the stage's own error behind the log's
            log.error("%s run %s: could not record its failure: %s", stage, run.run_id, _one_line(record_exc))
        raise
    run.finish(run.status)


def settle_killed(catalog, stale: dict, progress: Callable = print) -> None:
    """The lock of a dead run was taken over: clean up after it and write its row (status killed)."""
    stage, run_id = stale.get("stage"), stale.get("run_id")
    if not stage or not run_id or stage in ("run", "recover"):
        return
    counts: dict = {}
    target = CLEANUPS.get(stage)
    if target:
        module, func = target.split(":")
        counts = getattr(importlib.import_module(module), func)(catalog, run_id, progress) or {}
    try:
        started = dt.datetime.fromisoformat(stale["started_at"]).astimezone(dt.timezone.utc).replace(tzinfo=None)
    except (KeyError, TypeError, ValueError):
        started = utcnow()
    details = {**(stale.get("details") or {}), "note": f"process {stale.get('pid')} on {stale.get('host')} ended "
               "without finishing the run; found by the next run on the lake"}
    record_run(catalog, run_id, stage, started, KILLED, counts, "", details)
    removed = sum(v for v in counts.values() if isinstance(v, int))
    progress(f"lake: the {stage} run {run_id} was killed before it finished (its lock was stale); recorded as "
             f"killed" + (f", {removed:,} rows it had written removed" if removed else ""))


@contextmanager
def hold_lake(catalog, label: str, progress: Callable = print):
    """Hold the lake's lock over several stage runs (``logalyzer run``); each stage still writes its own row."""
    with catalog.writing(label, new_run_id(label)) as stale:
        if stale:
            settle_killed(catalog, stale, progress)
        yield
