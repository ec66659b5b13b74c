"""The score stage: units → ``anomaly_scores`` (every detector's view) → ``anomalies_consolidated``.

1. **extract**: for each unit kind and detector, the model version under ``models.score.alias``
   (``champion``) from the registry (a clear error naming the registry and the model when there is
   none), and the units to score. Incremental by date like the other stages: by default the dates
   that hold a unit without a score yet (sessions and sequences of a date are rewritten together,
   so a date is scored whole); ``dates`` scores the given dates again; ``everything`` all of them.
2. **transform**: ``scoring.score_units`` in parallel, one model call per Arrow batch.
3. **load**: the scored dates of ``anomaly_scores`` are replaced (rows of other unit kinds or
   detectors on those dates are kept), then the same dates of ``anomalies_consolidated`` are
   rebuilt from them: one row per unit flagged by at least ``models.score.min_detectors``
   detectors, with each detector's score, reason and model version, and a severity (the largest
   score / threshold among the detectors that flagged it).
"""
from __future__ import annotations

import logging
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.models import registry
from logalyzer.models.config import ModelsConfig
from logalyzer.models.features import model_input
from logalyzer.models.scoring import arrow_batches, score_units
from logalyzer.models.units import read_units, template_aliases, unit_table
from logalyzer.runlog import begin_run, utcnow

log = logging.getLogger(__name__)

SCORES_SCHEMA = ("unit_kind string, unit_id string, device_id string, start_ts timestamp, end_ts timestamp, "
                 "detector string, score double, threshold double, flagged boolean, reason string, "
                 "model_name string, model_version string, run_id string, scored_at timestamp, date date")
SCORES_COLUMNS = [c.strip().split(" ")[0] for c in SCORES_SCHEMA.split(",")]
CONSOLIDATED_COLUMNS = ("unit_kind", "unit_id", "device_id", "start_ts", "end_ts", "detectors", "scores", "reasons",
                        "models", "severity", "run_id", "scored_at", "date")


def load_models(cfg: ModelsConfig, kinds, detectors, alias: str) -> dict:
    """(unit kind, detector) → (scorer, model name, version); every model checked before any scoring."""
    out = {}
    for kind in kinds:
        for det in detectors:
            name = cfg.mlflow.model_name(det, kind)
            scorer, version = registry.load_scorer(cfg, name, alias)
            out[(kind, det)] = (scorer, name, str(version.version))
    return out


def has_models(cfg: ModelsConfig, kinds=None, detectors=None, alias: str | None = None) -> bool:
    """Whether every (unit kind, detector) has a version under ``alias`` (``logalyzer run`` trains if not)."""
    client = registry.configure(cfg)
    alias = alias or cfg.score_alias
    return all(registry.champion(client, cfg.mlflow.model_name(d, k), alias) is not None
               for k in (kinds or cfg.units) for d in (detectors or cfg.detectors))


def dates_to_score(units: DataFrame, scored: DataFrame | None, kind: str, detectors) -> list:
    """Dates holding a unit of ``kind`` that some detector has not scored yet (a handful of dates back)."""
    todo = units.select("unit_id", "date")
    if scored is not None:
        done = (scored.where((F.col("unit_kind") == kind) & F.col("detector").isin(list(detectors)))
                .groupBy("unit_id").agg(F.countDistinct("detector").alias("_n"))
                .where(F.col("_n") >= len(detectors)).select("unit_id"))
        todo = todo.join(done, "unit_id", "left_anti")
    return sorted(r["date"] for r in todo.select("date").distinct().collect() if r["date"] is not None)


RUNNING = "running"


