"""The one door to Spark's JVM (py4j: ``sparkContext``, ``_jvm``, ``_jsc``), with a fallback for each use.

Spark Connect clients (Databricks serverless and shared access mode clusters, ``spark.remote``) have no
SparkContext: ``spark.sparkContext`` raises, and py4j objects do not exist. Every direct JVM use of the
pipeline goes through here, so the list in docs/architecture.md ("Spark Connect") stays short and true,
and each call has a DataFrame-API fallback that works on Connect (with the limits written next to it).
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import re

log = logging.getLogger(__name__)


class JvmUnavailable(RuntimeError):
    """No py4j gateway: a Spark Connect session (or a shared cluster that blocks it)."""


def gateway(spark):
    """``(jvm, java_spark_context)`` of a classic session; JvmUnavailable on Spark Connect."""
    try:
        sc = spark.sparkContext
        jvm, jsc = sc._jvm, sc._jsc
    except Exception as exc:  # Connect: PySparkNotImplementedError / AttributeError; shared: Py4JSecurityException
        raise JvmUnavailable(f"no JVM access from this Spark session ({type(exc).__name__})") from exc
    if jvm is None or jsc is None:
        raise JvmUnavailable("no JVM access from this Spark session (the SparkContext is stopped)")
    return jvm, jsc


def has_jvm(spark) -> bool:
    try:
        gateway(spark)
        return True
    except JvmUnavailable:
        return False


# -- Hadoop filesystem ---------------------------------------------------------------------------------
def hadoop_fs(spark, path: str):
    """``(FileSystem, Path)`` for ``path`` through the Hadoop API (s3a://, dbfs:/, hdfs://, file:)."""
    jvm, jsc = gateway(spark)
    jpath = jvm.org.apache.hadoop.fs.Path(path)
    return jpath.getFileSystem(jsc.hadoopConfiguration()), jpath


def path_exists(spark, path: str) -> bool:
    """Whether a file or folder (or a glob's match) exists. Fallback: a binaryFile scan of the path."""
    try:
        fs, jpath = hadoop_fs(spark, path)
    except JvmUnavailable:
        return _path_exists_by_scan(spark, path)
    matches = fs.globStatus(jpath)
    return matches is not None and len(matches) > 0


def _path_exists_by_scan(spark, path: str) -> bool:
    # A folder holding only empty files or subfolders reads as missing here; the pipeline only asks
    # about folders that hold data files (_delta_log, tables, inputs), so that does not arise.
    try:
        spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path) \
            .select("path").limit(1).collect()
        return True
    except Exception as exc:
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            return False
        raise


def list_files(spark, path: str, name_glob: str | None = None) -> list[tuple[str, int, dt.datetime]]:
    """``(path, size, modified)`` of every file under ``path`` (a folder, file or glob), recursively, sorted.

    Names starting with ``.`` or ``_`` are skipped (Spark's file scans hide them too); with ``name_glob``
    only names matching that Hadoop glob (``*.{log,gz}``) are kept. ``FileNotFoundError`` when ``path``
    matches nothing.

    Through the Hadoop API, which keeps zero-length files (Spark's file scans drop them). Fallback: a
    binaryFile scan that reads metadata only (the content column is never selected), without the
    zero-length files: the ingest manifest then cannot record those as `empty`; and as it cannot tell
    a folder of such files from nothing, a scan that lists no file raises ``FileNotFoundError`` too.
    """
    try:
        fs, jpath = hadoop_fs(spark, path)
    except JvmUnavailable:
        return _list_files_by_scan(spark, path, name_glob)
    matches = fs.globStatus(jpath)
    if matches is None or len(matches) == 0:
        raise FileNotFoundError(f"path not found: {path}")
    name_filter = gateway(spark)[0].org.apache.hadoop.fs.GlobFilter(name_glob) if name_glob else None
    out = []

    def keep(status):
        jp = status.getPath()
        if _hidden(jp.getName()) or (name_filter is not None and not name_filter.accept(jp)):
            return
        out.append((jp.toString(), int(status.getLen()),
                    dt.datetime.utcfromtimestamp(status.getModificationTime() / 1000.0)))

    for match in matches:
        if match.isDirectory():
            it = fs.listFiles(match.getPath(), True)
            while it.hasNext():
                keep(it.next())
        else:
            keep(match)
    return sorted(out)


