"""The train stage: units → a DeepLog and an Autoencoder per unit kind, logged and registered in MLflow.

Per unit kind (``models.units``):

1. **extract**: the units from the lake (``units.py``), split by a hash of their id into training
   and validation units; the template lineage; the vocabulary from the training units.
2. **transform**: Spark builds each detector's training rows (DeepLog: (history, next) windows;
   Autoencoder: feature vectors), petastorm streams them to torch (``training.py``).
3. **choose**: k (DeepLog) and the threshold (Autoencoder) from the validation units, scored by
   the same code the scoring job uses (``scoring.py``), so driver memory stays flat.
4. **load**: MLflow logs parameters, per-epoch losses, the vocabulary, k / threshold and the
   signature; the model is registered and promoted (``registry.promote``).

Only the store check happens before the first Spark job, so an unreachable MLflow server costs
nothing; only small summaries (vocabulary, rank histogram, feature statistics) reach the driver.
"""
from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from dataclasses import dataclass, field
from typing import Callable

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.models import autoencoder, deeplog, registry
from logalyzer.models.config import ModelsConfig
from logalyzer.models.features import Featurizer, build_vocabulary, model_input
from logalyzer.models.scoring import arrow_batches, score_units
from logalyzer.models.training import epochs_for, fit, petastorm_rows, pick_device, seed_everything
from logalyzer.models.units import is_validation, metric_columns, template_aliases, to_units, unit_table
from logalyzer.runlog import begin_run

log = logging.getLogger(__name__)


class NotEnoughDataError(ValueError):
    """Too few units to train on; the message says how many there are and what to do."""


@dataclass
class Trained:
    scorer: object
    params: dict
    metrics: dict                                   # final metrics; validation_metric among them
    history: list = field(default_factory=list)     # per epoch: train_loss, val_loss, seconds


@dataclass
class Context:
    spark: SparkSession
    cfg: ModelsConfig
    device: object
    progress: Callable
    unit_kind: str


# -- detectors -------------------------------------------------------------------------------------
def train_deeplog(ctx: Context, featurizer: Featurizer, train_units: DataFrame, val_units: DataFrame,
                  n_val: int) -> Trained:
    cfg, dl = ctx.cfg, ctx.cfg.deeplog
    vocab = featurizer.vocab
    name = f"deeplog/{ctx.unit_kind}"
    train_rows = deeplog.training_windows(deeplog.index_sequences(train_units, featurizer), dl.history)
    val_rows = deeplog.training_windows(deeplog.index_sequences(val_units, featurizer), dl.history)
    seed_everything(cfg.seed, cfg.threads)
    net = deeplog.make_net(vocab.size, dl.embedding, dl.hidden, dl.layers)
    started = time.time()
    with petastorm_rows(train_rows, cfg.petastorm_cache_dir) as tr, \
            petastorm_rows(val_rows, cfg.petastorm_cache_dir) as va:
        n_rows = len(tr)
        ctx.progress(f"{name}: {n_rows:,} distinct (history, next template) windows from the training units; "
                     f"vocabulary {vocab.size - 2:,} templates")
        epochs = epochs_for(n_rows, dl.batch_size, dl.epochs, dl.min_steps)
        history = fit(net, tr, va if len(va) else None, epochs=epochs, batch_size=dl.batch_size,
                      learning_rate=dl.learning_rate, loss=deeplog.loss, device=ctx.device, seed=cfg.seed,
                      progress=ctx.progress, name=name)
    train_seconds = time.time() - started
    meta = {"vocab_size": vocab.size, "embedding": dl.embedding, "hidden": dl.hidden, "layers": dl.layers,
            "history": dl.history, "k": None, "max_windows": cfg.max_windows_per_forward}
    scorer = deeplog.DeepLogScorer(net.cpu(), featurizer, meta)
    with arrow_batches(ctx.spark, cfg.batch_units):
        scored = score_units(val_units, scorer)
        ranks = [(float(r["score"]), int(r["count"])) for r in scored.groupBy("score").count().collect()]
        totals = scored.agg(F.sum("loss").alias("loss"), F.sum("loss_weight").alias("w")).first()
    max_k = max(1, min(dl.max_k, vocab.size))
    k, share = deeplog.choose_k(ranks, n_val, dl.max_flagged_share, max_k)
    if share > dl.max_flagged_share:
        ctx.progress(f"{name}: even k={k} flags {share:.1%} of the validation units "
                     f"(max_flagged_share {dl.max_flagged_share:.1%}): templates outside the vocabulary or "
                     "too little training data")
    scorer.meta["k"] = k
    metric = float(totals["loss"] or 0.0) / float(totals["w"]) if totals["w"] else float("nan")
    ctx.progress(f"{name}: k = {k} (flags {share:.2%} of {n_val:,} validation units); "
                 f"validation NLL per position {metric:.4f}")
    params = {"history": dl.history, "embedding": dl.embedding, "hidden": dl.hidden, "layers": dl.layers,
              "epochs": epochs, "min_steps": dl.min_steps, "batch_size": dl.batch_size,
              "learning_rate": dl.learning_rate, "max_flagged_share": dl.max_flagged_share, "max_k": max_k}
    metrics = {"k": k, "validation_flagged_share": share, "validation_metric": metric,
               "train_rows": n_rows, "train_seconds": train_seconds,
               "seconds_per_epoch": train_seconds / max(epochs, 1)}
    return Trained(scorer, params, metrics, history)


