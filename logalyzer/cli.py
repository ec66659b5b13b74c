"""The `logalyzer` command: one entry point, a subcommand per pipeline stage.

    logalyzer generate --out data/fleet            # synthetic set-top-box logs to try things on
    logalyzer ingest data/fleet                    # gzip logs -> log_lines, quarantine, manifest
    logalyzer templates                            # log_lines -> events (Drain templates)
    logalyzer sessions                             # events -> sessions, sequences, time series
    logalyzer train                                # DeepLog + Autoencoder -> MLflow registry
    logalyzer score                                # sessions -> anomaly_scores, anomalies_consolidated
    logalyzer labels load data/fleet/labels.csv    # ground truth -> labels
    logalyzer evaluate                             # precision / recall / F1 against labels
    logalyzer publish [TABLE ...]                  # gold tables -> PostgreSQL (JDBC or COPY)
    logalyzer db upgrade | status                  # the PostgreSQL schema's migrations
    logalyzer dashboards serve | install --url URL  # Superset dashboards on the published tables
    logalyzer serve                                # HTTP service recording app pushes (field events)
    logalyzer impact                               # each push's before/after effect on its devices
    logalyzer run data/fleet                       # all of the above, in order
    logalyzer tables                               # what the lake holds
    logalyzer doctor                               # check Java, Spark, configuration

Exit codes: 0 success; 1 failure (a stage failed, --strict saw a corrupt file, the lake cannot be
written or another run holds it, or an internal error, shown with its traceback); 2 bad usage (an
argument, setting, input path or format that cannot work). See logalyzer/errors.py.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
import time

log = logging.getLogger("logalyzer")


def _common(parser: argparse.ArgumentParser) -> None:
    g = parser.add_argument_group("configuration")
    g.add_argument("--conf-dir", help="folder holding base/ and local/ YAML (default: ./conf)")
    g.add_argument("--env", default="local", help="override layer under the conf dir (default: local)")
    g.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override one setting, e.g. --set ingest.max_line_length=10000 (repeatable)")
    g.add_argument("--lake", help="lake root folder or URI (shortcut for --set lake.root=...)")
    g.add_argument("--master", help="Spark master, e.g. local[2] (ignored under spark-submit)")
    g.add_argument("-v", "--verbose", action="store_true", help="debug logging")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="logalyzer", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="LOGalyzer: fleet log analytics on Spark.",
        epilog="Run `logalyzer COMMAND --help` for a command's options. A first try:\n"
               "  logalyzer generate --out data/fleet && logalyzer run data/fleet")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("generate", help="write a synthetic fleet of gzip set-top-box logs")
    from logalyzer import generate
    generate.add_arguments(p)

    p = sub.add_parser("ingest", help="read gzip/plain logs into log_lines (bronze)",
                       description="Read every log file under INPUT (a folder, file or glob on any "
                                   "Hadoop filesystem) into the log_lines table. Files already loaded "
                                   "are skipped; unreadable lines go to the quarantine table.")
    p.add_argument("input", help="folder, file or glob: data/fleet, 's3a://bucket/logs/2026-11-*'")
    p.add_argument("--format", dest="fmt",
                   help="preset (logcat, log4j, iso, syslog) or a layout like '<Date> <Time> <Level>: <Content>'")
    p.add_argument("--timestamp-format", metavar="PATTERN",
                   help="Java DateTimeFormatter pattern of the layout's time fields, e.g. 'yyyyMMdd-HH:mm:ss:SSS' "
                        "(default: the preset's, else common forms are detected)")
    p.add_argument("--strict", action="store_true",
                   help="exit 1 when any input file is corrupt or the summary warns (a file loaded no line, "
                        "more than ingest.warn_share of the lines quarantined or rescued)")
    _common(p)

    p = sub.add_parser("templates", help="mine Drain templates: log_lines -> events")
    p.add_argument("--full", action="store_true", help="re-template every line, not only new ones")
    _common(p)

    p = sub.add_parser("sessions", help="playback sessions, event sequences and device time series")
    p.add_argument("--date", dest="dates", action="append", type=_iso_date, metavar="YYYY-MM-DD",
                   help="rebuild only around this date (repeatable); default: every date of events")
    _common(p)

    p = sub.add_parser("train", help="train DeepLog and the Autoencoder, register them in MLflow",
                       description="Build the training set from the lake's sessions / sequences (models.units), "
                                   "train both detectors with torch through petastorm, log them to MLflow and "
                                   "register them; `champion` moves to the new version only when it is at least "
                                   "as good on the validation units, otherwise it becomes `challenger`.")
    p.add_argument("--unit", dest="unit_kinds", action="append", choices=("session", "id", "fixed", "sliding"),
                   help="unit kind to train for (repeatable; default: models.units)")
    p.add_argument("--detector", dest="detectors", action="append", choices=("deeplog", "autoencoder"),
                   help="detector to train (repeatable; default: both)")
    _common(p)

    p = sub.add_parser("score", help="score new sessions / sequences with the champion models",
                       description="Score every unit of the dates that have unscored units (or --date) with the "
                                   "models under models.score.alias (champion), in parallel, and write "
                                   "anomaly_scores and anomalies_consolidated.")
    p.add_argument("--date", dest="dates", action="append", type=_iso_date, metavar="YYYY-MM-DD",
                   help="score this date again (repeatable); default: dates with unscored units")
    p.add_argument("--all", dest="everything", action="store_true", help="score every date again")
    _common(p)

    p = sub.add_parser("labels", help="load ground-truth labels into the lake (for `evaluate`)")
    p.add_argument("action", choices=("load",), help="load: read a label CSV into the labels table")
    p.add_argument("file", help="CSV: KEY,LABEL (session_id,label; BlockId,Label) or device_id,start_ts,end_ts[,...]")
    p.add_argument("--unit", dest="unit_kind", choices=("session", "id", "fixed", "sliding"),
                   help="the unit kind the labels are for (default: any)")
    _common(p)

    p = sub.add_parser("evaluate", help="precision, recall and F1 of the scores against the labels",
                       description="Compare anomaly_scores and anomalies_consolidated with the labels table, per "
                                   "detector and consolidated, and log the metrics to MLflow.")
    _common(p)

    p = sub.add_parser("publish", help="write the lake's gold tables to PostgreSQL",
                       description="Write the lake's gold tables to PostgreSQL (schema publish.schema), "
                                   "each table on its own, in one transaction per table: only dates whose "
                                   "content changed are rewritten. The database is LOGALYZER_DB_URL "
                                   "(publish.url), or with none a private cluster under project.work_dir "
                                   "that is started (or reused) here. Pending migrations are applied first.")
    p.add_argument("tables", nargs="*", metavar="TABLE",
                   help="tables to publish (default: all): sessions devices device_timeseries event_sequences "
                        "templates template_lineage anomaly_scores anomalies_consolidated pipeline_runs")
    p.add_argument("--full", action="store_true", help="rewrite every date, not only the changed ones")
    p.add_argument("--writer", choices=("copy", "jdbc"), help="override publish.writer for this run")
    _common(p)

    p = sub.add_parser("db", help="the PostgreSQL schema: migrations, and the local server",
                       description="upgrade: apply pending migrations; status: list them; start/stop: the "
                                   "private local cluster (used when no LOGALYZER_DB_URL is configured).")
    p.add_argument("action", choices=("upgrade", "status", "start", "stop"))
    _common(p)

    p = sub.add_parser("dashboards", help="Superset dashboards on the published tables: build, install, serve",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="The dashboards are YAML under logalyzer/dashboards/source/ (docs/dashboards.md).\n"
                                   "  build    write the Superset import bundle (a zip) for the configured database\n"
                                   "  install  import it into the Superset at --url; login from LOGALYZER_SUPERSET_USER\n"
                                   "           and LOGALYZER_SUPERSET_PASSWORD\n"
                                   "  setup    install Superset into its own virtual environment under project.work_dir\n"
                                   "  serve    setup if needed, start that Superset on localhost, import, print URL and login\n"
                                   "  stop     stop it")
    p.add_argument("action", choices=("build", "install", "setup", "serve", "stop"))
    p.add_argument("--url", help="install: the Superset to import into, e.g. https://superset.example.com")
    p.add_argument("--out", default="logalyzer_dashboards.zip", help="build: the zip to write")
    p.add_argument("--port", type=int, help="serve: port (default dashboards.superset.port, 8088)")
    _common(p)

    p = sub.add_parser("serve", help="HTTP service that records app pushes (field events) in PostgreSQL",
                       description="Serve POST /events, GET /events and GET /health (docs/field_events.md) on "
                                   "uvicorn. Events go to the publish stage's database (LOGALYZER_DB_URL, or the "
                                   "private local cluster). Clients authenticate with a token from "
                                   "LOGALYZER_EVENT_TOKENS (comma-separated; the service refuses to start without).")
    p.add_argument("--host", help="address to listen on (default: field_events.service.host, 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (default: field_events.service.port, 8080; 0: any free port)")
    _common(p)

    p = sub.add_parser("impact", help="before/after effect of each field event on its devices (-> field_event_impact)",
                       description="For every event in PostgreSQL's field_events, compare the anomaly rate and "
                                   "the BlackScreen / VideoFreeze / DisplayDrop rates of the pushed devices in the "
                                   "N hours before and after (field_events.impact.window_hours) with the devices "
                                   "that got no push (difference in differences with a confidence interval); "
                                   "write the lake table field_event_impact and publish it to PostgreSQL.")
    p.add_argument("--no-publish", action="store_true", help="only write the lake table")
    _common(p)

    p = sub.add_parser("run", help="every stage in one go: ingest ... sessions, train (once), score, publish",
                       description="Run every stage in order: ingest, templates, sessions, then train when no "
                                   "champion model exists yet, score (and evaluate when INPUT holds a "
                                   "labels.csv), and publish to PostgreSQL. Without INPUT, a small synthetic "
                                   "sample fleet is generated into data/sample first (once), so a first try "
                                   "needs nothing but this command.")
    p.add_argument("input", nargs="?", help="folder, file or glob of log files (default: data/sample)")
    p.add_argument("--format", dest="fmt", help="as for ingest")
    p.add_argument("--strict", action="store_true", help="stop when any input file is corrupt")
    _common(p)

    p = sub.add_parser("tables", help="list the lake's tables and their row counts")
    _common(p)

    p = sub.add_parser("doctor", help="check Java, Spark, the configuration and PostgreSQL")
    _common(p)
    return parser


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "pyspark", "urllib3", "mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _context(args, app: str):
    from logalyzer.catalog import Catalog
    from logalyzer.config import load_config
    from logalyzer.spark import build_spark

    overrides = list(args.overrides)
    if args.lake:
        overrides.append(f"lake.root={args.lake}")
    if args.master:
        overrides.append(f"spark.master={args.master}")
    conf = load_config(args.conf_dir, overrides, env=args.env)
    check_before_spark(args, conf)
    if args.command in NO_SPARK:
        return conf, None, None
    spark = build_spark(app, conf)
    return conf, spark, Catalog(spark, conf)


def check_before_spark(args, conf) -> None:
    """Every setting each stage will read, ``--format``, and the input paths: bad ones fail here, in a second."""
    import glob
    import os

    from logalyzer.errors import ConfigError, UsageError
    from logalyzer.ingest.layouts import resolve_layouts
    from logalyzer.models.config import ModelsConfig
    from logalyzer.publish.pipeline import PublishSettings
    from logalyzer.sessions.config import SessionsConfig
    from logalyzer.templates.settings import TemplateSettings

    for settings in (TemplateSettings, SessionsConfig, ModelsConfig, PublishSettings):
        try:
            settings.of(conf)
        except (ValueError, TypeError, KeyError) as exc:
            raise ConfigError(f"configuration: {exc}") from exc
    from logalyzer.catalog import FORMATS

    if (conf.get("lake") or {}).get("format", "auto") not in FORMATS:
        raise ConfigError(f"setting 'lake.format' must be one of {', '.join(FORMATS)}, "
                          f"got {conf['lake']['format']!r}")
    ingest = conf.get("ingest") or {}
    for fmt, what in ((ingest.get("format"), "setting 'ingest.format'"), (getattr(args, "fmt", None), "--format")):
        if fmt:
            try:
                resolve_layouts(fmt, ingest.get("formats") or {})
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{what}: {exc}") from exc
    for attr, what in (("input", "input path"), ("file", "label file")):
        path = getattr(args, attr, None)
        if not path or "://" in path or path.startswith(("dbfs:", "file:")) or "{" in path:
            continue    # a remote filesystem or a Hadoop {a,b} glob: checked by Spark's Hadoop client
        found = glob.glob(path) if glob.has_magic(path) else ([path] if os.path.exists(path) else [])
        if not found:
            raise UsageError(f"{what} not found: {path}")
NO_SPARK = {"serve", "dashboards"}   # commands that need the configuration but no SparkSession


def _print_counts(title: str, counts: dict) -> None:
    print(f"\n{title}")
    width = max((len(k) for k in counts), default=0)
    for key, value in counts.items():
        print(f"  {key:<{width}}  {value:,}" if isinstance(value, int) else f"  {key:<{width}}  {value}")


def _progress(msg: str) -> None:
    log.info(msg)


def cmd_ingest(args, conf, spark, catalog) -> int:
    from logalyzer.ingest import run_ingest

    counts = run_ingest(spark, catalog, conf, args.input, fmt=args.fmt, strict=args.strict, progress=_progress,
                        timestamp_format=getattr(args, "timestamp_format", None))
    warnings = counts.pop("warnings", [])
    _print_counts("ingest summary", counts)
    if not counts.get("files_found"):
        print(f"warning: no log files under {args.input} (file names matching ingest.include "
              f"{(conf.get('ingest') or {}).get('include', '*')!r}): nothing was loaded", file=sys.stderr)
    if counts.get("files_corrupt"):
        print(f"\n{counts['files_corrupt']} corrupt file(s) recorded in ingest_manifest "
              "(status=corrupt, with the error); their lines were not loaded.")
    if warnings:
        print("\nwarning: " + "\nwarning: ".join(warnings))
    if counts["status"] != "succeeded":
        return 1
    known = corrupt_files_still_in_input(spark, catalog, conf, args.input) if args.strict else []
    if known:
        print(f"error: --strict: {len(known)} corrupt file(s) recorded by an earlier run are still in the input, "
              f"e.g. {known[0]}", file=sys.stderr)
        return 1
    return 0


def corrupt_files_still_in_input(spark, catalog, conf, input_path: str) -> list[str]:
    """Files of the input that the manifest records as corrupt, unchanged since (same path, size, mtime)."""
    from pyspark.sql import functions as F

    from logalyzer.ingest.files import list_files
    from logalyzer.ingest.manifest import read_manifest

    corrupt = read_manifest(catalog).where(F.col("status") == "corrupt").select("path", "size", "modified")
    listed = list_files(spark, input_path, (conf.get("ingest") or {}).get("include", "*"))
    return sorted(r.path for r in listed.join(corrupt, ["path", "size", "modified"], "left_semi").collect())


def cmd_templates(args, conf, spark, catalog) -> int:
    from logalyzer.templates.pipeline import run_templates

    _print_counts("templates summary", run_templates(spark, catalog, conf, full=args.full, progress=_progress))
    return 0


def _iso_date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date: {text!r} (expected YYYY-MM-DD)") from None


def cmd_sessions(args, conf, spark, catalog) -> int:
    from logalyzer.sessions.pipeline import run_sessions

    dates = getattr(args, "dates", None)
    _print_counts("sessions summary", run_sessions(spark, catalog, conf, progress=_progress, dates=dates))
    return 0


def cmd_train(args, conf, spark, catalog) -> int:
    from logalyzer.models.train import run_train

    result = run_train(spark, catalog, conf, progress=_progress, unit_kinds=args.unit_kinds, detectors=args.detectors)
    print("\ntrain summary")
    for m in result["models"]:
        extra = f"k={m['k']}" if "k" in m else f"threshold={m['threshold']:.4g}"
        print(f"  {m['model']} v{m['version']}: {m['alias']} ({extra}, validation metric "
              f"{m['validation_metric']:.4g}); {m['why']}")
    _print_mlflow_hint(conf)
    return 0


def _print_mlflow_hint(conf) -> None:
    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.registry import redact

    cfg = ModelsConfig.of(conf)
    if cfg.mlflow.default_store:
        print(f"\nMLflow UI: mlflow ui --backend-store-uri {cfg.mlflow.tracking_uri} "
              f"--default-artifact-root {cfg.mlflow.artifact_location}  (then open http://127.0.0.1:5000)")
    else:
        print(f"\nMLflow: {redact(cfg.mlflow.tracking_uri)}")


def cmd_score(args, conf, spark, catalog) -> int:
    from logalyzer.models.score import run_score

    counts = run_score(spark, catalog, conf, progress=_progress, dates=args.dates, everything=args.everything)
    _print_counts("score summary", {k: v for k, v in counts.items() if k != "models"})
    return 0


def cmd_labels(args, conf, spark, catalog) -> int:
    from logalyzer.models.labels import load_labels

    n = load_labels(spark, catalog, args.file, args.unit_kind)
    print(f"labels: {n:,} rows from {args.file} in the labels table")
    return 0


def cmd_evaluate(args, conf, spark, catalog) -> int:
    from logalyzer.models.evaluate import run_evaluate

    result = run_evaluate(spark, catalog, conf, progress=_progress)
    for kind, r in result["results"].items():
        print(f"\nevaluate {kind}: {r['units']:,} labelled units, {r['anomalous']:,} anomalous; models "
              f"{', '.join(r['models'])}")
        print(f"  {'':<14} {'precision':>9} {'recall':>7} {'F1':>6}   tp / fp / fn")
        for name, m in r.items():
            if isinstance(m, dict):
                print(f"  {name:<14} {m['precision']:>9.3f} {m['recall']:>7.3f} {m['f1']:>6.3f}   "
                      f"{m['tp']} / {m['fp']} / {m['fn']}")
    return 0


SAMPLE_DIR = "data/sample"


def cmd_run(args, conf, spark, catalog) -> int:
    from logalyzer.runlog import hold_lake

    with hold_lake(catalog, "run", progress=_progress):   # one writer: no other run slips in between the stages
        return _run_stages(args, conf, spark, catalog)


def _run_stages(args, conf, spark, catalog) -> int:
    if not args.input:
        import os

        from logalyzer.generate import generate_fleet

        args.input = SAMPLE_DIR
        if not os.path.isdir(SAMPLE_DIR):
            log.info("no INPUT given: generating a sample fleet into %s", SAMPLE_DIR)
            generate_fleet(SAMPLE_DIR, devices=8, days=2, seed=42, lines_per_device_day=5000)
    code = cmd_ingest(args, conf, spark, catalog)
    if code:
        return code
    from logalyzer.stage_input import upstream_is_empty

    if not catalog.exists("log_lines") or upstream_is_empty(catalog, "log_lines"):
        print("\nlog_lines holds no rows yet: nothing to do for templates, sessions, models and publish")
        return 0
    args.full = False
    for stage in (cmd_templates, cmd_sessions):
        code = stage(args, conf, spark, catalog)
        if code:
            return code
    code = _run_models(args, conf, spark, catalog)
    if code:
        return code
    code = _run_publish(args, conf, spark, catalog)
    if code == 0:
        _print_where_to_look(conf, spark, catalog)
    return code


def _print_where_to_look(conf, spark, catalog, top: int = 5) -> None:
    """`run`'s last words: what the lake holds, the most severe anomalies, and where to look next."""
    from pyspark.sql import functions as F

    print(f"\nwhere to look\n  lake {catalog.root} ({catalog.format}):")
    for name in catalog.tables:
        if catalog.exists(name):
            print(f"    {name:<24} {catalog.read(name).count():>12,} rows")
    if catalog.exists("anomalies_consolidated"):
        newest = (catalog.read("anomalies_consolidated")
                  .orderBy(F.col("severity").desc_nulls_last(), F.col("start_ts").desc(), "unit_id")
                  .limit(top).collect())      # bounded: `top` rows, whatever the fleet's size
        if newest:
            print(f"  top {len(newest)} anomalies (most severe first):")
            for r in newest:
                reasons = "; ".join(f"{d}: {why}" for d, why in sorted((r["reasons"] or {}).items()))
                when = f"{r['start_ts']:%Y-%m-%d %H:%M}" if r["start_ts"] else "time unknown"
                print(f"    {r['device_id']}  {when}  {r['unit_kind']} {r['unit_id']}\n"
                      f"      {reasons[:300]}")
            return _print_next_steps(conf)
    if catalog.exists("anomaly_scores"):
        print("  no anomalies flagged: every scored unit is within the models' thresholds")
    _print_next_steps(conf)


