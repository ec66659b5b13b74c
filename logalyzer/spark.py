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

log = logging.getLogger(__name__)

POSTGRES_JAR_CANDIDATES = ("/usr/share/java/postgresql.jar",)


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
    builder = builder.config("spark.sql.session.timeZone", "UTC").config(
        "spark.sql.legacy.timeParserPolicy", "CORRECTED")
    jar = _postgres_jar(conf)
    if jar and not submitted:
        builder = builder.config("spark.jars", jar)
    if (conf.get("lake") or {}).get("format", "auto") in ("auto", "delta") and _delta_packages_requested(spark_conf):
        builder = builder.config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension").config(
            "spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel((conf.get("spark") or {}).get("log_level", "WARN"))
    return spark


def _delta_packages_requested(spark_conf: dict) -> bool:
    return "delta" in str(spark_conf.get("spark.jars.packages", "")) or "delta" in str(spark_conf.get("spark.jars", ""))


def delta_available(spark) -> bool:
    """True when the Delta Lake classes are on the JVM classpath (Databricks, EMR, or a delta jar)."""
    try:
        spark.sparkContext._jvm.java.lang.Class.forName("io.delta.tables.DeltaTable")
        return True
    except Exception:  # py4j wraps ClassNotFoundException
        return False
