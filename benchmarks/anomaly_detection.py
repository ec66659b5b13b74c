"""Anomaly detection on raw log files with labels, end to end through the project's own stages.

    python benchmarks/anomaly_detection.py --train PATH --test PATH --labels FILE \\
        --format LAYOUT --session-key REGEX

* ``--train``: log files (a file, folder or glob) taken as normal; ``--test``: the files to judge;
* ``--labels``: CSV ``session_id,label`` (``Normal``/``Anomaly`` or 0/1), e.g. loghub's
  ``anomaly_label.csv`` (``BlockId,Label``);
* ``--format``: the header layout in the loghub notation, e.g.
  ``'<Date> <Time> <Pid> <Level> <Component>: <Content>'``;
* ``--session-key``: a regex; a unit is every line naming the same match (a line naming several
  belongs to each), e.g. ``'blk_-?\\d+'``.

Steps, each the stage code ``logalyzer`` runs: ingest the training files with the layout →
templates (Drain) → identifier sequences of the training lines → train both detectors (k and the
thresholds from held-out training units, never from the labels) → ingest the test files →
templates (continuing the same Drain state) → identifier sequences of the test lines → score →
load the labels → evaluate. Nothing here knows the vocabulary of any log.

Time windows instead of identifiers (BGL-style line labels), one file split in time:

    python benchmarks/anomaly_detection.py --train BGL_2k.log --format '<Label> <Timestamp> ...' \\
        --line-label-field Label --window '1 hour' --split 0.5

trains on the windows of the first half of the time range that hold no labelled line and judges
every window of the second half (a window is anomalous when it holds a line whose field is not
``--normal-value``, default ``-``).

Playback sessions of set-top-box logs (the generated fleet: labels by device and time range):

    logalyzer generate --out fleet/train --devices 24 --days 3 --seed 303 --start-date 2026-11-01 --anomaly-rate 0
    logalyzer generate --out fleet/test --devices 24 --days 3 --seed 404 --start-date 2026-11-10
    python benchmarks/anomaly_detection.py --train fleet/train --test fleet/test \
        --labels fleet/test/labels.csv --format logcat --units session

runs the full sessions stage after each ingest and judges the sessions of the test files' dates.

The last line printed is ``F1 deeplog <a> autoencoder <b> consolidated <c>``.
"""
from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

log = logging.getLogger("anomaly_detection")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True, help="normal log files: file, folder or glob")
    p.add_argument("--test", help="log files to judge (identifier mode)")
    p.add_argument("--labels", help="CSV session_id,label (identifier mode)")
    p.add_argument("--format", required=True, help="header layout (loghub notation) or a preset such as logcat")
    p.add_argument("--session-key", help="regex naming a unit's identifier")
    p.add_argument("--units", choices=("id", "session"), default="id",
                   help="id: identifier sequences (--session-key); session: playback sessions (labels by "
                        "device_id,start_ts,end_ts)")
    p.add_argument("--line-label-field", help="time-window mode: the layout field holding each line's label")
    p.add_argument("--normal-value", default="-", help="line label of a normal line (default '-')")
    p.add_argument("--window", default="1 hour", help="time-window mode: fixed window size (default 1 hour)")
    p.add_argument("--split", type=float, default=0.5, help="time-window mode: share of the time range to train on")
    p.add_argument("--work", help="working folder (lake, MLflow store); default: a temporary one, removed")
    p.add_argument("--master", default="local[*]", help="Spark master (default local[*])")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="any configuration override, as for logalyzer --set")
    args = p.parse_args(argv)
    if args.line_label_field is None and not (args.test and args.labels and (args.session_key or args.units == "session")):
        p.error("identifier mode needs --test, --labels and --session-key (or use --units session, or "
                "--line-label-field)")
    return args