def _print_next_steps(conf) -> None:
    _print_mlflow_hint(conf)
    print("Dashboards: logalyzer dashboards serve   (Superset on the published tables)")
    print("All tables: logalyzer tables   Help: logalyzer --help")


def _run_models(args, conf, spark, catalog) -> int:
    """`run`'s model steps: train when no champion exists, score, and evaluate when INPUT has labels."""
    import os

    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.score import has_models
    from logalyzer.models.train import NotEnoughDataError

    if not has_models(ModelsConfig.of(conf)):
        log.info("no champion model yet: training one")
        args.unit_kinds = args.detectors = None
        try:
            code = cmd_train(args, conf, spark, catalog)
        except NotEnoughDataError as exc:   # a first small load: the other stages' results still count
            print(f"\ntrain: skipped, and scoring with it: {exc}")
            return 0
        if code:
            return code
    args.dates, args.everything = None, False
    code = cmd_score(args, conf, spark, catalog)
    labels = os.path.join(args.input, "labels.csv") if os.path.isdir(args.input) else None
    if code:
        return code
    if labels and os.path.exists(labels):
        args.file, args.unit_kind = labels, None
        cmd_labels(args, conf, spark, catalog)
        code = cmd_evaluate(args, conf, spark, catalog)
    return code


def _run_publish(args, conf, spark, catalog) -> int:
    """The last step of `run`: publish whatever tables exist; skipped (exit 0) when there is no database."""
    from logalyzer.publish.target import no_database_reason

    reason = no_database_reason(conf)
    if reason:
        print(f"\npublish: skipped: {reason}")
        return 0
    args.tables, args.full, args.writer = [], False, None
    return cmd_publish(args, conf, spark, catalog)


