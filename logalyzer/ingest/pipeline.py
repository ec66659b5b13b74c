"""The ingest stage: extract (find and check files) → transform (parse lines) → load (tables).

Writes ``log_lines`` (bronze), ``quarantine``, ``ingest_manifest`` and ``run_log``. Loads are
idempotent at file level: a file already on record, or the same bytes under another name, adds no
rows; a plain file that grew adds only its new lines (see ``manifest``). The summary warns in words
when a file loaded no line or too many lines were quarantined or rescued (``--strict`` fails then).
Counts are gathered while the bronze table is written (``DataFrame.observe``) so the input is read once; files that had a bad line are read a second time to fill the quarantine.
"""
from __future__ import annotations

import logging
from collections import Counter

from pyspark.sql import DataFrame, Observation, SparkSession
from pyspark.sql import functions as F

from logalyzer.ingest.files import check_files, list_files
from logalyzer.ingest.manifest import (MANIFEST_COLUMNS, MANIFEST_SCHEMA, known_versions, loaded_hashes,
                                       read_manifest, unseen_files)
from logalyzer.ingest.parse import (KEPT, QUARANTINE_REASONS, file_facts, one_partition_per_file, parse_lines,
                                    read_lines, with_file_facts)
from logalyzer.runlog import begin_run, record_run

log = logging.getLogger(__name__)

LOG_LINES_COLUMNS = ["device_id", "ts", "date", "level", "pid", "tid", "tag", "message", "var_category",
                     "var_function", "var_event_type", "var_data", "fields", "format", "source_file",
                     "source_hash", "line_no", "line_hash", "rescued_data", "run_id"]
OUTCOMES = KEPT + ("blank",) + QUARANTINE_REASONS
TO_LOAD = ("new", "appended")


# -- extract -------------------------------------------------------------------------------------
def plan_files(spark: SparkSession, catalog, ingest_conf: dict, input_path: str, run_id: str, progress=print):
    """Decide per file: load it (whole or its new lines), or record it as known / changed / duplicate /
    corrupt / empty (see ``manifest``); files on record with the same size and mtime are skipped."""
    listed = list_files(spark, input_path, ingest_conf.get("include", "*"))
    manifest = read_manifest(catalog)
    fresh = [tuple(r) for r in unseen_files(listed, manifest).select("path", "size", "modified").collect()]
    total = listed.count()
    progress(f"found {total} files under {input_path}; {total - len(fresh)} already on record, {len(fresh)} to check")
    versions = known_versions(manifest, [path for path, _, _ in fresh])
    checks = check_files(spark, fresh, {path: v[0] for path, v in versions.items()})
    known = loaded_hashes(manifest, sorted({c["content_hash"] for c in checks if c["status"] == "new"}))
    first_by_hash: dict = {}
    for c in sorted(checks, key=lambda c: c["path"]):
        c["run_id"] = run_id
        c["duplicate_of"] = None
        c["skip_lines"] = 0
        if c["status"] != "new":
            continue
        if c["path"] in versions:
            _versus_last_load(c, *versions[c["path"]])
            continue
        original = known.get(c["content_hash"]) or first_by_hash.get(c["content_hash"])
        if original:
            c["status"], c["duplicate_of"] = "duplicate", original
        else:
            first_by_hash[c["content_hash"]] = c["path"]
    return total, checks


def _versus_last_load(check: dict, size: int, content_hash: str, lines: int) -> None:
    """Status of a file whose path was loaded before: known, appended (new lines only) or changed."""
    if check["content_hash"] == content_hash:
        check["status"] = "known"            # only its modification time changed
    elif check["prefix_hash"] == content_hash and not check["path"].endswith(".gz"):
        check["status"], check["skip_lines"] = "appended", lines
        if not check["prefix_complete"]:
            check["error"] = (f"line {lines} was loaded before it was complete; "
                              "what was appended to it is not loaded")
    else:
        # A gzip is rewritten whole, so any change is one; a plain file that was truncated or edited
        # too. Its earlier rows stay: loading it again would double every line it still holds.
        check["status"] = "changed"
        check["error"] = (f"changed since it was loaded ({size:,} bytes then, {check['size']:,} now) and not by "
                          "appending lines: not loaded again; its earlier rows stay in log_lines")


# -- transform -----------------------------------------------------------------------------------
def parse_files(spark: SparkSession, files: list[dict], ingest_conf: dict, fmt, run_id: str) -> DataFrame:
    """Parsed lines of ``files`` (all outcomes), with the file's content hash and the run id.

    A file with ``skip_lines`` (it grew since its last load) yields only the lines after those, and
    no file more than the lines it had when checked (one still being written has more now: those
    load next time, so the manifest's counts stay the table's).
    """
    lines = with_file_facts(spark, read_lines(spark, [f["path"] for f in files]), files, ingest_conf)
    first, last = F.coalesce("skip_lines", F.lit(0)), F.coalesce("max_line", F.lit(1 << 62))
    lines = lines.where((F.col("line_no") > first) & (F.col("line_no") <= last)).drop("skip_lines", "max_line")
    return parse_lines(lines, ingest_conf, fmt).withColumn("run_id", F.lit(run_id))


