"""The ingest manifest: one row per input file version (path, size, content hash, rows, status).

Files whose (path, size, modification time) are already on record are skipped without being read.
Of the others, per path and content:

* the same bytes as this path's last loaded version (only the mtime changed): ``known``, no rows;
* a plain file that grew, its old bytes unchanged (a log still being written): ``appended``, only
  the lines after the ones already loaded are read;
* a path loaded before whose old bytes changed (a gzip rewritten, a log truncated): ``changed``,
  refused with its reason, its earlier rows stay (loading it again would double them);
* the bytes of a file loaded under another path (same sha256): ``duplicate``, no rows.

For a version loaded in part (``appended``) ``lines`` counts the whole file and ``loaded``,
``quarantined`` and ``blank`` only its new lines, so ``sum(loaded)`` is always the row count of
``log_lines``. Only per-file rows are handled here.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MANIFEST_SCHEMA = ("path string, device_id string, size long, modified timestamp, content_hash string, "
                   "lines long, loaded long, quarantined long, blank long, status string, error string, "
                   "duplicate_of string, run_id string, ingested_at timestamp")
MANIFEST_COLUMNS = [c.strip().split(" ")[0] for c in MANIFEST_SCHEMA.split(",")]
# Versions whose lines are in log_lines (all of them, or with the earlier versions of the path).
LOADED_STATUSES = ("loaded", "appended", "known")


def read_manifest(catalog) -> DataFrame:
    return catalog.read_or_empty("ingest_manifest", MANIFEST_SCHEMA)


def unseen_files(listed: DataFrame, manifest: DataFrame) -> DataFrame:
    """Files not yet on record with the same path, size and modification time."""
    return listed.join(manifest.select("path", "size", "modified"), on=["path", "size", "modified"], how="left_anti")


def loaded_hashes(manifest: DataFrame, hashes: list[str]) -> dict:
    """content_hash → path of the file that loaded it, for the given hashes."""
    if not hashes:
        return {}
    rows = (manifest.where(F.col("status").isin(*LOADED_STATUSES) & F.col("content_hash").isin(hashes))
            .groupBy("content_hash").agg(F.min("path").alias("path")).collect())
    return {r.content_hash: r.path for r in rows}


def known_versions(manifest: DataFrame, paths: list[str]) -> dict:
    """path → (size, content_hash, lines) of its latest loaded version, for the given paths."""
    if not paths:
        return {}
    latest = F.max_by(F.struct("size", "content_hash", "lines"), F.struct("ingested_at", "size"))
    rows = (manifest.where(F.col("status").isin(*LOADED_STATUSES) & F.col("path").isin(paths))
            .groupBy("path").agg(latest.alias("v")).collect())
    return {r.path: (r.v["size"], r.v["content_hash"], r.v["lines"]) for r in rows}
