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


def list_files(spark, path: str) -> list[tuple[str, int, dt.datetime]]:
    """``(path, size, modified)`` of every file under ``path`` (a folder, file or glob), recursively.

    Through the Hadoop API, which keeps zero-length files (Spark's file scans drop them). Fallback: a
    binaryFile scan that reads metadata only (the content column is never selected), without the
    zero-length files: the ingest manifest then cannot record those as `empty`.
    """
    try:
        fs, jpath = hadoop_fs(spark, path)
    except JvmUnavailable:
        log.warning("no JVM access: listing %s through a binaryFile scan (zero-length files are not seen)", path)
        rows = (spark.read.format("binaryFile").option("recursiveFileLookup", "true").load(path)
                .select("path", "length", "modificationTime").collect())
        return sorted((r["path"], int(r["length"]), r["modificationTime"]) for r in rows)
    out = []
    matches = fs.globStatus(jpath) or []

    def keep(status):
        out.append((status.getPath().toString(), int(status.getLen()),
                    dt.datetime.utcfromtimestamp(status.getModificationTime() / 1000.0)))

    for match in matches:
        if match.isDirectory():
            it = fs.listFiles(match.getPath(), True)
            while it.hasNext():
                keep(it.next())
        else:
            keep(match)
    return sorted(out)


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