def _conf(args, work: str):
    from logalyzer.config import load_config

    overrides = [f"lake.root={os.path.join(work, 'lake')}", f"project.work_dir={os.path.join(work, 'work')}",
                 f"spark.master={args.master}", "sessions.sequences.fixed.enabled=false",
                 "sessions.sequences.sliding.enabled=false"]
    if args.units == "session" and not args.line_label_field:
        overrides += ["models.units=[session]", "sessions.sequences.id.enabled=false"]
    elif args.session_key:
        overrides += [f"sessions.sequences.id.regex={_yaml_str(args.session_key)}", "models.units=[id]"]
    else:
        overrides += [f"sessions.sequences.fixed.size={_yaml_str(args.window)}", "models.units=[fixed]"]
    return load_config(os.path.join(ROOT, "conf"), overrides + list(args.overrides), env="__benchmark__")


def _yaml_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _ingest(spark, catalog, conf, path: str, fmt: str, say) -> str:
    from logalyzer.ingest import run_ingest
    from logalyzer.ingest.parse import QUARANTINE_REASONS
    from logalyzer.templates.pipeline import run_templates

    counts = run_ingest(spark, catalog, conf, path, fmt=fmt, progress=say)
    quarantined = sum(counts.get(f"lines_{r}", 0) for r in QUARANTINE_REASONS)
    say(f"ingest {path}: {counts.get('lines_loaded', 0):,} lines loaded, {quarantined:,} quarantined")
    if not counts.get("lines_loaded"):
        raise SystemExit(f"error: no line of {path} could be read with the layout {fmt!r} "
                         "(see the quarantine table for why)")
    run_templates(spark, catalog, conf, progress=say)
    return counts["run_id"]


def _print_results(results: dict, detectors) -> None:
    print(f"\n{'':<14} {'precision':>9} {'recall':>7} {'F1':>6}   tp / fp / fn")
    for name in [*detectors, "consolidated"]:
        m = results.get(name, {"precision": 0, "recall": 0, "f1": 0, "tp": 0, "fp": 0, "fn": 0})
        print(f"{name:<14} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f}   {m['tp']} / {m['fp']} / {m['fn']}")
    f1 = {n: results.get(n, {}).get("f1", 0.0) for n in ("deeplog", "autoencoder", "consolidated")}
    print(f"F1 deeplog {f1['deeplog']:.4f} autoencoder {f1['autoencoder']:.4f} consolidated {f1['consolidated']:.4f}")


def run_identifiers(spark, catalog, conf, args, say) -> dict:
    from pyspark.sql import functions as F

    from logalyzer.models.evaluate import run_evaluate
    from logalyzer.models.labels import load_labels
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train
    from logalyzer.sessions import id_sessions

    train_run = _ingest(spark, catalog, conf, args.train, args.format, say)
    sequences = id_sessions(catalog.read("events").where(F.col("run_id") == train_run), conf)
    catalog.overwrite("event_sequences", sequences)
    say(f"training units: {catalog.read('event_sequences').count():,} identifier sequences")
    run_train(spark, catalog, conf, progress=say)

    test_run = _ingest(spark, catalog, conf, args.test, args.format, say)
    catalog.overwrite("event_sequences", id_sessions(catalog.read("events").where(F.col("run_id") == test_run), conf))
    say(f"test units: {catalog.read('event_sequences').count():,} identifier sequences")
    run_score(spark, catalog, conf, progress=say, everything=True)
    load_labels(spark, catalog, args.labels, "id")
    result = run_evaluate(spark, catalog, conf, progress=say)["results"]
    if "id" not in result:
        raise SystemExit("error: none of the test sequences is named in the labels file (check --session-key "
                         "against the labels' first column)")
    return result["id"]


