"""SparkSession factory: local[*] with sane defaults on one machine, cluster settings from conf.

Under spark-submit or on Databricks/EMR the master and resources come from the cluster; here we only
add what the pipeline needs (UTC, the CORRECTED time parser, the JDBC driver if present, Delta when
its jar is on the classpath) and turn Spark's INFO noise down.
"""
from __future__ import annotations

import logging
import os
import shutil
import sys

from logalyzer.jvm import class_available, set_log_level

log = logging.getLogger(__name__)

POSTGRES_JAR_CANDIDATES = ("/usr/share/java/postgresql.jar",)

# Settings the parsers rely on, set on every session the jobs use (also an existing one on Databricks
# or EMR, where getOrCreate returns the cluster's session): not left to the cluster's defaults.
#   ANSI off: a malformed timestamp or number yields NULL (then quarantine), not a failed job;
#     Spark 4 and Databricks SQL warehouses / serverless turn ANSI on by default.
#   CORRECTED: java.time parsing of the configured patterns (EXCEPTION, the default, fails on
#     strings that the legacy parser would have read differently; LEGACY changes the pattern letters).
#   UTC: device timestamps carry no zone; dates and partitions must not move with the cluster's zone.
PINNED_SQL_CONF = {
    "spark.sql.ansi.enabled": "false",
    "spark.sql.legacy.timeParserPolicy": "CORRECTED",
    "spark.sql.session.timeZone": "UTC",
}


class JavaNotFoundError(RuntimeError):
    pass


def check_java() -> str:
    """Path of the java binary, or a clear error saying how to get Java 17."""
    home = os.environ.get("JAVA_HOME")
    java = os.path.join(home, "bin", "java") if home else shutil.which("java")
    if not java or not os.path.exists(java):
        raise JavaNotFoundError(
            "Java not found: Spark needs Java 17. Install it with `apt-get install openjdk-17-jre-headless` "
            "(Debian/Ubuntu) or `brew install openjdk@17` (macOS), or set JAVA_HOME.")
    return java


def _postgres_jar(conf: dict) -> str | None:
    jar = (conf.get("publish") or {}).get("jdbc_jar")
    for cand in ([jar] if jar else []) + list(POSTGRES_JAR_CANDIDATES):
        if cand and os.path.exists(cand):
            return cand
    return None


def build_spark(app_name: str, conf: dict | None = None):
    """Create (or reuse) the SparkSession for a job."""
    from pyspark import SparkConf
    from pyspark.sql import SparkSession

    conf = conf or {}
    spark_conf = dict((conf.get("spark") or {}).get("conf") or {})
    master = (conf.get("spark") or {}).get("master", "local[*]")
    check_java()
    # Python workers must run this interpreter, or pandas UDFs fail inside a virtual environment.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)

    builder = SparkSession.builder.appName(app_name)
    submitted = SparkConf().contains("spark.master")  # spark-submit / cluster already chose one
    if not submitted:
        builder = builder.master(master)
        local = dict((conf.get("spark") or {}).get("local") or {})
        log4j = os.path.join(os.path.dirname(os.path.abspath(__file__)), "log4j2.properties")
        java_opts = f"-Dlog4j2.configurationFile=file:{log4j} " + str(local.pop("spark.driver.extraJavaOptions", ""))
        builder = builder.config("spark.driver.extraJavaOptions", java_opts.strip())
        if master.startswith("local"):
            os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # one machine: no network guessing
        for key, value in local.items():
            builder = builder.config(key, str(value))
    for key, value in spark_conf.items():
        builder = builder.config(key, str(value))
    for key, value in PINNED_SQL_CONF.items():
        builder = builder.config(key, value)
    jar = _postgres_jar(conf)
    if jar and not submitted:
        builder = builder.config("spark.jars", jar)
    if (conf.get("lake") or {}).get("format", "auto") in ("auto", "delta") and _delta_packages_requested(spark_conf):
        builder = builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension").config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    spark = builder.getOrCreate()
    for key, value in PINNED_SQL_CONF.items():  # again: a session that already existed kept its own
        spark.conf.set(key, value)
    set_log_level(spark, (conf.get("spark") or {}).get("log_level", "WARN"))
    return spark


def _delta_packages_requested(spark_conf: dict) -> bool:
    return "delta" in str(spark_conf.get("spark.jars.packages", "")) or "delta" in str(spark_conf.get("spark.jars", ""))


def delta_available(spark) -> bool:
    """True when the Delta Lake classes are on the JVM classpath (Databricks, EMR, or a delta jar)."""
    return class_available(spark, "io.delta.tables.DeltaTable")
