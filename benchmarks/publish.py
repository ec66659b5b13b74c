"""Publish benchmark: the COPY writer against Spark's JDBC writer on >= 1,000,000 rows, in one run.

    python benchmarks/publish.py                     # 1,000,000 rows per shape, local[2], 3 repeats
    python benchmarks/publish.py --rows 2000000 --repeats 5 --shapes timeseries

Two table shapes, built once in Spark and cached as Parquet under data/bench_publish/:
* `narrow`: 6 columns (text, timestamptz, text, integer, double, a map -> jsonb), the shape of the
  team's earlier plain test (docs/dependencies.md);
* `timeseries`: the real `device_timeseries` gold table (36 columns, 3 maps -> jsonb), published
  through the whole stage (`run_publish --full`: change detection, staging, swap, ANALYZE).

For each repeat both writers run, in alternating order, into a fresh UNLOGGED staging table of the
target's layout (the writer alone, which is what the target is about), and for `timeseries` the
whole publish too. Baselines measured in the same run: Spark reading and converting the rows into
its no-op sink (the Spark side alone, no database), and one psycopg2 COPY of pre-made CSV from the
driver (the server's own parse-and-store rate on one connection). The database is LOGALYZER_DB_URL,
or the private cluster under work/ (started or reused). Prints a table and one JSON line.

Wall-clock figures depend on what else the machine runs. So each timed block also counts the CPU
seconds of every process that took part (this one, the Spark JVM with its Python workers, and,
for the private cluster, the PostgreSQL server with its backends, from /proc): rows / (CPU s / 2)
is the rate two otherwise idle cores could reach if the work spread perfectly over both.
"""
from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f}/{five:.1f}/{fifteen:.1f}"


_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int):
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # after the name: state ppid ... utime(12) stime(13) cutime(14) cstime(15), 0-based from `state`
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def tree_cpu_seconds(root: int | None) -> float:
    """CPU seconds used so far by ``root`` and every live descendant (reaped ones are in their parent's
    children times): the Spark JVM with its Python workers, or the PostgreSQL server with its backends."""
    if not root:
        return 0.0
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st:
                procs[int(entry)] = st
    total, todo, seen = 0, [root], set()
    while todo:
        pid = todo.pop()
        if pid in seen or pid not in procs:
            continue
        seen.add(pid)
        total += procs[pid][1]
        todo.extend(p for p, (ppid, _) in procs.items() if ppid == pid)
    return total / _TICK


class CpuMeter:
    """CPU seconds of this process, the Spark JVM tree and the PostgreSQL server tree over a block."""

    def __init__(self, spark, server_pid: int | None):
        proc = getattr(spark.sparkContext._gateway, "proc", None)
        self.pids = [getattr(proc, "pid", None), server_pid]

    def now(self) -> float:
        own = os.times()
        return own.user + own.system + sum(tree_cpu_seconds(p) for p in self.pids)


def _server_pid(conf) -> int | None:
    from logalyzer.publish.target import local_server

    server = local_server(conf)
    try:
        return int((server.data / "postmaster.pid").read_text().split()[0]) if server else None
    except (OSError, ValueError, IndexError):
        return None


def _rotate(names: list, rep: int) -> list:
    """A different writer goes first in each repeat (machine load drifts)."""
    k = rep % len(names)
    return names[k:] + names[:k]


def build_narrow(spark, path: str, rows: int):
    from pyspark.sql import functions as F

    levels = F.array(*[F.lit(x) for x in ("INFO", "WARN", "ERROR", "DEBUG")])
    df = spark.range(rows).select(
        F.format_string("R%010d", F.col("id") % 5000).alias("device_id"),
        (F.lit(1795651200) + F.col("id")).cast("timestamp").alias("ts"),
        F.element_at(levels, (F.col("id") % 4 + 1).cast("int")).alias("level"),
        (F.col("id") % 1000).cast("int").alias("n"),
        (F.rand(1) * 100).alias("value"),
        F.create_map(F.lit("a"), (F.col("id") % 7).cast("int"), F.lit("b"), (F.col("id") % 3).cast("int")).alias("attrs"))
    df.repartition(2).write.mode("overwrite").parquet(path)


