"""The two ways rows go from Spark into a PostgreSQL (staging) table, chosen by `publish.writer`.

* `jdbc`: Spark's own JDBC writer, each partition one connection and one transaction, with
  `reWriteBatchedInserts=true` (pgjdbc turns a batch of single-row INSERTs into multi-row ones) and
  `stringtype=unspecified` (JSON text goes into `jsonb` columns). Needs the PostgreSQL JDBC driver
  on Spark's classpath (`logalyzer/spark.py` adds /usr/share/java/postgresql.jar when present).
* `copy`: `COPY ... FROM STDIN` through psycopg2 `copy_expert`, one connection and transaction per
  partition (`mapInArrow`): each Arrow record batch is encoded as it comes and streamed, so no
  Python code touches a row. Encoding `binary` (default): PostgreSQL's binary COPY format, made by
  pgpq (Rust), which also spares the server parsing text; `csv`: Arrow's C++ CSV writer.

Both write into a staging table that nobody reads; `pipeline.py` checks the staged row count and
moves the rows into the real table in one transaction. A partition that dies mid-way rolls its own
transaction back; one retried after it committed would show up as extra staged rows and stop the
publish before the swap.
"""
from __future__ import annotations

import io
import os
import signal

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.jvm import class_available, default_parallelism
from logalyzer.publish.connection import DbTarget, PublishError, one_line

WRITERS = ("copy", "jdbc")
_BINARY_TRAILER = b"\xff\xff"   # binary COPY: a tuple field count of -1 ends the data


class WriterError(PublishError):
    pass


def _partitions(df: DataFrame, wanted: int) -> DataFrame:
    """At most ``wanted`` partitions (= concurrent connections); 0 means Spark's default parallelism."""
    n = wanted or default_parallelism(df.sparkSession)
    return df.coalesce(n)  # coalesce never adds partitions: a no-op when there are fewer


def _short_error(exc: Exception, target: DbTarget) -> str:
    """The useful line of a (Java) error: the deepest 'Caused by'/SQL state message, not the stack."""
    text = str(exc)
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    keep = None
    for ln in lines:
        if ln.startswith(("Caused by:", "org.postgresql.util.PSQLException", "java.sql.", "psycopg2.",
                          "org.apache.spark.api.python.PythonException")) or "ERROR:" in ln:
            keep = ln
            if "ERROR:" in ln or "PSQLException" in ln:
                break
    msg = keep or (lines[0] if lines else type(exc).__name__)
    for noise in ("Caused by: ",):
        msg = msg.replace(noise, "")
    return target.redact(one_line(msg))[:600]


class JdbcWriter:
    name = "jdbc"
    mode = "jdbc"
    label = "jdbc"

    def __init__(self, batch_size: int = 10000, partitions: int = 0, url_options: dict | None = None):
        self.batch_size = int(batch_size)
        self.partitions = int(partitions or 0)
        self.url_options = {"reWriteBatchedInserts": "true", "stringtype": "unspecified"}
        self.url_options.update({k: str(v).lower() if isinstance(v, bool) else str(v)
                                 for k, v in (url_options or {}).items()})

    @staticmethod
    def driver_available(spark) -> bool:
        return class_available(spark, "org.postgresql.Driver")

    def write(self, df: DataFrame, target: DbTarget, schema: str, table: str) -> None:
        if not self.driver_available(df.sparkSession):
            raise WriterError("the PostgreSQL JDBC driver is not on Spark's classpath: install it "
                              "(`apt-get install libpostgresql-jdbc-java`, /usr/share/java/postgresql.jar), set "
                              "publish.jdbc_jar, or use publish.writer: copy")
        df = _partitions(df, self.partitions)
        writer = (df.write.format("jdbc").mode("append")
                  .option("url", target.jdbc_url(self.url_options))
                  .option("dbtable", f'"{schema}"."{table}"')
                  .option("batchsize", str(self.batch_size))
                  .option("isolationLevel", "READ_COMMITTED"))
        for key, value in target.jdbc_properties().items():
            writer = writer.option(key, value)
        try:
            writer.save()
        except Exception as exc:   # Py4J errors carry a Java stack trace: keep the cause only
            raise WriterError(f"jdbc writer failed on {schema}.{table}: {_short_error(exc, target)}") from None