def train_autoencoder(ctx: Context, featurizer: Featurizer, train_units: DataFrame, val_units: DataFrame,
                      n_val: int) -> Trained:
    cfg, ae = ctx.cfg, ctx.cfg.autoencoder
    name = f"autoencoder/{ctx.unit_kind}"
    n_features = featurizer.n_features
    train_rows = autoencoder.feature_rows(train_units, featurizer).orderBy("unit_id").select("features")
    val_rows = autoencoder.feature_rows(val_units, featurizer).orderBy("unit_id").select("features")
    mean, std = autoencoder.feature_stats(train_rows, n_features, ae.min_scale)
    seed_everything(cfg.seed, cfg.threads)
    net = autoencoder.make_net(n_features, ae.hidden)
    started = time.time()
    with petastorm_rows(train_rows, cfg.petastorm_cache_dir) as tr, \
            petastorm_rows(val_rows, cfg.petastorm_cache_dir) as va:
        n_rows = len(tr)
        ctx.progress(f"{name}: {n_rows:,} training units, {n_features:,} features "
                     f"({featurizer.n_counts:,} template counts, {len(featurizer.metric_names)} metrics)")
        epochs = epochs_for(n_rows, ae.batch_size, ae.epochs, ae.min_steps)
        history = fit(net, tr, va if len(va) else None, epochs=epochs, batch_size=ae.batch_size,
                      learning_rate=ae.learning_rate, loss=autoencoder.make_loss(mean, std), device=ctx.device,
                      seed=cfg.seed, progress=ctx.progress, name=name)
    train_seconds = time.time() - started
    meta = {"n_features": n_features, "hidden": list(ae.hidden), "threshold": None,
            "reason_features": ae.reason_features, "score_features": ae.score_features}
    scorer = autoencoder.AutoencoderScorer(net.cpu(), featurizer, meta, mean, std)
    # The threshold's reference: the held-out validation units (the model never fitted them), or
    # with `threshold_from: training` every unit of the period (more units, so a larger maximum).
    reference = val_units if ae.threshold_from == "validation" else train_units.unionByName(val_units)
    with arrow_batches(ctx.spark, cfg.batch_units):
        scored = (score_units(reference, scorer).withColumn("_val", is_validation(cfg.validation_share, cfg.seed))
                  .persist(StorageLevel.MEMORY_AND_DISK))
        try:
            q = ae.threshold_percentile / 100.0
            stats = scored.agg(F.percentile_approx("score", q, 100_000).alias("t"), F.count(F.lit(1)).alias("n"),
                               F.avg(F.when(F.col("_val"), F.col("loss"))).alias("m")).first()
            threshold = float(stats["t"])
            share = scored.where(F.col("_val") & (F.col("score") > F.lit(threshold))).count() / max(n_val, 1)
        finally:
            scored.unpersist()
    scorer.meta["threshold"] = threshold
    metric = float(stats["m"])
    ctx.progress(f"{name}: threshold {threshold:.4f} (percentile {ae.threshold_percentile} of {int(stats['n']):,} "
                 f"{ae.threshold_from} units' scores, flags {share:.2%} of the validation units); "
                 f"mean validation reconstruction error {metric:.4f}")
    params = {"hidden": json.dumps(list(ae.hidden)), "epochs": epochs, "min_steps": ae.min_steps,
              "batch_size": ae.batch_size,
              "learning_rate": ae.learning_rate, "threshold_percentile": ae.threshold_percentile,
              "threshold_from": ae.threshold_from, "score_features": ae.score_features,
              "min_scale": ae.min_scale, "n_features": n_features, "counts_from": featurizer.counts_from}
    metrics = {"threshold": threshold, "validation_flagged_share": share, "validation_metric": metric,
               "train_rows": n_rows, "train_seconds": train_seconds,
               "seconds_per_epoch": train_seconds / max(epochs, 1)}
    return Trained(scorer, params, metrics, history)