def _hidden(name: str) -> bool:
    return name.startswith((".", "_"))


def _list_files_by_scan(spark, path: str, name_glob: str | None) -> list[tuple[str, int, dt.datetime]]:
    import fnmatch

    log.warning("no JVM access: listing %s through a binaryFile scan (zero-length files are not seen)", path)
    try:
        rows = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path)
                .select("path", "length", "modificationTime").collect())
    except Exception as exc:
        if "PATH_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
            raise FileNotFoundError(f"path not found: {path}") from None
        raise
    patterns = expand_braces(name_glob) if name_glob else ["*"]    # Hadoop globs know {a,b}; fnmatch does not
    out = sorted((r["path"], int(r["length"]), r["modificationTime"]) for r in rows
                 if not _hidden(os.path.basename(r["path"]))
                 and any(fnmatch.fnmatchcase(os.path.basename(r["path"]), p) for p in patterns))
    if not out:
        raise FileNotFoundError(f"no file found under {path}")
    return out


def expand_braces(pattern: str) -> list[str]:
    """``*.{log,gz}`` -> ``["*.log", "*.gz"]`` (nested and repeated groups too)."""
    m = re.search(r"\{([^{}]*)\}", pattern)
    if not m:
        return [pattern]
    return [x for alt in m.group(1).split(",") for x in expand_braces(pattern[:m.start()] + alt + pattern[m.end():])]


def delete_path(spark, path: str) -> bool:
    """Delete a folder recursively; False when it did not exist. Fallback: dbutils on Databricks."""
    try:
        fs, jpath = hadoop_fs(spark, path)
    except JvmUnavailable:
        dbutils = _dbutils(spark)
        if dbutils is None:
            raise JvmUnavailable(f"cannot delete {path}: no JVM access and no dbutils") from None
        return bool(dbutils.fs.rm(path, True))
    return bool(fs.exists(jpath) and fs.delete(jpath, True))


def _dbutils(spark):
    try:
        from pyspark.dbutils import DBUtils  # only on Databricks

        return DBUtils(spark)
    except Exception:
        return None


# -- classpath and context -----------------------------------------------------------------------------
def class_available(spark, class_name: str) -> bool:
    """Whether a JVM class is on the driver's classpath. Fallback (Connect): what the session's
    configuration promises (Delta's extension configured, or a Databricks runtime, which ships Delta
    and the PostgreSQL driver)."""
    try:
        jvm, _ = gateway(spark)
    except JvmUnavailable:
        if os.environ.get("DATABRICKS_RUNTIME_VERSION"):
            return True
        if class_name.startswith("io.delta."):
            return "delta" in str(_conf(spark, "spark.sql.extensions", "")).lower()
        return False
    try:
        jvm.org.apache.spark.util.Utils.classForName(class_name, True, False)
        return True
    except Exception:  # py4j wraps ClassNotFoundException
        return False


def default_parallelism(spark) -> int:
    """The cluster's default parallelism. Fallback: spark.sql.shuffle.partitions (or 200)."""
    try:
        return int(spark.sparkContext.defaultParallelism)
    except Exception:
        return int(_conf(spark, "spark.sql.shuffle.partitions", "200") or 200)


def set_log_level(spark, level: str) -> None:
    """Spark's log level; on Connect the server's logging is the cluster's business, so skip it."""
    try:
        spark.sparkContext.setLogLevel(level)
    except Exception:
        log.debug("cannot set Spark's log level from this session")


def _conf(spark, key: str, default=None):
    try:
        return spark.conf.get(key, default)
    except Exception:
        return default
