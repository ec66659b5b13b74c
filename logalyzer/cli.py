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
    logalyzer serve                                # HTTP service recording app pushes (field events)
    logalyzer impact                               # each push's before/after effect on its devices
    logalyzer run data/fleet                       # all of the above, in order
    logalyzer tables                               # what the lake holds
    logalyzer doctor                               # check Java, Spark, configuration

Exit codes: 0 success, 1 a stage failed (or --strict saw a corrupt file), 2 bad usage or input.
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
    p.add_argument("--strict", action="store_true", help="exit 1 when any input file is corrupt")
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
    if args.command in NO_SPARK:
        return conf, None, None
    spark = build_spark(app, conf)
    return conf, spark, Catalog(spark, conf)


NO_SPARK = {"serve"}   # commands that need the configuration but no SparkSession


def _print_counts(title: str, counts: dict) -> None:
    print(f"\n{title}")
    width = max((len(k) for k in counts), default=0)
    for key, value in counts.items():
        print(f"  {key:<{width}}  {value:,}" if isinstance(value, int) else f"  {key:<{width}}  {value}")


def _progress(msg: str) -> None:
    log.info(msg)


def cmd_ingest(args, conf, spark, catalog) -> int:
    from logalyzer.ingest import run_ingest

    counts = run_ingest(spark, catalog, conf, args.input, fmt=args.fmt, strict=args.strict, progress=_progress)
    _print_counts("ingest summary", counts)
    if counts.get("files_corrupt"):
        print(f"\n{counts['files_corrupt']} corrupt file(s) recorded in ingest_manifest "
              "(status=corrupt, with the error); their lines were not loaded.")
    return 1 if counts["status"] != "succeeded" else 0


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
    args.full = False
    for stage in (cmd_templates, cmd_sessions):
        code = stage(args, conf, spark, catalog)
        if code:
            return code
    code = _run_models(args, conf, spark, catalog)
    if code:
        return code
    return _run_publish(args, conf, spark, catalog)


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
            "run": cmd_run, "tables": cmd_tables}
COMMANDS.update(serve=cmd_serve, impact=cmd_impact)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.command:
        parser.print_help()
        return 2
    _setup_logging(getattr(args, "verbose", False))
    if args.command == "generate":
        from logalyzer import generate

        return generate.run(args)
    if args.command == "doctor":
        return cmd_doctor(args)

    from logalyzer.catalog import TableNotFoundError
    from logalyzer.ingest.files import InputNotFoundError
    from logalyzer.models.registry import RegistryError
    from logalyzer.publish.connection import PublishError
    from logalyzer.spark import JavaNotFoundError

    if args.command == "db":
        try:
            return cmd_db(args)
        except PublishError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return exc.exit_code

    started = time.time()
    try:
        conf, spark, catalog = _context(args, f"logalyzer-{args.command}")
        code = COMMANDS[args.command](args, conf, spark, catalog)
    except (InputNotFoundError, FileNotFoundError, JavaNotFoundError, ValueError, KeyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except TableNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except RegistryError as exc:   # the MLflow store or a model in it: a failure, not bad usage
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except PublishError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    log.info("%s finished in %.1f s", args.command, time.time() - started)
    return code


if __name__ == "__main__":
    sys.exit(main())