def unfinished_dates(catalog) -> list[str]:
    """Dates of score runs since the last successful one that started writing but did not succeed (failed,
    killed, or `running` on a lake written by an older version).

    Their ``anomalies_consolidated`` may not match their scores: the next run scores them again
    (a successful run always covers them, so older failures are settled).
    """
    if not catalog.exists("run_log"):
        return []
    import json

    rows = (catalog.read("run_log").where(F.col("stage") == "score")
            .select("run_id", "status", "started_at", "details").collect())     # one row per run and status
    last_ok = max((r["started_at"] for r in rows if r["status"] == "succeeded"), default=None)
    done = {r["run_id"] for r in rows if r["status"] == "succeeded"}
    dates: set = set()
    for r in rows:
        unfinished = r["status"] in (RUNNING, "failed", "killed") and r["run_id"] not in done
        if unfinished and (last_ok is None or r["started_at"] > last_ok):
            dates.update(json.loads(r["details"] or "{}").get("dates") or [])
    return sorted(dates)


def consolidate(scores: DataFrame, min_detectors: int) -> DataFrame:
    """``anomaly_scores`` rows → one row per unit flagged by at least ``min_detectors`` detectors."""
    ratio = F.when(F.col("flagged") & (F.col("threshold") > 0), F.col("score") / F.col("threshold"))
    per_unit = scores.groupBy("unit_kind", "unit_id").agg(
        F.first("device_id", ignorenulls=True).alias("device_id"), F.min("start_ts").alias("start_ts"),
        F.max("end_ts").alias("end_ts"),
        F.sort_array(F.collect_list(F.when(F.col("flagged"), F.col("detector")))).alias("detectors"),
        F.map_from_entries(F.collect_list(F.struct("detector", "score"))).alias("scores"),
        F.map_from_entries(F.collect_list(F.when(F.col("flagged"), F.struct("detector", "reason")))).alias("reasons"),
        F.map_from_entries(F.collect_list(F.struct(
            "detector", F.concat_ws("/", "model_name", "model_version")))).alias("models"),
        F.max(ratio).alias("severity"), F.max("run_id").alias("run_id"), F.max("scored_at").alias("scored_at"),
        F.first("date").alias("date"))
    return per_unit.where(F.size("detectors") >= F.lit(int(min_detectors))).select(*CONSOLIDATED_COLUMNS)


def _replace_dates(catalog, name: str, df: DataFrame, dates: list) -> int:
    """Make ``df`` the rows of ``dates`` in table ``name``; returns how many rows that is.

    A partitioned Parquet write of no rows writes no file, so "these dates now hold nothing"
    is a delete of their partitions instead.
    """
    df = df.persist()
    try:
        n = df.count()
        if n:
            catalog.overwrite(name, df, partitions_only=catalog.exists(name))
        elif catalog.exists(name):
            catalog.delete(name, "CAST(date AS STRING) IN (%s)" % ", ".join(f"'{d}'" for d in dates))
        return n
    finally:
        df.unpersist()


