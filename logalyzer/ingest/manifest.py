"""The ingest manifest: one row per input file version (path, size, content hash, rows, status).

Files whose (path, size, modification time) are already on record are skipped without being read;
a new file whose bytes match a file already loaded (same sha256) is recorded as a duplicate and
adds no rows. Only per-file rows are handled here.
"""
from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

MANIFEST_SCHEMA = ("path string, device_id string, size long, modified timestamp, content_hash string, "
                   "lines long, loaded long, quarantined long, blank long, status string, error string, "
                   "duplicate_of string, run_id string, ingested_at timestamp")
MANIFEST_COLUMNS = [c.strip().split(" ")[0] for c in MANIFEST_SCHEMA.split(",")]


def read_manifest(catalog) -> DataFrame:
    return catalog.read_or_empty("ingest_manifest", MANIFEST_SCHEMA)


def unseen_files(listed: DataFrame, manifest: DataFrame) -> DataFrame:
    """Files not yet on record with the same path, size and modification time."""
    return listed.join(manifest.select("path", "size", "modified"), on=["path", "size", "modified"], how="left_anti")


def loaded_hashes(manifest: DataFrame, hashes: list[str]) -> dict:
    """content_hash → path of the file that loaded it, for the given hashes."""
    if not hashes:
        return {}
    rows = (manifest.where((F.col("status") == "loaded") & F.col("content_hash").isin(hashes))
            .groupBy("content_hash").agg(F.min("path").alias("path")).collect())
    return {r.content_hash: r.path for r in rows}