def not_pushed_down(parsed: DataFrame, name: str) -> DataFrame:
    """``parsed`` behind a metrics node, so a later filter on ``outcome`` stays after the parse.

    Spark otherwise pushes such a filter into the parse and inlines every parsing expression into
    the condition: each line is parsed twice, in code too large to compile (~10x slower, measured).
    """
    return parsed.observe(Observation(f"{name}-barrier"), F.count(F.lit(1)).alias("lines"))


def quarantine_rows(parsed: DataFrame) -> DataFrame:
    return parsed.where(F.col("outcome").isin(*QUARANTINE_REASONS)).select(
        "source_file", "source_hash", "line_no", "device_id", F.col("outcome").alias("reason"),
        "raw", F.decode("raw", "UTF-8").alias("raw_text"), "run_id",
        F.current_date().alias("ingest_date"))


# -- load ----------------------------------------------------------------------------------------
RUNNING, ROLLED_BACK = "running", "rolled_back"
FINAL = ("succeeded", "failed_strict", "killed", ROLLED_BACK)


def roll_back_run(catalog, run_id: str, progress=print) -> dict:
    """Remove what ingest run ``run_id`` wrote unless it committed (its manifest rows are the commit point).

    Only ingest's own tables: stages downstream clean up their own work. Says so only when rows went.
    """
    if read_manifest(catalog).where(F.col("run_id") == run_id).limit(1).count():
        return {}
    removed = {t: catalog.delete(t, f"run_id = '{run_id}'") for t in ("log_lines", "quarantine")}
    if any(removed.values()):
        progress(f"rolled back unfinished ingest run {run_id}: removed {removed['log_lines']:,} log_lines "
                 f"and {removed['quarantine']:,} quarantine rows; its files load again now")
    return {f"rows_removed_{t}": n for t, n in removed.items()}


def roll_back_unfinished(catalog, progress=print) -> list[str]:
    """Roll back ingest runs that a lake written by earlier versions shows as only ``running``.

    Runs now end with one final row (runlog.stage_run): a failed run undoes its own writes and a
    killed one is cleaned up by whoever takes its stale lock over, so this finds only older runs.
    """
    if not catalog.exists("run_log"):
        return []
    runs = (catalog.read("run_log").where(F.col("stage") == "ingest").groupBy("run_id")
            .agg(F.collect_set("status").alias("statuses"), F.min("started_at").alias("started_at"),
                 F.max("input").alias("input")))
    # older versions wrote `running` first, then `failed` without undoing anything
    open_runs = [r for r in runs.where(F.array_contains("statuses", RUNNING)
                                       & ~F.arrays_overlap("statuses", F.array(*map(F.lit, FINAL)))).collect()]
    rolled = []
    for run in open_runs:
        removed = roll_back_run(catalog, run.run_id, progress)
        record_run(catalog, run.run_id, "ingest", run.started_at, ROLLED_BACK, removed, run.input)
        rolled.append(run.run_id)
    return rolled


def run_ingest(spark: SparkSession, catalog, conf: dict, input_path: str, fmt=None, strict: bool = False,
               progress=print, timestamp_format=None) -> dict:
    """Ingest every log file under ``input_path``; returns the counts (also stored in ``run_log``).

    ``timestamp_format`` (a Java DateTimeFormatter pattern) overrides ``ingest.timestamp_format``.
    The result's ``warnings`` say in words what needs a look (see ``summary_warnings``); with
    ``strict`` any of them, or a corrupt file, makes the status ``failed_strict``.
    """
    ingest_conf = dict(conf.get("ingest") or {})
    if timestamp_format:
        ingest_conf["timestamp_format"] = timestamp_format
    run = begin_run(catalog, "ingest", input_path, progress)    # the lake's lock; one row in run_log
    run_id, started = run.run_id, run.started_at
    status = "failed"
    counts: Counter = Counter()
    try:
        roll_back_unfinished(catalog, progress)
        run.on_failure(lambda: roll_back_run(catalog, run_id, progress))
        total, checks = plan_files(spark, catalog, ingest_conf, input_path, run_id, progress)
        counts["files_found"] = total
        counts["files_skipped_known"] = total - len(checks)
        for c in checks:
            counts["files_skipped_known" if c["status"] == "known" else f"files_{c['status']}"] += 1
            if c["status"] == "corrupt":
                progress(f"corrupt file recorded, not loaded: {c['path']}: {c['error']}")
        to_load = [c for c in checks if c["status"] in TO_LOAD]
        per_file: dict = {}
        if to_load:
            progress(f"reading {len(to_load)} files ({sum(c['lines'] - c['skip_lines'] for c in to_load):,} new lines)")
            per_file = _load_lines(spark, catalog, ingest_conf, fmt, run_id, to_load, counts, progress)
        manifest_rows = []
        for c in checks:
            stats = per_file.get(c["path"], Counter())
            if c["status"] == "new":
                c["status"] = "loaded"
            manifest_rows.append({**c, "device_id": file_facts(c["path"], ingest_conf)[0],
                                  "loaded": stats.get("loaded", 0),
                                  "quarantined": sum(stats.get(r, 0) for r in QUARANTINE_REASONS),
                                  "blank": stats.get("blank", 0), "ingested_at": started})
        if manifest_rows:
            rows = [tuple(r.get(k) for k in MANIFEST_COLUMNS) for r in manifest_rows]
            catalog.append("ingest_manifest", spark.createDataFrame(rows, MANIFEST_SCHEMA))
        warnings = summary_warnings(manifest_rows, counts, float(ingest_conf.get("warn_share", 0.05)))
        for w in warnings:
            log.warning(w)
        status = "failed_strict" if strict and (counts["files_corrupt"] or warnings) else "succeeded"
        return {"run_id": run_id, "status": status, **counts, "warnings": warnings}
    finally:
        run.finish(status, counts)