TRAINERS = {"deeplog": train_deeplog, "autoencoder": train_autoencoder}


# -- the stage -------------------------------------------------------------------------------------
def _validation_metric(spark, scorer, val_units: DataFrame, batch_units: int) -> float | None:
    with arrow_batches(spark, batch_units):
        t = score_units(val_units, scorer).agg(F.sum("loss").alias("l"), F.sum("loss_weight").alias("w")).first()
    return float(t["l"]) / float(t["w"]) if t["w"] else None


def _log_history(run_id: str, history: list) -> None:
    """Per-epoch losses in a few batched calls (one store write per 900 values, not three per epoch)."""
    import math
    import time as _time

    from mlflow import MlflowClient
    from mlflow.entities import Metric

    now = int(_time.time() * 1000)
    metrics = [Metric(key, float(row[field]), now, row["epoch"])
               for row in history for key, field in (("train_loss", "train_loss"), ("val_loss", "val_loss"),
                                                     ("epoch_seconds", "seconds"))
               if not math.isnan(float(row[field]))]
    client = MlflowClient()
    for a in range(0, len(metrics), 900):
        client.log_batch(run_id, metrics=metrics[a:a + 900])


def _log_and_register(client, ctx: Context, detector: str, trained: Trained, common: dict,
                      val_units: DataFrame) -> dict:
    import mlflow

    cfg = ctx.cfg
    name = cfg.mlflow.model_name(detector, ctx.unit_kind)
    current = registry.champion(client, name, cfg.mlflow.champion_alias)
    champion_metric = None
    if current is not None:
        try:   # the champion, scored on this run's validation units: the same yardstick for both
            old, _ = registry.load_scorer(cfg, name, cfg.mlflow.champion_alias)
            champion_metric = _validation_metric(ctx.spark, old.with_aliases(trained.scorer.featurizer.aliases),
                                                 val_units, cfg.batch_units)
        except Exception as exc:  # an unloadable champion must not block a new model
            log.warning("champion %s v%s could not be evaluated: %s", name, current.version, exc)
    with mlflow.start_run(run_name=f"{detector}-{ctx.unit_kind}") as run:
        mlflow.set_tags({"logalyzer.detector": detector, "logalyzer.unit_kind": ctx.unit_kind,
                         "logalyzer.train_run_id": common["train_run_id"]})
        mlflow.log_params({**{k: v for k, v in common.items() if k != "train_run_id"}, **trained.params})
        _log_history(run.info.run_id, trained.history)
        mlflow.log_metrics({k: float(v) for k, v in trained.metrics.items()})
        featurizer = trained.scorer.featurizer
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "vocabulary.json")
            with open(path, "w", encoding="utf-8") as fh:
                json.dump({**featurizer.vocab.to_dict(), "metric_names": featurizer.metric_names}, fh,
                          ensure_ascii=False, indent=1)
            mlflow.log_artifact(path)
        info = registry.log_detector(trained.scorer, name)
        version = str(info.registered_model_version)
        try:
            alias, why = registry.promote(client, cfg, name, version, trained.metrics["validation_metric"],
                                          champion_metric, current.version if current is not None else None)
        except Exception:
            # never leave a registered version without its alias decision
            client.delete_model_version(name, version)
            raise
        mlflow.set_tags({"logalyzer.promotion": why, "logalyzer.alias": alias, "logalyzer.model_version": version})
        ctx.progress(f"{name} v{version}: {alias} ({why})")
        return {"model": name, "version": version, "alias": alias, "why": why, "mlflow_run_id": run.info.run_id,
                **{k: trained.metrics[k] for k in ("validation_metric", "validation_flagged_share")},
                **({"k": trained.metrics["k"]} if "k" in trained.metrics else {}),
                **({"threshold": trained.metrics["threshold"]} if "threshold" in trained.metrics else {})}


