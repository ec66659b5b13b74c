"""Anomaly models: training time per epoch, fleet-wide scoring throughput, batched vs per-session scoring,
driver memory against the number of sessions.

    python benchmarks/models.py [--devices 24] [--days 2] [--units 100000]

1. A generated fleet goes through ingest → templates → sessions into a fresh lake (cached in
   ``data/bench_models``), and both detectors are trained on its sessions (``run_train``: Spark
   builds the rows, petastorm feeds torch): seconds per epoch from the training history.
2. Scoring throughput: the lake's sessions, replicated under new ids to ``--units`` (and to a quarter
   of that), are scored by ``scoring.score_units`` (``mapInPandas``, one model call per Arrow batch)
   into Spark's no-op sink, each size in a fresh process, so the driver's peak memory of the two
   sizes can be compared.
3. Baseline in the same run: the same models called once per session in a Python loop (the seed
   system's way), over a sample of sessions, in one process; and the same sample scored in batches
   in that process, so the gain from batching alone is visible too.

Prints a table; figures go in docs/benchmarks.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

from _common import ROOT, fleet, jvm_peak_rss_mb, peak_rss_mb, run_child

BENCH = os.path.join(str(ROOT), "data", "bench_models")


def _conf(master: str):
    from logalyzer.config import load_config

    return load_config(os.path.join(str(ROOT), "conf"), [
        f"lake.root={BENCH}/lake", f"project.work_dir={BENCH}/work", f"spark.master={master}"], env="__benchmark__")


def _quiet():
    import logging
    import warnings

    warnings.filterwarnings("ignore")
    logging.basicConfig(level=logging.WARNING)


def prepare(args) -> dict:
    """Fleet → lake with sessions (once per arguments), then train; returns the training figures."""
    from logalyzer.catalog import Catalog
    from logalyzer.ingest import run_ingest
    from logalyzer.models.train import run_train
    from logalyzer.sessions.pipeline import run_sessions
    from logalyzer.spark import build_spark
    from logalyzer.templates.pipeline import run_templates

    summary = fleet(os.path.join(BENCH, "fleet"), devices=args.devices, lines_per_device_day=5000, days=args.days,
                    seed=11)
    conf = _conf("local[2]")
    spark = build_spark("bench-models-prepare", conf)
    catalog = Catalog(spark, conf)
    stamp = os.path.join(BENCH, "lake.json")
    if not (os.path.exists(stamp) and json.load(open(stamp)).get("fleet") == summary["lines"]):
        import shutil

        shutil.rmtree(os.path.join(BENCH, "lake"), ignore_errors=True)
        shutil.rmtree(os.path.join(BENCH, "work"), ignore_errors=True)
        run_ingest(spark, catalog, conf, os.path.join(BENCH, "fleet"), progress=lambda m: None)
        run_templates(spark, catalog, conf, progress=lambda m: None)
        run_sessions(spark, catalog, conf, progress=lambda m: None)
        json.dump({"fleet": summary["lines"]}, open(stamp, "w"))
    sessions = catalog.read("sessions").count()
    started = time.time()
    result = run_train(spark, catalog, conf, progress=lambda m: None)
    train_s = time.time() - started
    import mlflow

    out = {"sessions": sessions, "lines": summary["lines"], "train_s": train_s, "models": {}}
    client = mlflow.MlflowClient()
    for m in result["models"]:
        run = client.get_run(m["mlflow_run_id"])
        epochs = [x.value for x in client.get_metric_history(m["mlflow_run_id"], "epoch_seconds")]
        out["models"][m["detector"]] = {
            "epochs": len(epochs), "epoch_s_median": statistics.median(epochs),
            "rows": run.data.metrics.get("train_rows"), "train_s": run.data.metrics.get("train_seconds")}
    spark.stop()
    return out


def child_score(args) -> dict:
    """Score ``--units`` replicated sessions with both champions into the no-op sink (fresh process)."""
    from pyspark.sql import functions as F

    from logalyzer.catalog import Catalog
    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.features import model_input
    from logalyzer.models.registry import load_scorer
    from logalyzer.models.scoring import arrow_batches, score_units
    from logalyzer.models.units import read_units, template_aliases
    from logalyzer.spark import build_spark

    conf = _conf(args.master)
    spark = build_spark("bench-models-score", conf)
    catalog = Catalog(spark, conf)
    cfg = ModelsConfig.of(conf)
    units = read_units(catalog, "session", cfg)
    n = units.count()
    copies = -(-args.units // n)
    replicated = (units.withColumn("_copy", F.explode(F.sequence(F.lit(1), F.lit(copies))))
                  .withColumn("unit_id", F.concat_ws("#", "unit_id", "_copy")).drop("_copy").limit(args.units))
    batch = model_input(replicated).persist()
    total = batch.count()
    aliases = template_aliases(catalog)
    out = {"units": total}
    for det in cfg.detectors:
        scorer, _ = load_scorer(cfg, cfg.mlflow.model_name(det, "session"), "champion")
        scorer = scorer.with_aliases(aliases)
        times = []
        for _ in range(args.repeats):
            t = time.perf_counter()
            with arrow_batches(spark, cfg.batch_units):
                score_units(batch, scorer).write.format("noop").mode("overwrite").save()
            times.append(time.perf_counter() - t)
        out[det] = {"seconds": statistics.median(times), "units_per_s": total / statistics.median(times)}
    out["driver_peak_mb"] = peak_rss_mb()
    out["jvm_peak_mb"] = jvm_peak_rss_mb(spark)
    spark.stop()
    return out


def child_loop(args) -> dict:
    """The same models per session in a Python loop, and in batches, over one sample, in this process."""
    import torch

    from logalyzer.catalog import Catalog
    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.features import model_input
    from logalyzer.models.registry import load_scorer
    from logalyzer.models.units import read_units, template_aliases
    from logalyzer.spark import build_spark

    torch.set_num_threads(1)
    conf = _conf(args.master)
    spark = build_spark("bench-models-loop", conf)
    catalog = Catalog(spark, conf)
    cfg = ModelsConfig.of(conf)
    sample = model_input(read_units(catalog, "session", cfg)).limit(args.sample).toPandas()   # bounded sample
    aliases = template_aliases(catalog)
    out = {"sample": len(sample)}
    for det in cfg.detectors:
        scorer, _ = load_scorer(cfg, cfg.mlflow.model_name(det, "session"), "champion")
        scorer = scorer.with_aliases(aliases)
        t = time.perf_counter()
        for i in range(len(sample)):
            scorer.score(sample.iloc[i:i + 1].reset_index(drop=True))
        loop = time.perf_counter() - t
        t = time.perf_counter()
        for a in range(0, len(sample), cfg.batch_units):
            scorer.score(sample.iloc[a:a + cfg.batch_units].reset_index(drop=True))
        batched = time.perf_counter() - t
        out[det] = {"loop_units_per_s": len(sample) / loop, "batched_units_per_s": len(sample) / batched}
    spark.stop()
    return out


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--child", choices=("score", "loop"))
    p.add_argument("--devices", type=int, default=24)
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--units", type=int, default=100_000, help="sessions scored at the large size (default 100,000)")
    p.add_argument("--sample", type=int, default=2000, help="sessions in the per-session loop baseline")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--master", default="local[2]")
    args = p.parse_args()
    _quiet()
    if args.child:
        print(json.dumps(child_score(args) if args.child == "score" else child_loop(args)))
        return 0
    me = os.path.abspath(__file__)
    os.makedirs(BENCH, exist_ok=True)
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    prep = prepare(args)
    print(f"lake: {prep['lines']:,} lines -> {prep['sessions']:,} sessions; train (both detectors) {prep['train_s']:.1f} s")
    for det, m in prep["models"].items():
        print(f"  {det}: {m['rows']:,.0f} training rows, {m['epochs']} epochs, median {m['epoch_s_median']:.2f} s per epoch "
              f"(CPU, {m['train_s']:.1f} s training)")
    small = run_child(me, ["score", "--units", str(args.units // 4), "--repeats", str(args.repeats),
                           "--master", args.master])
    large = run_child(me, ["score", "--units", str(args.units), "--repeats", str(args.repeats), "--master", args.master])
    loop = run_child(me, ["loop", "--sample", str(args.sample), "--master", args.master])
    print(f"\n| detector | scored units | Spark batched units/s ({args.master}) | per-session loop units/s (1 core) "
          "| batched in one process units/s | Spark vs loop | batching alone |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for det in prep["models"]:
        s, lo = large[det]["units_per_s"], loop[det]
        print(f"| {det} | {large['units']:,} | {s:,.0f} | {lo['loop_units_per_s']:,.0f} | {lo['batched_units_per_s']:,.0f} "
              f"| {s / lo['loop_units_per_s']:.1f}x | {lo['batched_units_per_s'] / lo['loop_units_per_s']:.1f}x |")
    print(f"\ndriver peak: {small['driver_peak_mb']:.0f} MB at {small['units']:,} units, {large['driver_peak_mb']:.0f} MB at "
          f"{large['units']:,} units; Spark JVM peak {small['jvm_peak_mb'] or 0:.0f} / {large['jvm_peak_mb'] or 0:.0f} MB")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