def build_timeseries(spark, catalog, rows: int):
    """A device_timeseries table with the real schema: devices x 5-minute buckets over 4 days."""
    from pyspark.sql import functions as F

    buckets_per_day, days = 288, 4
    devices = -(-rows // (buckets_per_day * days))
    base = spark.range(rows).select(
        F.col("id"), (F.col("id") % devices).alias("dev"), (F.col("id") / devices).cast("long").alias("b"))
    start = (F.lit(1795651200) + F.col("b") * 300).cast("timestamp")
    cols = [F.format_string("R%010d", F.col("dev")).alias("device_id"),
            F.format_string("R%010d", F.col("dev")).alias("device_key"),
            start.alias("bucket_start"), (start + F.expr("INTERVAL 5 MINUTES")).alias("bucket_end"),
            F.lit(300).alias("bucket_s"), (F.col("id") % 50 + 1).cast("int").alias("n_lines"),
            (F.col("id") % 9).cast("int").alias("n_var_events"), (F.col("id") % 3).cast("int").alias("error_lines"),
            F.create_map(F.lit("INFO"), (F.col("id") % 40).cast("int"), F.lit("DEBUG"), (F.col("id") % 7).cast("int"),
                         F.lit("ERROR"), (F.col("id") % 3).cast("int")).alias("level_counts"),
            F.when(F.col("id") % 4 == 0, F.create_map(F.lit("PLAYBACK_START"), F.lit(1), F.lit("VideoFreeze"),
                                                       (F.col("id") % 2).cast("int")))
             .otherwise(F.create_map().cast("map<string,int>")).alias("event_counts"),
            F.when(F.col("id") % 3 == 0, F.create_map(F.lit("MediaPlayer"), F.lit(1)))
             .otherwise(F.create_map().cast("map<string,int>")).alias("errors_by_tag")]
    names = ["content_changes", "playback_starts", "playback_stops", "black_screens", "black_screens_ms",
             "video_freezes", "video_freezes_ms", "video_resumes", "display_drops", "display_drops_ms",
             "hdmi_connects", "hdmi_disconnects", "hdmi_hotplugs", "hdmi_events", "pauses", "resumes",
             "fast_forwards", "rewinds", "seeks", "trick_events", "standby_enters", "standby_exits", "boots", "crashes"]
    for i, name in enumerate(names):
        value = ((F.col("id") + i) % (5 + i % 4))
        cols.append((value * 250).cast("bigint").alias(name) if name.endswith("_ms") else value.cast("int").alias(name))
    cols.append(F.to_date(start).alias("date"))
    catalog.overwrite("device_timeseries", base.select(*cols).repartition(2, "date"))


def staged_write(writer, df, target, conn, table: str, meter=None, cpu: list | None = None) -> float:
    """Seconds for ``writer`` to load ``df`` into a fresh UNLOGGED copy of ``table``; checks the count.
    With ``meter``, the CPU seconds all processes spent on it are appended to ``cpu``."""
    schema = target.schema
    with conn.cursor() as cur:
        cur.execute(f'DROP TABLE IF EXISTS "{schema}"._bench_stage')
        cur.execute(f'CREATE UNLOGGED TABLE "{schema}"._bench_stage (LIKE "{schema}"."{table}")')
    conn.commit()
    c = meter.now() if meter else 0.0
    t = time.perf_counter()
    writer.write(df, target, schema, "_bench_stage")
    seconds = time.perf_counter() - t
    if meter:
        cpu.append(meter.now() - c)
    with conn.cursor() as cur:
        cur.execute(f'SELECT count(*) FROM "{schema}"._bench_stage')
        n = cur.fetchone()[0]
        cur.execute(f'DROP TABLE "{schema}"._bench_stage')
    conn.commit()
    expected = df.count()
    assert n == expected, f"{writer.name}: {n} rows staged, {expected} expected"
    return seconds


def server_copy_floor(df, target, conn, table: str, sample: int = 200_000) -> float:
    """Rows/s of one COPY of pre-made CSV (``sample`` rows, made on the driver) on one connection."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    schema = target.schema
    pdf = df.limit(sample).toPandas()
    buf = io.BytesIO()
    pacsv.write_csv(pa.Table.from_pandas(pdf, preserve_index=False), buf, pacsv.WriteOptions(include_header=False))
    data = buf.getvalue()
    cols = ", ".join(f'"{c}"' for c in df.columns)
    times = []
    for _ in range(3):
        with conn.cursor() as cur:
            cur.execute(f'DROP TABLE IF EXISTS "{schema}"._bench_floor')
            cur.execute(f'CREATE UNLOGGED TABLE "{schema}"._bench_floor (LIKE "{schema}"."{table}")')
            t = time.perf_counter()
            cur.copy_expert(f'COPY "{schema}"._bench_floor ({cols}) FROM STDIN (FORMAT csv)', io.BytesIO(data),
                            size=1 << 20)
            times.append(time.perf_counter() - t)
            cur.execute(f'DROP TABLE "{schema}"._bench_floor')
        conn.commit()
    return len(pdf) / statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--shapes", nargs="+", default=["narrow", "timeseries"], choices=["narrow", "timeseries"])
    ap.add_argument("--data", default=str(ROOT / "data" / "bench_publish"))
    ap.add_argument("--skip-whole", action="store_true", help="time the writers only, not the whole publish")
    args = ap.parse_args()

    from logalyzer.catalog import Catalog
    from logalyzer.config import deep_merge, load_config
    from logalyzer.publish import run_publish
    from logalyzer.publish.columns import check_columns, pg_columns, prepare
    from logalyzer.publish.connection import connect
    from logalyzer.publish.migrations import upgrade
    from logalyzer.publish.target import resolve_target
    from logalyzer.publish.writers import CopyWriter, JdbcWriter
    from logalyzer.spark import build_spark

    conf = load_config(str(ROOT / "conf"), [f"spark.master={args.master}"])
    conf = deep_merge(conf, {"lake": {"root": f"{args.data}/lake_{args.rows}"}, "publish": {"schema": "bench"}})
    spark = build_spark("logalyzer-bench-publish", conf)
    catalog = Catalog(spark, conf)
    quiet = lambda *_: None  # noqa: E731
    target = resolve_target(conf, progress=print)
    conn = connect(target)
    upgrade(conn, target.schema)
    with conn.cursor() as cur:
        cur.execute('CREATE TABLE IF NOT EXISTS bench.narrow (device_id text, ts timestamptz, level text, '
                    'n integer, value double precision, attrs jsonb)')
    conn.commit()

    frames = {}
    if "narrow" in args.shapes:
        path = f"{args.data}/narrow_{args.rows}"
        if not os.path.exists(path + "/_SUCCESS"):
            build_narrow(spark, path, args.rows)
        frames["narrow"] = ("narrow", spark.read.parquet(path))
    if "timeseries" in args.shapes:
        if not catalog.exists("device_timeseries"):
            build_timeseries(spark, catalog, args.rows)
        frames["timeseries"] = ("device_timeseries", catalog.read("device_timeseries"))

    meter = CpuMeter(spark, _server_pid(conf))
    writers = {"copy (binary)": CopyWriter(encoding="binary"), "copy (csv)": CopyWriter(encoding="csv"),
               "jdbc": JdbcWriter()}
    results = {"load_before": _load(), "master": args.master, "rows": {}, "runs": []}
    print(f"load average before: {results['load_before']} on {os.cpu_count()} CPUs")
    for shape, (table, df) in frames.items():
        pg = pg_columns(conn, target.schema, table)
        cols = check_columns(table, f"bench.{table}", df.schema, pg)
        prepared = {w: prepare(df, cols, pg, mode=writers[w].mode) for w in writers}
        rows = df.count()
        results["rows"][shape] = rows
        # warm-up: JVM, Python workers, connections (not timed)
        for name, writer in writers.items():
            staged_write(writer, prepared[name].limit(20000), target, conn, table)
        noop, noop_cpu = [], []
        for _ in range(args.repeats):
            c = meter.now()
            t = time.perf_counter()
            prepared["copy (binary)"].write.mode("overwrite").format("noop").save()
            noop.append(time.perf_counter() - t)
            noop_cpu.append(meter.now() - c)
        cpu_med = statistics.median(noop_cpu)
        results["runs"].append({"shape": shape, "what": "Spark read + convert, no database (noop sink)",
                                "seconds": statistics.median(noop), "rows_per_s": rows / statistics.median(noop),
                                "cpu_seconds": round(cpu_med, 2), "rows_per_s_on_2_idle_cores": rows / (cpu_med / 2)})
        floor = server_copy_floor(prepared["copy (csv)"], target, conn, table)
        results["runs"].append({"shape": shape, "what": "server: one COPY of pre-made CSV, one connection",
                                "seconds": None, "rows_per_s": floor})
        per = {name: [] for name in writers}
        cpu = {name: [] for name in writers}
        for rep in range(args.repeats):
            order = _rotate(list(writers), rep)
            for name in order:
                per[name].append(staged_write(writers[name], prepared[name], target, conn, table, meter, cpu[name]))
                print(f"  {shape} {name} repeat {rep + 1}: {rows / per[name][-1]:,.0f} rows/s, "
                      f"{cpu[name][-1]:.1f} CPU s", flush=True)
        for name, times in per.items():
            med = statistics.median(times)
            cpu_med = statistics.median(cpu[name])
            results["runs"].append({"shape": shape, "what": f"{name} writer into staging", "seconds": med,
                                    "rows_per_s": rows / med, "all_seconds": [round(x, 2) for x in times],
                                    "cpu_seconds": round(cpu_med, 2),
                                    "rows_per_s_on_2_idle_cores": rows / (cpu_med / 2) if cpu_med else None})
        if table == "device_timeseries" and not args.skip_whole:
            whole = {name: [] for name in writers}
            for rep in range(args.repeats):
                order = _rotate(list(writers), rep)
                for name in order:
                    t = time.perf_counter()
                    run_publish(spark, catalog, conf, tables=["device_timeseries"], full=True, progress=quiet,
                                target=target, writer=writers[name])
                    whole[name].append(time.perf_counter() - t)
            for name, times in whole.items():
                med = statistics.median(times)
                results["runs"].append({"shape": shape, "what": f"whole publish --full ({name})", "seconds": med,
                                        "rows_per_s": rows / med, "all_seconds": [round(x, 2) for x in times]})
    conn.close()
    results["load_after"] = _load()
    print(f"\nload average after: {results['load_after']}; master {args.master}; medians of {args.repeats}")
    print("| shape | rows | what | seconds | rows/s | vs noop | CPU s (all processes) | rows/s if 2 idle cores |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in results["runs"]:
        base = next(x["rows_per_s"] for x in results["runs"] if x["shape"] == r["shape"] and "noop" in x["what"])
        sec = f"{r['seconds']:.2f}" if r["seconds"] else ""
        cpu_s = f"{r['cpu_seconds']:.1f}" if r.get("cpu_seconds") else ""
        idle = f"{r['rows_per_s_on_2_idle_cores']:,.0f}" if r.get("rows_per_s_on_2_idle_cores") else ""
        print(f"| {r['shape']} | {results['rows'][r['shape']]:,} | {r['what']} | {sec} | {r['rows_per_s']:,.0f} | "
              f"{r['rows_per_s'] / base:.2f} | {cpu_s} | {idle} |")
    print(json.dumps(results, default=str))
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