def cmd_publish(args, conf, spark, catalog) -> int:
    from logalyzer.publish import run_publish
    from logalyzer.publish.target import local_server, resolve_target

    if getattr(args, "writer", None):
        conf.setdefault("publish", {})["writer"] = args.writer
    target = resolve_target(conf, progress=_progress)
    counts = run_publish(spark, catalog, conf, tables=args.tables, full=args.full, progress=_progress,
                         target=target)
    _print_counts(f"publish summary ({target.describe()}, schema {target.schema})", counts)
    server = local_server(conf)
    if server is not None:
        print(f"\nconnect:  {server.connect_hint(target)}")
    return 0


def cmd_db(args) -> int:
    """`db upgrade|status|start|stop`: no Spark needed."""
    from logalyzer.config import load_config
    from logalyzer.publish.connection import connect
    from logalyzer.publish.migrations import status, upgrade
    from logalyzer.publish.target import local_server, resolve_target

    conf = load_config(args.conf_dir, args.overrides, env=args.env)
    server = local_server(conf)
    if args.action == "stop":
        if server is None:
            print("db: no local server in use (a database URL is configured)")
        elif server.stop():
            print(f"db: stopped the local PostgreSQL server in {server.base}")
        else:
            print(f"db: the local PostgreSQL server in {server.base} is not running")
        return 0
    target = resolve_target(conf, progress=_progress)
    if args.action == "start":
        print(f"connect:  {server.connect_hint(target)}" if server else f"database: {target.describe()}")
        return 0
    conn = connect(target)
    try:
        if args.action == "upgrade":
            done = upgrade(conn, target.schema, progress=_progress)
            print(f"db: {len(done)} migration(s) applied" if done else "db: schema is up to date")
        entries = status(conn, target.schema)
    finally:
        conn.close()
    print(f"database {target.describe()} ({target.source}), schema {target.schema}")
    for e in entries:
        when = f"applied {e['applied_at']:%Y-%m-%d %H:%M:%S %Z}" if e["applied_at"] else ""
        note = {"applied": when, "pending": "pending",
                "changed": f"CHANGED since it was {when} (restore the file)",
                "unknown": f"{when}, not in this version's migrations"}[e["state"]]
        print(f"  {e['version']:04d}  {e['name']:<28} {note}")
    pending = sum(e["state"] == "pending" for e in entries)
    if pending:
        print(f"{pending} pending: run `logalyzer db upgrade` (publish applies them too)")
    if server is not None and args.action == "status":
        print(f"connect:  {server.connect_hint(target)}")
    return 0