class _CopyStream(io.RawIOBase):
    """A file object for ``copy_expert``: each read returns one Arrow record batch encoded for COPY
    (CSV by Arrow's C++ writer, or PostgreSQL's binary format by pgpq); no Python loop over rows."""

    def __init__(self, batches, encoding: str, jsonb: frozenset, kill_after_batches: int | None = None):
        self.batches = batches
        self.rows = 0
        self.sent = 0
        self.kill_after = kill_after_batches
        self.encoder = None
        self.done = False
        if encoding == "csv":
            import pyarrow.csv as pacsv

            options = pacsv.WriteOptions(include_header=False, batch_size=4096)

            def encode(batch) -> bytes:
                buf = io.BytesIO()
                pacsv.write_csv(batch, buf, options)
                return buf.getvalue()
            self.encode, self.header, self.trailer = encode, b"", b""
        else:
            self.jsonb = jsonb
            self.encode, self.header, self.trailer = self._binary, None, None

    def _binary(self, batch) -> bytes:
        # pgpq's encoder returns a stream's rows only at finish(), so each batch gets its own encoder:
        # the header goes out once, each batch's rows without the 2-byte trailer, the trailer at the end
        from pgpq import ArrowToPostgresBinaryEncoder
        from pgpq.encoders import StringEncoderBuilder
        from pgpq.schema import Jsonb

        encoders = {f.name: (StringEncoderBuilder.new_with_output(f, Jsonb()) if f.name in self.jsonb
                             else ArrowToPostgresBinaryEncoder.infer_encoder(f)) for f in batch.schema}
        encoder = ArrowToPostgresBinaryEncoder.new_with_encoders(batch.schema, encoders)
        header = bytes(encoder.write_header())
        body = bytes(encoder.write_batch(batch)) + bytes(encoder.finish())
        if body[-2:] != _BINARY_TRAILER:
            raise RuntimeError("unexpected binary COPY encoding from pgpq (no trailer)")
        first, self.encoder = self.encoder is None, True
        return (header if first else b"") + body[:-2]

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        if self.kill_after is not None and self.sent >= self.kill_after:
            os.kill(os.getpid(), signal.SIGKILL)   # tests: a writer killed mid-way, its COPY still open
        for batch in self.batches:
            if batch.num_rows == 0:
                continue
            self.rows += batch.num_rows
            self.sent += 1
            return self.encode(batch)
        if not self.done:
            self.done = True
            if self.encoder is not None:
                return _BINARY_TRAILER
        return b""


def _copy_partition(conn_kwargs: dict, copy_sql: str, encoding: str, jsonb: frozenset,
                    kill_after_batches: int | None):
    def run(batches):
        import itertools

        import psycopg2
        import pyarrow as pa

        first = next(batches, None)
        rows = 0
        if first is not None:
            conn = psycopg2.connect(**conn_kwargs)
            try:
                stream = _CopyStream(itertools.chain([first], batches), encoding, jsonb, kill_after_batches)
                with conn.cursor() as cur:
                    cur.copy_expert(copy_sql, stream, size=1 << 20)
                conn.commit()
                rows = stream.rows
            finally:
                conn.close()
        yield pa.RecordBatch.from_arrays([pa.array([rows], pa.int64())], names=["rows"])
    return run


class CopyWriter:
    """``encoding``: `csv` (Arrow's CSV writer) or `binary` (PostgreSQL's binary COPY format, by pgpq)."""

    name = "copy"

    def __init__(self, partitions: int = 0, encoding: str = "binary", kill_after_batches: int | None = None):
        if encoding not in ("csv", "binary"):
            raise PublishError(f"publish.copy.encoding must be csv or binary, not {encoding!r}")
        self.partitions = int(partitions or 0)
        self.encoding = encoding
        self.mode = encoding                            # how columns.prepare shapes the values
        self.label = f"copy ({encoding})"
        self.kill_after_batches = kill_after_batches   # tests only: SIGKILL the Python worker mid-COPY

    def write(self, df: DataFrame, target: DbTarget, schema: str, table: str) -> int:
        from logalyzer.publish.columns import jsonb_columns, pg_columns
        from logalyzer.publish.connection import connect

        if self.encoding == "binary":
            try:
                import pgpq  # noqa: F401
            except ImportError:
                raise WriterError("publish.copy.encoding binary needs the pgpq package "
                                  "(`pip install pgpq`); or use encoding csv") from None
        conn = connect(target)
        try:
            jsonb = frozenset(jsonb_columns(df.columns, pg_columns(conn, schema, table)))
        finally:
            conn.close()
        df = _partitions(df, self.partitions)
        cols = ", ".join(f'"{c}"' for c in df.columns)
        copy_sql = f'COPY "{schema}"."{table}" ({cols}) FROM STDIN WITH (FORMAT {self.encoding})'
        fn = _copy_partition(target.psycopg2_kwargs(), copy_sql, self.encoding, jsonb, self.kill_after_batches)
        try:
            return df.mapInArrow(fn, "rows long").agg(F.sum("rows")).first()[0] or 0
        except Exception as exc:
            raise WriterError(f"copy writer failed on {schema}.{table}: {_short_error(exc, target)}") from None


def make_writer(settings) -> "JdbcWriter | CopyWriter":
    if settings.writer == "jdbc":
        return JdbcWriter(settings.jdbc_batch_size, settings.jdbc_partitions, settings.jdbc_url_options)
    if settings.writer == "copy":
        return CopyWriter(settings.copy_partitions, settings.copy_encoding)
    raise PublishError(f"publish.writer must be one of {', '.join(WRITERS)}, not {settings.writer!r}")
