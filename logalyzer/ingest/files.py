"""Input files: find them (any Hadoop filesystem), then check each one before its lines are read.

The check runs on the executors, one file per row: sha256 of the bytes (idempotent loads key on
it), size, the sha256 of the part already loaded when the path was loaded before at a smaller
size (a growing plain log: only its new lines load), and a full gzip decompression that counts lines and catches corrupt or truncated
archives, which Spark's text reader would otherwise turn into a failed job. Only per-file facts
reach the driver, never lines.
"""
from __future__ import annotations

import hashlib
import zlib

import pandas as pd
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

FILE_CHECK_SCHEMA = ("path string, size long, modified timestamp, content_hash string, "
                     "lines long, status string, error string, prefix_hash string, prefix_complete boolean")
_CHECK_COLUMNS = [c.strip().split(" ")[0] for c in FILE_CHECK_SCHEMA.split(",")]
# Decompressed in bounded chunks, so a file's text never sits in memory whole. Its compressed bytes
# do, on one executor (Spark's binaryFile reader; at most spark.sql.sources.binaryFile.maxLength,
# 2 GB by default): fine for device logs, which are rotated far below that.
_CHUNK = 16 << 20


class InputNotFoundError(FileNotFoundError):
    pass


def input_exists(spark: SparkSession, input_path: str) -> bool:
    """True when the path or glob matches something (checked on the Hadoop filesystem)."""
    from logalyzer.jvm import path_exists     # the one door to the JVM, with a Spark Connect fallback

    return path_exists(spark, input_path)


def list_files(spark: SparkSession, input_path: str, include: str) -> DataFrame:
    """``path, size, modified`` of every file under ``input_path`` whose name matches ``include``.

    Listed with the Hadoop FileSystem API (as Spark's own file index does) because Spark's file
    scans drop zero-length files, and an empty file must be recorded, not lost (``jvm.list_files``,
    with its Spark Connect fallback).
    """
    from logalyzer.jvm import list_files as list_paths     # the one door to the JVM

    try:
        listed = list_paths(spark, input_path, include)
    except FileNotFoundError:
        raise InputNotFoundError(f"input path not found: {input_path}") from None
    return spark.createDataFrame(listed, "path string, size long, modified timestamp")


def _count_gzip_lines(data: bytes) -> tuple[int, str | None]:
    """Lines in a (possibly multi-member) gzip, or the error that stopped decompression."""
    lines, last, pos = 0, b"\n", 0
    try:
        while pos < len(data):
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            chunk = d.decompress(data[pos:], _CHUNK)
            while True:
                if chunk:
                    lines += chunk.count(b"\n")
                    last = chunk[-1:]
                if d.eof or not d.unconsumed_tail:
                    break
                chunk = d.decompress(d.unconsumed_tail, _CHUNK)
            if not d.eof:
                return lines, "truncated gzip: compressed stream ended before its end marker"
            rest = d.unused_data
            pos = len(data) - len(rest)
            if rest.strip(b"\x00") == b"":
                break  # trailing padding after the last member is harmless
    except zlib.error as exc:
        return lines, f"corrupt gzip: {exc}"
    return lines + (0 if last == b"\n" else 1), None


def check_file(path: str, content: bytes, known_size: int | None = None) -> dict:
    """Facts of one file; ``known_size``: the size of this path's last loaded version, if any.

    When the file is now larger, ``prefix_hash`` is the sha256 of its first ``known_size`` bytes
    (equal to the old content hash: lines were appended) and ``prefix_complete`` whether that part
    ended with a newline (else its last line was loaded before it was finished).
    """
    size = len(content)
    out = {"path": path, "size": size, "content_hash": hashlib.sha256(content).hexdigest(),
           "lines": 0, "status": "new", "error": None, "prefix_hash": None, "prefix_complete": None}
    if known_size and 0 < known_size < size:
        out["prefix_hash"] = hashlib.sha256(memoryview(content)[:known_size]).hexdigest()
        out["prefix_complete"] = content[known_size - 1:known_size] == b"\n"
    is_gz = content[:2] == b"\x1f\x8b"
    named_gz = path.endswith(".gz")
    if size == 0:
        out["status"] = "empty"
    elif named_gz != is_gz:
        out["status"] = "corrupt"
        out["error"] = ("named .gz but not gzip data" if named_gz
                        else "gzip data without a .gz name: rename it to .gz")
    elif is_gz:
        out["lines"], out["error"] = _count_gzip_lines(content)
        if out["error"]:
            out["status"] = "corrupt"
        elif out["lines"] == 0:
            out["status"] = "empty"
    else:
        out["lines"] = content.count(b"\n") + (0 if content.endswith(b"\n") else 1)
    return out


def _check_batches(known_sizes: dict):
    def check(batches):
        for pdf in batches:
            rows = []
            for path, modified, content in zip(pdf["path"], pdf["modified"], pdf["content"]):
                row = check_file(path, bytes(content), known_sizes.get(path))
                row["modified"] = modified
                rows.append(row)
            yield pd.DataFrame(rows, columns=_CHECK_COLUMNS)
    return check


def check_files(spark: SparkSession, files: list[tuple], known_sizes: dict | None = None) -> list[dict]:
    """Per file: size, sha256, line count, and status new | empty | corrupt (with its error).

    ``files`` holds (path, size, modified) from ``list_files``; ``known_sizes`` the size of each
    path's last loaded version (see ``check_file``). Returns one small dict per file (the driver
    already holds the file list, as Spark's own file index does); the file bytes stay on the executors.
    """
    # Spark's file scans skip zero-length files, so those are recorded without being read.
    empty = [{**check_file(path, b""), "modified": modified} for path, size, modified in files if size == 0]
    paths = [path for path, size, _ in files if size > 0]
    if not paths:
        return empty
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    previous = spark.conf.get(key)
    spark.conf.set(key, "2")  # each row carries a whole file's bytes: few per Arrow batch
    try:
        df = (spark.read.format("binaryFile").load(paths)
                 .select("path", F.col("modificationTime").alias("modified"), "content"))
        checked = df.mapInPandas(_check_batches(known_sizes or {}), FILE_CHECK_SCHEMA)
        return empty + [row.asDict() for row in checked.collect()]
    finally:
        spark.conf.set(key, previous)