def cmd_dashboards(args, conf=None, spark=None, catalog=None) -> int:
    """`dashboards build|install|setup|serve|stop`: no Spark needed (conf is loaded here when not given)."""
    from logalyzer.config import load_config
    from logalyzer.dashboards import bundle
    from logalyzer.dashboards.client import credentials_from_env
    from logalyzer.dashboards.install import database_for_superset, install
    from logalyzer.dashboards.superset_server import ADMIN_USER, LocalSuperset

    if conf is None:
        conf = load_config(args.conf_dir, args.overrides, env=args.env)
    server = LocalSuperset.from_conf(conf)
    if args.port:
        server.wanted_port = args.port
    if args.action == "build":
        db, _ = database_for_superset(conf, progress=_progress)
        data = bundle.build_zip(bundle.load_source(), db)
        with open(args.out, "wb") as fh:
            fh.write(data)
        print(f"dashboards: bundle for {db.masked_uri()} written to {args.out} ({len(data):,} bytes)")
        return 0
    if args.action == "install":
        if not args.url:
            print("error: install needs --url (the Superset to import into)", file=sys.stderr)
            return 2
        user, password = credentials_from_env()
        for d in install(args.url, conf, user, password, progress=_progress):
            print(f"  {d['title']}: {d['url']}")
        return 0
    if args.action == "stop":
        print("dashboards: Superset stopped" if server.stop() else "dashboards: Superset was not running")
        return 0
    if not server.installed():
        server.install(progress=_progress)
    elif args.action == "setup":
        print(f"dashboards: Superset already installed in {server.venv}")
    if args.action == "setup":
        return 0
    url, what = server.start(progress=_progress)
    dashboards = install(url, conf, ADMIN_USER, server.admin_password(), progress=_progress)
    print(f"\nSuperset ({what}): {url}   login: {ADMIN_USER} / {server.admin_password()}  (kept in "
          f"{server.base / 'admin_password'})")
    for d in dashboards:
        print(f"  {d['title']}: {d['url']}")
    print("stop it with `logalyzer dashboards stop`")
    return 0


