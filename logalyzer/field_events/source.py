"""The recorded field events as Spark DataFrames, read from PostgreSQL.

Through Spark's JDBC reader when the PostgreSQL driver is on the classpath (clusters, CI with
libpostgresql-jdbc-java). Without it, in local mode only, a `COPY ... TO STDOUT` export into a
temporary CSV file that Spark reads (the rows stream to disk; nothing is held in driver memory).
"""
from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager

from pyspark.sql import SparkSession

from logalyzer.publish.connection import DbTarget, PublishError, connect, one_line

EVENTS_SCHEMA = "event_id string, app_package string, version string, action string, event_time timestamp"
DEVICES_SCHEMA = "event_id string, device_id string, event_time timestamp"
_QUERIES = {
    "events": 'SELECT event_id, app_package, version, action, event_time FROM "{s}".field_events',
    "devices": 'SELECT event_id, device_id, event_time FROM "{s}".field_event_devices',
}


def _driver_available(spark: SparkSession) -> bool:
    from logalyzer.publish.writers import JdbcWriter

    return JdbcWriter.driver_available(spark)


@contextmanager
def field_events_frames(spark: SparkSession, target: DbTarget, workdir: str | None = None):
    """(events, event_devices) of the target schema, the frames `impact.field_event_impact` takes;
    usable inside the `with` block (an export's temporary files are removed after it)."""
    if '"' in target.schema:
        raise PublishError(f"unusable schema name {target.schema!r}")
    if _driver_available(spark):
        def jdbc(name, schema):
            frame = spark.read.jdbc(target.jdbc_url(), f"({_QUERIES[name].format(s=target.schema)}) q",
                                    properties=target.jdbc_properties())
            return frame.selectExpr(*[f"CAST({c.split()[0]} AS {c.split()[1]}) AS {c.split()[0]}"
                                      for c in schema.split(", ")])
        yield jdbc("events", EVENTS_SCHEMA), jdbc("devices", DEVICES_SCHEMA)
        return
    master = spark.sparkContext.master
    if not master.startswith("local"):
        raise PublishError("reading field_events needs the PostgreSQL JDBC driver on a cluster "
                           "(publish.jdbc_jar, or libpostgresql-jdbc-java)")
    folder = tempfile.mkdtemp(prefix="logalyzer-field-events-", dir=workdir)
    out = []
    try:
        conn = connect(target)
    except Exception:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    try:
        for name, schema in (("events", EVENTS_SCHEMA), ("devices", DEVICES_SCHEMA)):
            path = os.path.join(folder, f"{name}.csv")
            sql_text = _QUERIES[name].format(s=target.schema).replace(
                "event_time", "to_char(event_time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') AS event_time")
            with open(path, "w", encoding="utf-8") as fh, conn.cursor() as cur:
                cur.copy_expert(f"COPY ({sql_text}) TO STDOUT WITH (FORMAT csv)", fh)
            out.append(spark.read.schema(schema).option("timestampFormat", "yyyy-MM-dd'T'HH:mm:ss.SSSSSS")
                       .option("mode", "FAILFAST").csv("file://" + os.path.abspath(path)))
        conn.rollback()
    except Exception as exc:
        import psycopg2

        shutil.rmtree(folder, ignore_errors=True)
        if isinstance(exc, psycopg2.Error):
            raise PublishError(f"cannot read field_events from {target.describe()}: "
                               f"{target.redact(one_line(exc))}") from None
        raise
    finally:
        conn.close()
    try:
        yield out[0], out[1]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
