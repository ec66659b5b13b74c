"""One table API: every table is addressed by name (conf/base/catalog.yml), never by a path in code.

Delta Lake is used when its classes are on the classpath (Databricks, EMR, a delta jar); otherwise
Parquet, with a one-line notice. Callers never branch on the format: read, append, overwrite
(whole table or only the partitions present) and merge (upsert on keys) behave the same on both.
"""
from __future__ import annotations

import logging
import os
import uuid

from pyspark.sql import DataFrame, SparkSession

from logalyzer.spark import delta_available

log = logging.getLogger(__name__)


class TableNotFoundError(RuntimeError):
    pass


class Catalog:
    def __init__(self, spark: SparkSession, conf: dict):
        self.spark = spark
        lake = conf.get("lake") or {}
        root = str(lake.get("root", "lake"))
        if "://" not in root and not root.startswith("dbfs:"):
            root = os.path.abspath(root)
        self.root = root.rstrip("/")
        self.tables = conf.get("tables") or {}
        wanted = lake.get("format", "auto")
        has_delta = delta_available(spark)
        if wanted == "delta" and not has_delta:
            raise RuntimeError("lake.format is 'delta' but the Delta Lake jar is not on the classpath "
                               "(use Databricks/EMR, set spark.jars.packages where Maven is reachable, or lake.format: parquet)")
        self.format = "delta" if (wanted == "delta" or (wanted == "auto" and has_delta)) else "parquet"
        if self.format == "parquet" and wanted == "auto":
            log.info("Delta Lake jar not on the classpath: tables are stored as Parquet under %s", self.root)

    # -- naming -------------------------------------------------------------------------------------
    def spec(self, name: str) -> dict:
        if name not in self.tables:
            raise KeyError(f"unknown table {name!r}; known tables: {', '.join(sorted(self.tables))}")
        return self.tables[name]

    def path(self, name: str) -> str:
        return f"{self.root}/{self.spec(name).get('path', name)}"

    def partition_by(self, name: str) -> list[str]:
        return list(self.spec(name).get("partition_by") or [])

    # -- filesystem helpers (Hadoop FS, so s3a://, dbfs:/ and file: all work) -----------------------
    def _fs(self, path: str):
        jvm = self.spark.sparkContext._jvm
        jpath = jvm.org.apache.hadoop.fs.Path(path)
        return jpath.getFileSystem(self.spark.sparkContext._jsc.hadoopConfiguration()), jpath

    def _path_exists(self, path: str) -> bool:
        fs, jpath = self._fs(path)
        return fs.exists(jpath)

    def exists(self, name: str) -> bool:
        path = self.path(name)
        if self.format == "delta":
            return self._path_exists(path + "/_delta_log")
        return self._path_exists(path + "/_SUCCESS")

    def drop(self, name: str) -> None:
        fs, jpath = self._fs(self.path(name))
        if fs.exists(jpath):
            fs.delete(jpath, True)

    # -- reads -----------------------------------------------------------------------------------------
    def read(self, name: str) -> DataFrame:
        if not self.exists(name):
            raise TableNotFoundError(
                f"table {name!r} does not exist yet at {self.path(name)}"
                + (f": {self.spec(name)['produced_by']}" if self.spec(name).get("produced_by") else ""))
        return self.spark.read.format(self.format).load(self.path(name))

    def read_or_empty(self, name: str, schema) -> DataFrame:
        if self.exists(name):
            return self.read(name)
        return self.spark.createDataFrame([], schema)

    # -- writes ----------------------------------------------------------------------------------------
    def _writer(self, df: DataFrame, name: str, mode: str):
        writer = df.write.format(self.format).mode(mode)
        for key, value in (self.spec(name).get("write_options") or {}).items():
            writer = writer.option(key, str(value))
        parts = self.partition_by(name)
        if parts:
            writer = writer.partitionBy(*parts)
        return writer

    def append(self, name: str, df: DataFrame) -> None:
        self._writer(df, name, "append").save(self.path(name))

    def overwrite(self, name: str, df: DataFrame, partitions_only: bool = False) -> None:
        """Replace the table, or with ``partitions_only`` just the partitions that ``df`` holds.

        ``df`` may read from the table itself (a merge): Parquet then stages the result first,
        because Spark cannot overwrite files it is still reading.
        """
        path = self.path(name)
        if self.format == "delta":
            writer = self._writer(df, name, "overwrite").option("overwriteSchema", "true")
            if partitions_only:
                writer = writer.option("partitionOverwriteMode", "dynamic")
            writer.save(path)
            return
        staging = f"{path}.__staging__{uuid.uuid4().hex[:8]}"
        self._writer(df, name, "overwrite").save(staging)
        staged = self.spark.read.parquet(staging)
        try:
            writer = self._writer(staged, name, "overwrite")
            if partitions_only:
                writer = writer.option("partitionOverwriteMode", "dynamic")
            writer.save(path)
        finally:
            fs, jstaging = self._fs(staging)
            fs.delete(jstaging, True)

    def delete(self, name: str, condition: str) -> int:
        """Delete the rows matching ``condition`` (a SQL expression); returns how many there were.

        Parquet rewrites only the partitions holding such rows, and removes a partition left
        empty. Meant for rare repairs (rolling back an unfinished load), not for routine use.
        """
        if not self.exists(name):
            return 0
        from pyspark.sql import functions as F

        doomed = self.read(name).where(F.expr(condition))
        n = doomed.count()
        if not n:
            return 0
        if self.format == "delta":
            from delta.tables import DeltaTable

            DeltaTable.forPath(self.spark, self.path(name)).delete(condition)
            return n
        keep = F.coalesce(~F.expr(condition), F.lit(True))   # rows where the condition is null stay
        parts = self.partition_by(name)
        if not parts:
            self.overwrite(name, self.read(name).where(keep))
            return n
        touched = [tuple(r) for r in doomed.select(*parts).distinct().collect()]   # partitions: few
        in_touched = F.lit(False)
        for t in touched:
            same = F.lit(True)
            for c, v in zip(parts, t):
                same = same & F.col(c).eqNullSafe(F.lit(v))
            in_touched = in_touched | same
        kept = self.read(name).where(in_touched & keep)
        still = {tuple(r) for r in kept.select(*parts).distinct().collect()}
        if still:
            self.overwrite(name, kept, partitions_only=True)
        for t in touched:
            if t not in still:
                fs, jpath = self._fs(self.path(name) + "/" + "/".join(f"{c}={v}" for c, v in zip(parts, t)))
                fs.delete(jpath, True)
        fs, root = self._fs(self.path(name))
        if not [st for st in fs.listStatus(root) if not st.getPath().getName().startswith(("_", "."))]:
            self.drop(name)   # no partition left: Spark cannot read a Parquet folder without files
        return n

    def merge(self, name: str, df: DataFrame, keys: list[str]) -> None:
        """Upsert ``df`` into the table on ``keys`` (new rows inserted, matching rows replaced)."""
        if not self.exists(name):
            self.overwrite(name, df)
            return
        if self.format == "delta":
            from delta.tables import DeltaTable

            cond = " AND ".join(f"t.`{k}` <=> s.`{k}`" for k in keys)
            (DeltaTable.forPath(self.spark, self.path(name)).alias("t")
             .merge(df.alias("s"), cond).whenMatchedUpdateAll().whenNotMatchedInsertAll().execute())
            return
        existing = self.read(name)
        kept = existing.join(df.select(*keys).distinct(), on=keys, how="left_anti")
        self.overwrite(name, kept.unionByName(df, allowMissingColumns=True))