def summary_warnings(manifest_rows: list[dict], counts: Counter, warn_share: float) -> list[str]:
    """What a person should look at after this run, in words: files that loaded no line, changed
    files, and a share of quarantined or rescued lines above ``warn_share``."""
    out = []
    for r in manifest_rows:
        if r["status"] == "empty":
            out.append(f"{r['path']}: empty file, no line loaded")
        elif r["status"] in ("loaded", "appended") and not r["loaded"]:
            out.append(f"{r['path']}: no line loaded ({r['quarantined']:,} quarantined, {r['blank']:,} blank)")
        elif r["status"] == "changed":
            out.append(f"{r['path']}: {r['error']}")
    read = counts["lines_read"] - counts["lines_blank"]
    quarantined = sum(counts[f"lines_{q}"] for q in QUARANTINE_REASONS)
    bad = quarantined + counts["lines_rescued"]
    if read and bad / read > warn_share:
        out.append(f"{bad:,} of {read:,} lines ({bad / read:.1%}) could not be fully read: {quarantined:,} went to "
                   f"quarantine, {counts['lines_rescued']:,} were kept with ts null (timestamp unreadable, text in "
                   f"log_lines.rescued_data); more than ingest.warn_share ({warn_share:.0%}). Check --format "
                   "and --timestamp-format")
    return out


def _load_lines(spark, catalog, ingest_conf, fmt, run_id, files, counts, progress) -> dict:
    """Write bronze (kept lines) and quarantine (bad lines); per-file counts by outcome."""
    with one_partition_per_file(spark):
        parsed = parse_files(spark, files, ingest_conf, fmt, run_id)
        obs = Observation("ingest")
        # The observation also keeps the filter below from being pushed into the parse (not_pushed_down).
        observed = parsed.observe(
            obs, F.count(F.lit(1)).alias("lines_read"),
            *[F.sum((F.col("outcome") == o).cast("long")).alias(f"lines_{o}") for o in OUTCOMES],
            F.array_join(F.collect_set(F.when(~F.col("outcome").isin(*KEPT), F.col("source_file"))), "\n")
            .alias("files_with_bad_lines"))
        catalog.append("log_lines", observed.where(F.col("outcome").isin(*KEPT)).select(*LOG_LINES_COLUMNS))
        metrics = obs.get
        for key, value in metrics.items():
            if key.startswith("lines_"):
                counts[key] += int(value or 0)
        kept = counts["lines_loaded"] + counts["lines_rescued"]
        progress(f"log_lines: {kept:,} lines loaded of {counts['lines_read']:,} read"
                 + (f" ({counts['lines_rescued']:,} with an unreadable timestamp)" if counts["lines_rescued"] else ""))
        expected = sum(f["lines"] - f["skip_lines"] for f in files)
        if expected != counts["lines_read"]:
            # Only lines up to each file's checked count are read, so this means a file shrank
            # between its check and its read; its manifest counts are then off by what it lost.
            log.warning("files held %d lines when checked but Spark read %d (a file changed while being read?)",
                        expected, counts["lines_read"])
        bad_files = [p for p in (metrics.get("files_with_bad_lines") or "").split("\n") if p]
        per_file: dict = {f["path"]: Counter(loaded=0) for f in files}
        if bad_files:
            bad = parse_files(spark, [f for f in files if f["path"] in set(bad_files)], ingest_conf, fmt, run_id)
            bad = not_pushed_down(bad, "quarantine").where(~F.col("outcome").isin(*KEPT)).persist()
            try:
                quarantined = quarantine_rows(bad)
                catalog.append("quarantine", quarantined)
                for r in bad.groupBy("source_file", "outcome").count().collect():
                    per_file[r.source_file][r.outcome] += r["count"]
            finally:
                bad.unpersist()
            progress(f"quarantine: {sum(counts[f'lines_{r}'] for r in QUARANTINE_REASONS):,} lines "
                     f"from {len(bad_files)} files")
        for f in files:
            stats = per_file[f["path"]]
            stats["loaded"] = f["lines"] - f["skip_lines"] - sum(v for k, v in stats.items() if k != "loaded")
        return per_file