def run_score(spark: SparkSession, catalog, conf: dict, progress: Callable = print, dates=None,
              everything: bool = False, unit_kinds=None) -> dict:
    """Score new (or the given) dates with the models under the score alias; returns counts."""
    cfg = ModelsConfig.of(conf)
    kinds = tuple(unit_kinds or cfg.units)
    detectors = cfg.detectors
    status, counts, details = "failed", {}, {}
    models = load_models(cfg, kinds, detectors, cfg.score_alias)    # before any work: a missing model fails fast
    run = begin_run(catalog, "score", ",".join(kinds), progress)      # the lake's lock; one row in run_log
    run_id = run.run_id
    try:
        for kind in kinds:
            if not catalog.exists(unit_table(kind)):
                catalog.read(unit_table(kind))      # raises: which stage to run first
        aliases = template_aliases(catalog)
        scored_before = catalog.read("anomaly_scores") if catalog.exists("anomaly_scores") else None
        redo = unfinished_dates(catalog)
        if redo:
            progress(f"score: an earlier run stopped before it finished; scoring {', '.join(redo)} again")
        now = utcnow()
        parts, plan = [], []
        for kind in kinds:
            units = read_units(catalog, kind, cfg)
            if dates:
                todo = sorted({str(d) for d in dates})
            elif everything:
                todo = sorted(r["date"] for r in units.select("date").distinct().collect() if r["date"] is not None)
            else:
                todo = sorted({str(d) for d in dates_to_score(units, scored_before, kind, detectors)} | set(redo))
            if not todo:
                continue
            todo = [str(d) for d in todo]
            plan.append((kind, todo))
            batch = model_input(units.where(F.col("date").isin(todo)))
            for det in detectors:
                scorer, name, version = models[(kind, det)]
                out = score_units(batch, scorer.with_aliases(aliases))
                parts.append(out.select(
                    "unit_kind", "unit_id", "device_id", "start_ts", "end_ts", F.lit(det).alias("detector"),
                    "score", "threshold", "flagged", "reason", F.lit(name).alias("model_name"),
                    F.lit(version).alias("model_version"), F.lit(run_id).alias("run_id"),
                    F.lit(now).cast("timestamp").alias("scored_at"), "date"))
        if not parts:
            progress("score: no new units to score (every session and sequence already has its scores); "
                     "nothing to do")
            status = "succeeded"
            counts = {"units_scored": 0}
            return {"run_id": run_id, "status": status, **counts}
        touched = sorted({d for _, todo in plan for d in todo})
        progress("score: " + "; ".join(f"{kind} units of {len(todo)} date(s)" for kind, todo in plan)
                 + f", detectors {', '.join(detectors)}")
        new = parts[0]
        for p in parts[1:]:
            new = new.unionByName(p)
        redone = spark.createDataFrame([(k, d, day) for k, todo in plan for d in detectors for day in todo],
                                       "unit_kind string, detector string, _day string")
        # on record before the first write (in the lock file too): a run that fails or dies between the
        # two tables is redone next time
        run.note(dates=touched)
        with arrow_batches(spark, cfg.batch_units):
            if scored_before is not None:
                old = scored_before.where(F.col("date").isin(touched))
                kept = old.join(F.broadcast(redone), (old["unit_kind"] == redone["unit_kind"])
                                & (old["detector"] == redone["detector"])
                                & (old["date"].cast("string") == redone["_day"]), "left_anti")
                new = kept.select(*SCORES_COLUMNS).unionByName(new)
            _replace_dates(catalog, "anomaly_scores", new, touched)
        scores = catalog.read("anomaly_scores").where(F.col("date").isin(touched))
        summary = (scores.where(F.col("run_id") == run_id).groupBy("unit_kind", "detector")
                   .agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("flagged").cast("int")).alias("flagged"))
                   .collect())
        n_consolidated = _replace_dates(catalog, "anomalies_consolidated", consolidate(scores, cfg.min_detectors),
                                        touched)
        for r in sorted(summary, key=lambda r: (r["unit_kind"], r["detector"])):
            counts[f"{r['unit_kind']}_{r['detector']}_scored"] = int(r["n"])
            counts[f"{r['unit_kind']}_{r['detector']}_flagged"] = int(r["flagged"] or 0)
            progress(f"score: {r['unit_kind']} / {r['detector']}: {r['flagged'] or 0:,} of {r['n']:,} units flagged")
        counts["dates"] = len(touched)
        counts["anomalies_consolidated"] = n_consolidated
        counts["units_scored"] = sum(v for k, v in counts.items() if k.endswith("_scored") and isinstance(v, int))
        progress(f"score: {n_consolidated:,} anomalies consolidated on {len(touched)} date(s) "
                 f"(flagged by at least {cfg.min_detectors} detector(s))")
        status = "succeeded"
        details = {"dates": touched}
        return {"run_id": run_id, "status": status, **counts,
                "models": {f"{k}/{d}": f"{n}/{v}" for (k, d), (_, n, v) in models.items()}}
    finally:
        run.finish(status, counts, details)
