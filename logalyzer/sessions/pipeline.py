"""The sessions stage: ``events`` -> ``sessions``, ``event_sequences``, ``device_timeseries``.

Full run (no dates): every date is read and the three tables are replaced. Incremental run
(``dates`` given, or ``sessions.dates`` in conf), see ``plan_dates`` and docs/sessions.md:

* ``sessions`` (by start date): the given dates and ``lookback_days`` before them are rewritten, from
  lines read one more day back and ``lookahead_days`` forward. Whether a line starts a session
  depends only on it and the line before it, so sessions starting on a rewritten date come out the
  same as in a full run (same ids): a session across midnight is rebuilt whole under its start date
  and never split or counted twice.
* ``device_timeseries``: buckets never cross midnight, so only the given dates are rewritten.
* ``event_sequences``: fixed windows of the given dates, sliding windows overlapping them, and whole
  identifier sequences for identifiers seen on them (read from all dates) replace their old rows.

Nothing is collected to the driver but counts.
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Callable, Iterable

from pyspark import StorageLevel
from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from logalyzer.sessions.config import SessionsConfig
from logalyzer.sessions.generic import fixed_window_sessions, id_key_col, id_sessions, sliding_window_sessions
from logalyzer.sessions.playback import playback_sessions, sessionize
from logalyzer.sessions.prepare import prepare_events
from logalyzer.sessions.timeseries import device_timeseries
from logalyzer.stage_input import read_input, upstream_is_empty


def _as_date(d) -> dt.date:
    if isinstance(d, dt.datetime):
        return d.date()
    if isinstance(d, dt.date):
        return d
    return dt.date.fromisoformat(str(d).strip())


def plan_dates(dates: Iterable, cfg: SessionsConfig) -> dict:
    """For the dates to process: which session dates to rewrite and which event dates to read."""
    given = sorted({_as_date(d) for d in dates})
    day = dt.timedelta(days=1)
    write = sorted({d - i * day for d in given for i in range(cfg.lookback_days + 1)})
    ahead = max(cfg.lookahead_days, 1)
    read = sorted({w + i * day for w in write for i in range(-1, ahead + 1)})
    return {"dates": given, "session_dates": write, "read_dates": read,
            "sliding_dates": sorted({d + i * day for d in given for i in (-1, 0, 1)})}


def _storage_level(name: str):
    name = (name or "NONE").upper()
    return None if name == "NONE" else getattr(StorageLevel, name)


def _overlaps(dates: list) -> F.Column:
    """A window ``[window_start, window_end)`` overlaps one of ``dates`` (windows are at most a day)."""
    last_instant = F.col("window_end") - F.expr("INTERVAL 1 MICROSECOND")
    return F.to_date("window_start").isin(dates) | F.to_date(last_instant).isin(dates)


def _stage_sequences(catalog, cfg: SessionsConfig, prepared: DataFrame, plan: dict | None,
                     events_all: DataFrame) -> DataFrame | None:
    """New ``event_sequences`` rows; with a plan, unioned with the old rows they do not replace."""
    parts, touched = [], None
    if cfg.fixed_enabled:
        lines = prepared.where(F.col("date").isin(plan["dates"])) if plan else prepared
        parts.append(fixed_window_sessions(lines, cfg))
    if cfg.sliding_enabled:
        if plan:
            lines = prepared.where(F.col("date").isin(plan["sliding_dates"]))
            parts.append(sliding_window_sessions(lines, cfg).where(_overlaps(plan["dates"])))
        else:
            parts.append(sliding_window_sessions(prepared, cfg))
    if cfg.id_enabled:
        if plan:
            # whole identifier sequences: every line (any date) of the identifiers seen on the dates
            touched = id_key_col(prepared.where(F.col("date").isin(plan["dates"])), cfg).select("_key").distinct()
            candidates = id_key_col(events_all, cfg).join(touched, "_key", "left_semi")
            # a candidate line may name other identifiers too: keep only the touched sequences
            parts.append(id_sessions(candidates.drop("_key", "device_key"), cfg)
                         .join(touched.select(F.col("_key").alias("key")), "key", "left_semi"))
        else:
            parts.append(id_sessions(prepared, cfg))
    if not parts:
        return None
    new = parts[0]
    for part in parts[1:]:
        new = new.unionByName(part)
    if plan is None or not catalog.exists("event_sequences"):
        return new
    old = catalog.read("event_sequences")
    stale = F.lit(False)
    if cfg.fixed_enabled:
        stale = stale | ((F.col("kind") == "fixed") & F.col("date").isin(plan["dates"]))
    if cfg.sliding_enabled:
        stale = stale | ((F.col("kind") == "sliding") & _overlaps(plan["dates"]))
    kept = old.where(~F.coalesce(stale, F.lit(False)))
    if touched is not None:
        kept = kept.join(touched.select(F.lit("id").alias("kind"), F.col("_key").alias("key")),
                         ["kind", "key"], "left_anti")
    return kept.unionByName(new, allowMissingColumns=True)


def _write(catalog, name: str, df: DataFrame, dates: list | None, by: str | None = None,
           values: tuple = ()) -> int | dict:
    """Replace the table, or only its ``dates`` partitions; return the rows written (per ``by`` value).

    On Parquet the rows are counted while they are written (``DataFrame.observe``); on Delta, whose
    writer runs the query inside its own command, by reading the written rows back.
    """
    metrics = [F.count(F.lit(1)).alias("__all__")]
    metrics += [F.count(F.when(F.col(by) == v, 1)).alias(str(v)) for v in values] if by else []
    observation = None
    if catalog.format == "parquet":
        observation = Observation(f"sessions_{name}_{uuid.uuid4().hex[:8]}")
        df = df.observe(observation, *metrics)
    # a partition overwrite of a table that does not exist yet is a plain write
    catalog.overwrite(name, df, partitions_only=bool(dates) and catalog.exists(name))
    if observation is not None:
        got = observation.get
    else:
        written = catalog.read(name)
        got = (written.where(F.col("date").isin(dates)) if dates else written).agg(*metrics).first().asDict()
    return {k: v for k, v in got.items() if k != "__all__"} if by else got["__all__"]


def run_sessions(spark: SparkSession, catalog, conf: dict, progress: Callable = print, dates=None) -> dict:
    """Run the stage; ``dates`` (or ``sessions.dates``) makes it incremental. Returns counts (also in ``run_log``)."""
    from logalyzer.runlog import stage_run

    with stage_run(catalog, "sessions", "events", progress) as run:   # the lake's lock; one row in run_log
        counts = _build_sessions(spark, catalog, conf, progress, dates)
        run.counts = {k: v for k, v in counts.items() if k != "event_sequences"}
        run.details = {k: counts[k] for k in ("mode", "dates", "event_sequences") if k in counts}
        return counts


def _build_sessions(spark: SparkSession, catalog, conf: dict, progress: Callable, dates) -> dict:
    cfg = SessionsConfig.of(conf)
    dates = dates if dates is not None else cfg.dates
    plan = plan_dates(dates, cfg) if dates else None
    t0 = time.time()
    # no rows (or no events because templates found no log_lines rows to template): nothing to do
    events_all = None if not catalog.exists("events") and upstream_is_empty(catalog, "log_lines") \
        else read_input(catalog, "events")
    if events_all is None:
        progress("sessions: events holds no rows; nothing to do")
        return {"lines_read": 0, "lines": 0, "sessions": 0, "mode": "nothing to do"}
    events = events_all.where(F.col("date").isin(plan["read_dates"])) if plan else events_all
    if plan:
        progress(f"sessions: incremental for {', '.join(map(str, plan['dates']))}; rewriting sessions of "
                 f"{len(plan['session_dates'])} date(s), reading {len(plan['read_dates'])} date(s) of events")
    else:
        progress("sessions: full rebuild from every date of `events`")

    # de-duplicated, ordered, sessionized lines: computed once (one shuffle, two sorts), read by every output
    prepared = sessionize(prepare_events(events), cfg)
    level = _storage_level(cfg.persist)
    compressed_key = "spark.sql.inMemoryColumnarStorage.compressed"
    restore = spark.conf.get(compressed_key, "true")
    if level is not None:
        # the cache is read a few times and then dropped: building it uncompressed halves its cost
        spark.conf.set(compressed_key, "true" if cfg.persist_compressed else "false")
        prepared = prepared.persist(level)
    try:
        try:  # the first action materialises the cache (its columns are encoded now, with the setting above)
            stats = prepared.agg(F.count(F.lit(1)).alias("lines"),
                                 F.countDistinct("device_key").alias("devices")).first()
        finally:
            spark.conf.set(compressed_key, restore)
        lines, devices = stats["lines"], stats["devices"]
        lines_read = events.where(F.col("ts").isNotNull()).count()
        progress(f"sessions: {lines:,} lines ({lines_read - lines:,} duplicates dropped) from {devices:,} device(s)")
        counts = {"lines_read": lines_read, "lines": lines, "duplicates_dropped": lines_read - lines,
                  "devices": devices, "mode": "incremental" if plan else "full"}
        if plan:
            counts["dates"] = [str(d) for d in plan["dates"]]
            counts["session_dates"] = [str(d) for d in plan["session_dates"]]
        if plan and not lines:
            progress("sessions: no events on those dates; nothing written")
            counts.update(sessions=0, timeseries_rows=0, seconds=round(time.time() - t0, 2))
            return counts

        sessions = playback_sessions(prepared, cfg)
        if plan:
            sessions = sessions.where(F.col("date").isin(plan["session_dates"]))
        counts["sessions"] = _write(catalog, "sessions", sessions, plan and plan["session_dates"])
        progress(f"sessions: {counts['sessions']:,} playback sessions written")

        ts_lines = prepared.where(F.col("date").isin(plan["dates"])) if plan else prepared
        counts["timeseries_rows"] = _write(catalog, "device_timeseries", device_timeseries(ts_lines, cfg),
                                           plan and plan["dates"])
        progress(f"sessions: {counts['timeseries_rows']:,} device time-series rows ({cfg.bucket_s} s buckets)")

        sequences = _stage_sequences(catalog, cfg, prepared, plan, events_all)
        if sequences is not None:
            counts["event_sequences"] = _write(catalog, "event_sequences", sequences, None, by="kind",
                                               values=("id", "fixed", "sliding"))
            progress("sessions: event sequences in table: "
                     + ", ".join(f"{k} {v:,}" for k, v in counts["event_sequences"].items()))
    finally:
        if level is not None:
            prepared.unpersist()
    counts["seconds"] = round(time.time() - t0, 2)
    progress(f"sessions: done in {counts['seconds']} s")
    return counts
