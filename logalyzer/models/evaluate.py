"""The evaluate stage: the scores on record against the ``labels`` table, per detector and consolidated.

Every scored unit the labels say something about (``labels.unit_truth``) counts once (units never
scored, e.g. the training period, are left out): a detector
is right when its ``flagged`` matches the truth; "consolidated" is right when the unit's presence
in ``anomalies_consolidated`` does. Precision, recall and F1 per unit kind go to the console, to
``run_log`` and to MLflow (a run in the models' experiment, tagged with the model versions scored).
"""
from __future__ import annotations

import logging
from typing import Callable

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.models.config import ModelsConfig
from logalyzer.models.labels import unit_truth
from logalyzer.models.units import read_units, unit_table
from logalyzer.runlog import begin_run

log = logging.getLogger(__name__)


def prf(tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def confusion(verdicts: DataFrame) -> dict:
    """``verdicts`` (name, predicted, truth) → name → precision/recall/F1 (one small aggregation)."""
    rows = verdicts.groupBy("name").agg(
        F.sum((F.col("predicted") & F.col("truth")).cast("int")).alias("tp"),
        F.sum((F.col("predicted") & ~F.col("truth")).cast("int")).alias("fp"),
        F.sum((~F.col("predicted") & F.col("truth")).cast("int")).alias("fn"),
        F.sum((~F.col("predicted") & ~F.col("truth")).cast("int")).alias("tn")).collect()
    return {r["name"]: {**prf(int(r["tp"] or 0), int(r["fp"] or 0), int(r["fn"] or 0)), "tn": int(r["tn"] or 0)}
            for r in rows}


def verdicts(scores: DataFrame, consolidated: DataFrame, truth: DataFrame) -> DataFrame:
    """Per unit with a truth: one row per detector and one ``consolidated`` row."""
    det = scores.join(truth, ["unit_kind", "unit_id"]).select(
        F.col("detector").alias("name"), F.col("flagged").alias("predicted"), "truth")
    units = scores.select("unit_kind", "unit_id").distinct().join(truth, ["unit_kind", "unit_id"])
    flagged = consolidated.select("unit_kind", "unit_id").distinct().withColumn("_c", F.lit(True))
    cons = units.join(flagged, ["unit_kind", "unit_id"], "left").select(
        F.lit("consolidated").alias("name"), F.coalesce("_c", F.lit(False)).alias("predicted"), "truth")
    return det.unionByName(cons)


def run_evaluate(spark: SparkSession, catalog, conf: dict, progress: Callable = print, unit_kinds=None,
                 log_to_mlflow: bool = True) -> dict:
    """Precision, recall and F1 of the scores on record, per unit kind; logged to MLflow."""
    cfg = ModelsConfig.of(conf)
    kinds = tuple(unit_kinds or cfg.units)
    status, results = "failed", {}
    run = begin_run(catalog, "evaluate", ",".join(kinds), progress)   # the lake's lock; one row in run_log
    run_id = run.run_id
    try:
        labels = catalog.read("labels")
        scores_all = catalog.read("anomaly_scores")
        consolidated_all = (catalog.read("anomalies_consolidated") if catalog.exists("anomalies_consolidated")
                            else scores_all.select("unit_kind", "unit_id").limit(0))
        for kind in kinds:
            if not catalog.exists(unit_table(kind)):
                continue
            scores = scores_all.where(F.col("unit_kind") == kind)
            scored = read_units(catalog, kind, cfg).join(scores.select("unit_id").distinct(), "unit_id", "left_semi")
            truth = unit_truth(scored, labels).persist()
            try:
                n_truth = truth.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("truth").cast("int")).alias("a")).first()
                if not n_truth["n"]:
                    progress(f"evaluate {kind}: the labels describe no {kind} unit; skipped")
                    continue
                metrics = confusion(verdicts(scores, consolidated_all.where(F.col("unit_kind") == kind), truth))
            finally:
                truth.unpersist()
            versions = sorted(f"{r['model_name']}/{r['model_version']}"
                              for r in scores.select("model_name", "model_version").distinct().collect())
            results[kind] = {"units": int(n_truth["n"]), "anomalous": int(n_truth["a"] or 0), "models": versions,
                             **metrics}
            for name in [*cfg.detectors, "consolidated"]:
                m = metrics.get(name)
                if m:
                    progress(f"evaluate {kind} / {name}: precision {m['precision']:.3f} recall {m['recall']:.3f} "
                             f"F1 {m['f1']:.3f} (tp {m['tp']}, fp {m['fp']}, fn {m['fn']})")
        if log_to_mlflow and results:
            _log(cfg, results, run_id)
        status = "succeeded"
        return {"run_id": run_id, "status": status, "results": results}
    finally:
        flat = {f"{k}_{n}_{m}": v for k, r in results.items() for n, d in r.items() if isinstance(d, dict)
                for m, v in d.items() if m in ("tp", "fp", "fn", "tn")}
        run.finish(status, flat, {"results": results})


def _log(cfg: ModelsConfig, results: dict, run_id: str) -> None:
    import mlflow

    from logalyzer.models import registry

    registry.configure(cfg)
    with mlflow.start_run(run_name=f"evaluate-{run_id}"):
        mlflow.set_tags({"logalyzer.stage": "evaluate", "logalyzer.run_id": run_id})
        for kind, r in results.items():
            mlflow.set_tag(f"logalyzer.models.{kind}", ", ".join(r["models"]))
            mlflow.log_metrics({f"{kind}_units": r["units"], f"{kind}_anomalous": r["anomalous"]})
            for name, m in r.items():
                if isinstance(m, dict):
                    mlflow.log_metrics({f"{kind}_{name}_{x}": float(m[x]) for x in ("precision", "recall", "f1")})
