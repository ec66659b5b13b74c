"""One table API: every table is addressed by name (conf/base/catalog.yml), never by a path in code.

Delta Lake is used when its classes are on the classpath (Databricks, EMR, a delta jar); otherwise
Parquet, with a one-line notice. Callers never branch on the format: read, append, overwrite
(whole table or only the partitions present) and merge (upsert on keys) behave the same on both.

The lake records its format in ``_logalyzer_lake.json`` at its root when first written; opening it
with another format setting is an error, not a lake whose every table looks missing.

Replacing a whole Parquet table never deletes it before the new copy is complete: the new rows go to
a sibling staging folder, then two renames swap it in (``x`` -> ``x.__old__T``, staging -> ``x``),
and the old copy is removed last. A run that dies in between leaves leftovers that the next opening
of the lake puts right (the previous table back in place). Delta needs none of this: each of its
writes is one atomic commit. The option sets each format gets are chosen by ``write_plan``.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from pyspark.sql import DataFrame, SparkSession

from logalyzer.errors import ConfigError, LakeFormatError
from logalyzer.lakelock import MARKER_FILE, LakeFiles, LakeLock
from logalyzer.spark import delta_available

log = logging.getLogger(__name__)

FORMATS = ("auto", "delta", "parquet")
STAGING, OLD = ".__staging__", ".__old__"


class TableNotFoundError(RuntimeError):
    pass


@dataclass(frozen=True)
class WritePlan:
    """What one write sends to Spark: format, save mode, options, and for Parquet whether it is staged."""
    format: str
    mode: str                      # append | overwrite
    options: dict = field(default_factory=dict)
    partition_by: tuple = ()
    swap: bool = False             # Parquet whole-table replace: write a sibling, then swap by renames
    staged: bool = False           # Parquet partition replace: the rows are written to a sibling first


def sql_literal(value) -> str:
    """A partition value as a SQL literal (for Delta's replaceWhere)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP'{value.isoformat(sep=' ')}'"
    if isinstance(value, dt.date):
        return f"DATE'{value.isoformat()}'"
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def replace_where(partition_by, values) -> str:
    """``date IN (DATE'2026-11-20', ...)``: the partitions held by ``values`` (tuples in partition_by order)."""
    clauses = []
    for row in sorted(set(values), key=repr):
        parts = [f"`{c}` IS NULL" if v is None else f"`{c}` = {sql_literal(v)}" for c, v in zip(partition_by, row)]
        clauses.append("(" + " AND ".join(parts) + ")")
    return " OR ".join(clauses) if clauses else "false"


def write_plan(fmt: str, mode: str, spec: dict, partition_values=None) -> WritePlan:
    """The write that ``mode`` (append | overwrite | overwrite_partitions) issues on ``fmt`` for table ``spec``.

    A pure function, so both formats' option sets are tested here although Delta cannot run here.
    ``partition_values``: the partition tuples the rows hold (needed by Delta's partition replace).
    """
    options = {k: str(v) for k, v in (spec.get("write_options") or {}).items()}
    parts = tuple(spec.get("partition_by") or ())
    if mode == "overwrite_partitions" and not parts:
        mode = "overwrite"          # an unpartitioned table has one partition: the whole table
    if mode == "append":
        return WritePlan(fmt, "append", options, parts)
    if fmt == "delta":
        if mode == "overwrite":
            # Delta: one atomic commit replaces every file, and overwriteSchema lets the new rows bring a
            # new schema (as a Parquet swap does); it is only allowed on such whole-table overwrites.
            # partitionOverwriteMode=static: Delta >= 2.0 honours a session-wide `dynamic` setting and
            # then rejects overwriteSchema (DELTA_OVERWRITE_SCHEMA_WITH_DYNAMIC_PARTITION_OVERWRITE).
            return WritePlan(fmt, "overwrite", {**options, "overwriteSchema": "true",
                                                "partitionOverwriteMode": "static"}, parts)
        # Delta: replaceWhere replaces exactly the rows matching the predicate in one commit. Delta
        # rejects overwriteSchema together with replaceWhere or with dynamic partition overwrite
        # (DELTA_OVERWRITE_SCHEMA_WITH_DYNAMIC_PARTITION_OVERWRITE), so neither is sent; mergeSchema
        # lets new columns in (schema evolution adds columns, it never drops them).
        if partition_values is None:
            raise ValueError("a Delta partition replace needs the partition values the rows hold")
        return WritePlan(fmt, "overwrite", {**options, "replaceWhere": replace_where(parts, partition_values),
                                            "mergeSchema": "true"}, parts)
    if mode == "overwrite":
        return WritePlan(fmt, "overwrite", options, parts, swap=True)
    # Parquet: dynamic partition overwrite replaces only the partitions present in the rows (Spark
    # writes them aside and moves each partition folder in at job commit).
    return WritePlan(fmt, "overwrite", {**options, "partitionOverwriteMode": "dynamic"}, parts, staged=True)


class Catalog:
    def __init__(self, spark: SparkSession, conf: dict):
        self.spark = spark
        lake = conf.get("lake") or {}
        root = str(lake.get("root", "lake"))
        if "://" not in root and not root.startswith("dbfs:"):
            root = os.path.abspath(root)
        self.root = root.rstrip("/")
        self.tables = conf.get("tables") or {}
        self.files = LakeFiles(self.root, spark)
        self.lock = LakeLock(self.files)
        self._fault = None          # tests: a callable(step) run between the steps of a Parquet swap
        wanted = lake.get("format", "auto")
        if wanted not in FORMATS:
            raise ConfigError(f"setting 'lake.format' must be one of {', '.join(FORMATS)}, got {wanted!r}")
        has_delta = delta_available(spark)
        recorded = self._recorded_format()
        if recorded and wanted not in ("auto", recorded):
            raise LakeFormatError(
                f"the lake at {self.root} holds {recorded} tables ({self.files.where(MARKER_FILE)}), but "
                f"lake.format is {wanted!r}: set lake.format to {recorded} (or auto), or use another lake root")
        if recorded == "delta" or (not recorded and wanted == "delta"):
            if not has_delta:
                raise LakeFormatError(
                    f"the lake at {self.root} {'holds Delta tables' if recorded else 'is set to Delta (lake.format)'}"
                    " but the Delta Lake jar is not on the classpath (use Databricks/EMR, set spark.jars.packages "
                    "where Maven is reachable" + ("" if recorded else ", or lake.format: parquet") + ")")
        self.format = recorded or ("delta" if (wanted == "delta" or (wanted == "auto" and has_delta)) else "parquet")
        if self.format == "parquet" and wanted == "auto" and not recorded:
            log.info("Delta Lake jar not on the classpath: tables are stored as Parquet under %s", self.root)
        self._recover_if_idle()

    # -- the lake's format marker, lock and leftovers ----------------------------------------------
    def _recorded_format(self) -> str | None:
        """The format in the lake's marker; for a lake written before markers, the format its tables have."""
        text = self.files.read(MARKER_FILE)
        if text is not None:
            try:
                return json.loads(text)["format"]
            except (ValueError, KeyError, TypeError):
                raise LakeFormatError(f"{self.files.where(MARKER_FILE)} is not a lake marker "
                                      "(expected JSON with a `format`): restore or delete it") from None
        if not self._path_exists(self.root):
            return None
        for name in self.tables:
            path = f"{self.root}/{self.tables[name].get('path', name)}"
            if self._path_exists(path + "/_delta_log"):
                return "delta"
            if self._path_exists(path + "/_SUCCESS"):
                return "parquet"
        return None

    def _mark_format(self) -> None:
        if getattr(self, "_marked", False):
            return
        marker = {"format": self.format, "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
                  "note": "written by LOGalyzer when the lake was created; tables here are stored in this format"}
        self.files.create(MARKER_FILE, json.dumps(marker, indent=1) + "\n")
        self._marked = True

    @contextmanager
    def writing(self, stage: str, run_id: str):
        """Hold the lake's writer lock for a stage run; yields the stale lock taken over (or None)."""
        stale = self.lock.acquire(stage, run_id)
        try:
            self._mark_format()
            self.recover()
            yield stale
        finally:
            self.lock.release()

    def _leftovers(self) -> dict:
        """table path -> [leftover sibling folders] (staging copies and swapped-out old copies)."""
        found: dict = {}
        parents = sorted({self.path(n).rsplit("/", 1)[0] for n in self.tables})
        for parent in parents:
            fs, jparent = self._fs(parent)
            if not fs.exists(jparent):
                continue
            for st in fs.listStatus(jparent):
                full = parent + "/" + st.getPath().getName()
                for marker in (STAGING, OLD):
                    if marker in full:
                        found.setdefault(full.split(marker)[0], []).append(full)
        return found

    def _recover_if_idle(self) -> None:
        if self.lock.held(self.root) or not self._path_exists(self.root):
            return
        if not self._leftovers():
            return
        holder = self.lock.holder()
        if holder is not None and not self.lock.is_stale(holder):
            return      # a writer at work: its staging folders are no leftovers
        from logalyzer.runlog import hold_lake

        with hold_lake(self, "recover"):    # takes a dead run's lock over, cleans up after it, recovers
            pass

    def recover(self) -> list[str]:
        """Put right what a run that died in a Parquet swap left: the previous copy back, staging removed.

        Called with the lock held. Returns a line per table put right.
        """
        done = []
        for path, extra in self._leftovers().items():
            fs, jpath = self._fs(path)
            olds = sorted(p for p in extra if OLD in p)
            restored = not fs.exists(jpath) and bool(olds)
            if restored:      # died between the two renames: the previous copy goes back
                _, jold = self._fs(olds[-1])
                fs.rename(jold, jpath)
                extra = [p for p in extra if p != olds[-1]]
            for leftover in extra:
                _, jleft = self._fs(leftover)
                fs.delete(jleft, True)
            done.append(f"{path}: " + ("an unfinished replace was undone, the previous copy is back" if restored
                                       else f"removed {len(extra)} leftover folder(s) of an unfinished write"))
        for line in done:
            log.warning("lake: %s", line)
        return done

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
        from logalyzer.jvm import hadoop_fs     # the one door to the JVM (Spark Connect: JvmUnavailable)

        return hadoop_fs(self.spark, path)

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
    def _writer(self, df: DataFrame, plan: WritePlan, options: dict | None = None):
        writer = df.write.format(plan.format).mode(plan.mode)
        for key, value in (plan.options if options is None else options).items():
            writer = writer.option(key, value)
        if plan.partition_by:
            writer = writer.partitionBy(*plan.partition_by)
        return writer

    def _step(self, step: str) -> None:
        if self._fault is not None:
            self._fault(step)

    def append(self, name: str, df: DataFrame) -> None:
        self._mark_format()
        self._writer(df, write_plan(self.format, "append", self.spec(name))).save(self.path(name))

    def overwrite(self, name: str, df: DataFrame, partitions_only: bool = False) -> None:
        """Replace the table, or with ``partitions_only`` just the partitions that ``df`` holds.

        ``df`` may read from the table itself (a merge): Parquet then stages the result first,
        because Spark cannot overwrite files it is still reading.
        """
        path = self.path(name)
        self._mark_format()
        mode = "overwrite_partitions" if partitions_only else "overwrite"
        values = None
        if self.format == "delta" and partitions_only and self.partition_by(name):
            parts = self.partition_by(name)
            values = [tuple(r) for r in df.select(*parts).distinct().collect()]   # partitions: few
        plan = write_plan(self.format, mode, self.spec(name), values)
        if self.format == "delta":
            self._writer(df, plan).save(path)
            return
        token = uuid.uuid4().hex[:8]
        staging, old = f"{path}{STAGING}{token}", f"{path}{OLD}{token}"
        fs, jpath = self._fs(path)
        _, jstaging = self._fs(staging)
        _, jold = self._fs(old)
        try:
            # df is evaluated here, once: a failure leaves the table as it was. Without the partition
            # option: a static overwrite would delete what the staging folder holds only by partition.
            self._writer(df, plan, {k: v for k, v in plan.options.items() if k != "partitionOverwriteMode"}
                         ).save(staging)
            self._step("staged")
            if plan.staged:
                self._writer(self.spark.read.parquet(staging), plan).save(path)
                return
            moved = bool(fs.exists(jpath))
            if moved and not fs.rename(jpath, jold):
                raise OSError(f"could not move {path} aside to {old}")
            self._step("moved_aside")
            if not fs.rename(jstaging, jpath):
                if moved:
                    fs.rename(jold, jpath)
                raise OSError(f"could not move {staging} to {path}")
            self._step("swapped")
            if moved:
                fs.delete(jold, True)
        except BaseException:
            # the previous copy back in place if it was moved aside (a fault between the two renames)
            if fs.exists(jold) and not fs.exists(jpath):
                fs.rename(jold, jpath)
            raise
        finally:
            if fs.exists(jstaging):
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