def run_train(spark: SparkSession, catalog, conf: dict, progress: Callable = print,
              unit_kinds=None, detectors=None) -> dict:
    """Train and register every configured detector for every configured unit kind; returns a summary."""
    cfg = ModelsConfig.of(conf)
    kinds = tuple(unit_kinds or cfg.units)
    dets = tuple(detectors or cfg.detectors)
    status, results = "failed", []
    client = registry.configure(cfg)          # before any Spark job: an unreachable store fails fast
    device = pick_device(cfg.device)
    run = begin_run(catalog, "train", ",".join(kinds), progress)   # the lake's lock; one row in run_log
    run_id = run.run_id
    try:
        aliases = template_aliases(catalog)
        templates = catalog.read("templates") if catalog.exists("templates") else None
        for kind in kinds:
            table = catalog.read(unit_table(kind))
            metric_names = metric_columns(table, cfg)
            units = model_input(to_units(table, kind, cfg)).withColumn(
                "_val", is_validation(cfg.validation_share, cfg.seed)).persist(StorageLevel.MEMORY_AND_DISK)
            try:
                sizes = units.agg(F.count(F.when(~F.col("_val"), 1)).alias("train"),
                                  F.count(F.when(F.col("_val"), 1)).alias("val")).first()
                n_train, n_val = int(sizes["train"]), int(sizes["val"])
                if n_train < cfg.min_train_units or n_val == 0:
                    raise NotEnoughDataError(
                        f"train: {n_train} training and {n_val} validation {kind} units in `{unit_table(kind)}`; "
                        f"at least {cfg.min_train_units} training units (models.min_train_units) and one validation "
                        "unit are needed: ingest more logs and run `logalyzer sessions`")
                train_units, val_units = units.where(~F.col("_val")), units.where(F.col("_val"))
                vocab = build_vocabulary(train_units, aliases, templates, cfg.vocab_max_size, cfg.vocab_min_count,
                                         cfg.counts_from)
                featurizer = Featurizer(vocab, metric_names, aliases, cfg.counts_from)
                progress(f"train {kind}: {n_train:,} training and {n_val:,} validation units, vocabulary of "
                         f"{vocab.size - 2:,} templates, {len(metric_names)} metrics, device {device}")
                common = {"train_run_id": run_id, "unit_kind": kind, "train_units": n_train,
                          "validation_units": n_val, "vocabulary_size": vocab.size - 2, "seed": cfg.seed,
                          "device": str(device), "validation_share": cfg.validation_share,
                          "metrics": json.dumps(metric_names), "lake": catalog.root}
                ctx = Context(spark, cfg, device, progress, kind)
                for det in dets:
                    trained = TRAINERS[det](ctx, featurizer, train_units, val_units, n_val)
                    results.append({"unit_kind": kind, "detector": det,
                                    **_log_and_register(client, ctx, det, trained, common, val_units)})
            finally:
                units.unpersist()
        status = "succeeded"
        return {"run_id": run_id, "status": status, "models": results}
    finally:
        run.finish(status, {"models_registered": len(results)}, {"models": results})