def run_sessions_mode(spark, catalog, conf, args, say) -> dict:
    from pyspark.sql import functions as F

    from logalyzer.models.evaluate import run_evaluate
    from logalyzer.models.labels import load_labels
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train
    from logalyzer.sessions.pipeline import run_sessions

    _ingest(spark, catalog, conf, args.train, args.format, say)
    run_sessions(spark, catalog, conf, progress=say)
    run_train(spark, catalog, conf, progress=say)
    test_run = _ingest(spark, catalog, conf, args.test, args.format, say)
    dates = sorted(str(r["date"]) for r in catalog.read("log_lines").where(F.col("run_id") == test_run)
                   .select("date").distinct().collect())
    run_sessions(spark, catalog, conf, progress=say)
    run_score(spark, catalog, conf, progress=say, dates=dates)
    load_labels(spark, catalog, args.labels, "session")
    # only the test files' dates were scored, and evaluate judges scored units only
    return run_evaluate(spark, catalog, conf, progress=say)["results"]["session"]


def run_windows(spark, catalog, conf, args, say) -> dict:
    from pyspark.sql import functions as F

    from logalyzer.models.evaluate import confusion, verdicts
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train
    from logalyzer.sessions import fixed_window_sessions
    from logalyzer.sessions.config import SessionsConfig
    from logalyzer.sessions.prepare import device_key_col

    _ingest(spark, catalog, conf, args.train, args.format, say)
    events = catalog.read("events")
    size_us = SessionsConfig.of(conf).fixed_size_s * 1_000_000
    label = F.col("fields").getItem(args.line_label_field)
    bad = (events.where(label.isNotNull() & (label != F.lit(args.normal_value)))
           .select(device_key_col().alias("key"), (F.floor(F.unix_micros("ts") / size_us) * size_us).alias("_w"))
           .distinct().withColumn("truth", F.lit(True)))
    windows = fixed_window_sessions(events, conf)
    windows = (windows.withColumn("_w", F.unix_micros("window_start")).join(bad, ["key", "_w"], "left")
               .withColumn("truth", F.coalesce("truth", F.lit(False))).drop("_w").persist())
    span = windows.agg(F.min("window_start").alias("a"), F.max("window_start").alias("b")).first()
    cut = span["a"] + (span["b"] - span["a"]) * args.split
    train = windows.where((F.col("window_start") < F.lit(cut)) & ~F.col("truth")).drop("truth")
    test = windows.where(F.col("window_start") >= F.lit(cut))
    catalog.overwrite("event_sequences", train)
    say(f"training units: {catalog.read('event_sequences').count():,} normal windows before {cut}")
    run_train(spark, catalog, conf, progress=say)
    truth = test.select(F.lit("fixed").alias("unit_kind"), F.col("sequence_id").alias("unit_id"), "truth").persist()
    catalog.overwrite("event_sequences", test.drop("truth"))
    n = truth.agg(F.count(F.lit(1)).alias("n"), F.sum(F.col("truth").cast("int")).alias("a")).first()
    say(f"test units: {n['n']:,} windows from {cut}, {n['a'] or 0:,} holding a labelled line")
    run_score(spark, catalog, conf, progress=say, everything=True)
    return confusion(verdicts(catalog.read("anomaly_scores"), catalog.read("anomalies_consolidated")
                              if catalog.exists("anomalies_consolidated")
                              else catalog.read("anomaly_scores").select("unit_kind", "unit_id").limit(0), truth))


def main(argv=None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "pyspark", "mlflow", "alembic", "petastorm"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    import warnings

    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=UserWarning)
    work = args.work or tempfile.mkdtemp(prefix="logalyzer-anomaly-")
    started = time.time()
    try:
        from logalyzer.catalog import Catalog
        from logalyzer.models.config import ModelsConfig
        from logalyzer.spark import build_spark

        conf = _conf(args, work)
        spark = build_spark("logalyzer-anomaly-benchmark", conf)
        catalog = Catalog(spark, conf)
        mode = run_windows if args.line_label_field else (run_sessions_mode if args.units == "session"
                                                             else run_identifiers)
        results = mode(spark, catalog, conf, args, log.info)
        log.info("done in %.1f s", time.time() - started)
        _print_results(results, ModelsConfig.of(conf).detectors)
        return 0
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