def cmd_serve(args, conf, spark, catalog) -> int:
    from logalyzer.service.server import serve

    return serve(conf, host=args.host, port=args.port, progress=_progress)


def cmd_impact(args, conf, spark, catalog) -> int:
    from logalyzer.field_events.impact import run_impact

    counts = run_impact(spark, catalog, conf, publish=not args.no_publish, progress=_progress)
    _print_counts("impact summary", counts)
    return 0


def cmd_tables(args, conf, spark, catalog) -> int:
    print(f"lake: {catalog.root} ({catalog.format})")
    for name in catalog.tables:
        rows = f"{catalog.read(name).count():,} rows" if catalog.exists(name) else "not written yet"
        print(f"  {name:<22} {rows}")
    return 0


def cmd_doctor(args) -> int:
    import platform

    from logalyzer.config import load_config
    from logalyzer.spark import JavaNotFoundError, check_java

    ok = True
    print(f"python   {platform.python_version()} ({sys.executable})")
    try:
        import subprocess

        java = check_java()
        version = subprocess.run([java, "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        print(f"java     {version}")
        if '"17' not in version:
            print("         warning: Spark 3.5 is tested here with Java 17")
    except JavaNotFoundError as exc:
        print(f"java     MISSING: {exc}")
        ok = False
    for mod in ("pyspark", "pyarrow", "pandas", "drain3", "torch", "mlflow", "petastorm"):
        try:
            m = importlib.import_module(mod)
            print(f"{mod:<8} {getattr(m, '__version__', 'installed')}")
        except Exception as exc:  # report every missing piece, not just the first
            print(f"{mod:<8} MISSING: {exc}")
            ok = False
    conf = None
    try:
        conf = load_config(args.conf_dir, args.overrides, env=args.env)
        print(f"conf     {conf['_conf_dir']} (lake: {conf['lake']['root']})")
    except Exception as exc:
        print(f"conf     ERROR: {exc}")
        ok = False
    if conf is not None:
        ok = _doctor_postgres(conf) and ok
    print("ready" if ok else "not ready: fix the lines above")
    return 0 if ok else 1


def _doctor_postgres(conf) -> bool:
    """PostgreSQL lines of `doctor`: server binaries, JDBC driver, and the configured database if any."""
    from logalyzer.publish.connection import PublishError, configured_url, connect, target_from_conf
    from logalyzer.publish.local_server import find_server_binaries, server_version
    from logalyzer.publish.target import local_server
    from logalyzer.spark import _postgres_jar

    ok = True
    pub = conf.get("publish") or {}
    server = local_server(conf)
    bins = find_server_binaries(((pub.get("local") or {}).get("bin_dir")))
    if bins:
        print(f"postgres server {server_version(bins)} ({bins})"
              + (f"; local cluster: {server.base}" if server else ""))
    elif server is not None:
        print("postgres MISSING: no server binaries (initdb, pg_ctl) and no LOGALYZER_DB_URL: `logalyzer run` "
              "will skip publishing (`apt-get install postgresql`, or set LOGALYZER_DB_URL)")
    else:
        print("postgres no server binaries (not needed: a database URL is configured)")
    jar = _postgres_jar(conf)
    writer = pub.get("writer", "copy")
    if jar:
        print(f"jdbc     {jar}")
    else:
        print("jdbc     MISSING: PostgreSQL JDBC driver (`apt-get install libpostgresql-jdbc-java`, or set "
              "publish.jdbc_jar)" + ("" if writer == "jdbc" else "; only the jdbc writer needs it"))
        ok = ok and writer != "jdbc"
    if configured_url(conf):
        try:
            target = target_from_conf(conf)
            connect(target, timeout=5).close()
            print(f"database {target.describe()}: reachable")
        except PublishError as exc:
            print(f"database ERROR: {exc}")
            ok = False
    return ok


COMMANDS = {"ingest": cmd_ingest, "templates": cmd_templates, "sessions": cmd_sessions, "train": cmd_train,
            "score": cmd_score, "labels": cmd_labels, "evaluate": cmd_evaluate, "publish": cmd_publish,
            "run": cmd_run, "tables": cmd_tables, "dashboards": cmd_dashboards}
COMMANDS.update(serve=cmd_serve, impact=cmd_impact)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    verbose = getattr(args, "verbose", False)
    _setup_logging(verbose)
    try:
        return _dispatch(args)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 1
    except Exception as exc:
        code, message, known = _classify(exc)
        if known:
            print(f"error: {message}", file=sys.stderr)
            if verbose:
                import traceback

                traceback.print_exc()
        else:   # a bug, never "bad usage": the traceback is what a report needs
            import traceback

            traceback.print_exc()
            print(f"error: internal error (a bug; the traceback above says where): {message}", file=sys.stderr)
        return code


def _classify(exc: BaseException) -> tuple[int, str, bool]:
    """(exit code, one-line message, whether the message says it all) for an exception that ended a command."""
    from logalyzer.catalog import TableNotFoundError
    from logalyzer.errors import LogalyzerError
    from logalyzer.ingest.files import InputNotFoundError
    from logalyzer.models.labels import LabelFileError
    from logalyzer.models.registry import RegistryError
    from logalyzer.models.train import NotEnoughDataError
    from logalyzer.publish.connection import PublishError
    from logalyzer.spark import JavaNotFoundError

    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, (LogalyzerError, PublishError)):
        return exc.exit_code, text, True
    if isinstance(exc, (InputNotFoundError, LabelFileError, TableNotFoundError)):
        return 2, text, True     # the command needs another input, or a stage run first
    if isinstance(exc, (RegistryError, JavaNotFoundError, NotEnoughDataError)):
        return 1, text, True     # the environment or the data, not the command line
    return 1, f"{type(exc).__name__}: {text.splitlines()[0]}", False


def _dispatch(args) -> int:
    if args.command == "generate":
        from logalyzer import generate

        return generate.run(args)
    if args.command == "doctor":
        return cmd_doctor(args)
    if args.command == "db":
        return cmd_db(args)
    started = time.time()
    conf, spark, catalog = _context(args, f"logalyzer-{args.command}")
    code = COMMANDS[args.command](args, conf, spark, catalog)
    log.info("%s finished in %.1f s", args.command, time.time() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
