"""Sessions stage throughput: lines/s and sessions/s on a fleet of >= 2,000,000 lines, local[1] vs local[2].

    python benchmarks/sessions.py [--lines 2000000] [--devices 200] [--days 2] [--source auto]
                                  [--repeats 1] [--work /tmp/logalyzer-bench-sessions]

The `events` table is built once (cached under --work, reused while the arguments are the same):

* ``--source pipeline``: the generated fleet (logalyzer.generate) through ingest and templates, the
  real input; ``auto`` (the default) takes this road when those stages exist, else
* ``--source synthetic``: an events-shaped DataFrame made in Spark (spark.range + expressions):
  VAR events at the generator's mix, logcat noise, a few crashes, 0.05 % re-uploaded duplicates and
  some out-of-order lines.

Only ``run_sessions`` (full rebuild: read events, de-duplicate, sessions, time series, the three
kinds of sequences, all written) is timed, each master in a fresh process; then one incremental
day. Peak memory: the driver's Python process and the Spark JVM (in local mode it also runs the
executors). Nothing is collected to the driver, and the work is partitioned by device.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, fleet, jvm_peak_rss_mb, peak_rss_mb, run_child  # noqa: E402


def _conf(lake: str, master: str):
    from logalyzer.config import load_config

    return load_config(str(ROOT / "conf"), overrides=[f"lake.root={lake}", f"spark.master={master}"],
                       env="__bench__")


def synthetic_events(spark, lines: int, devices: int, days: int, seed: int = 7):
    """An events-shaped DataFrame built in Spark: ``lines`` rows over ``devices`` devices and ``days`` days."""
    from pyspark.sql import functions as F

    per_device = max(lines // devices, 1)
    span_s = days * 86400
    var_types = ["CHANGE_CONTENT", "PLAYBACK_START", "PLAYBACK_STOP", "PAUSE", "RESUME", "SEEK", "FAST_FORWARD",
                 "REWIND", "VideoFreeze", "VideoResume", "BlackScreen", "DisplayDrop", "HDMI_HOTPLUG",
                 "HDMI_CONNECT", "STANDBY_ENTER", "STANDBY_EXIT", "BOOT_COMPLETED"]
    weights = [30, 30, 30, 6, 10, 6, 4, 2, 3, 4, 2, 3, 1, 1, 0.5, 0.5, 0.3]
    cum, acc = [], 0.0
    for w in weights:
        acc += w / sum(weights)
        cum.append(acc)
    tags = ["ActivityManager", "WifiStateMachine", "ExoPlayerImpl", "MediaCodec", "SurfaceFlinger", "chatty",
            "AudioFlinger", "BluetoothAdapter", "NetworkMonitor", "EpgService", "dalvikvm", "PackageManager"]
    levels = [("DEBUG", 0.35), ("INFO", 0.45), ("WARN", 0.12), ("ERROR", 0.075), ("FATAL", 0.005)]

    u = lambda salt: (F.abs(F.xxhash64(F.col("id"), F.lit(seed), F.lit(salt))) % 1_000_000) / 1e6  # noqa: E731
    df = spark.range(0, per_device * devices, numPartitions=max(8, devices // 25)) \
        .withColumn("dev", (F.col("id") / per_device).cast("long")) \
        .withColumn("k", F.col("id") % per_device)
    # even spacing with jitter; ~0.1 % of lines written 1-3 s out of order
    step = span_s / per_device
    offset = F.col("k") * step + u(1) * step - F.when(u(2) < 0.001, 1 + u(3) * 2).otherwise(0)
    base = F.unix_seconds(F.lit("2026-11-20 00:00:00").cast("timestamp"))
    df = df.withColumn("ts", F.timestamp_micros(((base + offset) * 1e6).cast("long")))
    var_pick = F.when(u(4) < cum[0], var_types[0])
    for t, c in zip(var_types[1:], cum[1:]):
        var_pick = var_pick.when(u(4) < c, t)
    is_var = u(5) < 0.16
    level = F.when(u(6) < levels[0][1], levels[0][0])
    run = levels[0][1]
    for name, p in levels[1:]:
        run += p
        level = level.when(u(6) < run, name)
    crash = ~is_var & (u(7) < 0.0002)
    evt = F.when(is_var, var_pick)
    data = (F.when(evt == "CHANGE_CONTENT", F.format_string(
                '{"channel":"ch%d","content_id":"c-%06d","uri":"dvb://%d"}',
                (u(8) * 60).cast("int"), (u(9) * 999999).cast("int"), (u(8) * 60).cast("int")))
            .when(evt.isin("BlackScreen", "VideoFreeze", "DisplayDrop"),
                  F.format_string('{"duration_ms":%d}', (u(10) * 2500).cast("int") + 16))
            .when(evt.isin("FAST_FORWARD", "REWIND"), F.lit('{"speed":8}'))
            .when(evt == "SEEK", F.format_string('{"position_ms":%d}', (u(10) * 5e6).cast("int")))
            .when(evt == "BOOT_COMPLETED", F.lit('{"boot_reason":"cold"}'))
            .when(evt.isNotNull(), F.lit("{}")))
    tag = F.when(is_var, "VAR").when(crash, "AndroidRuntime").otherwise(
        F.element_at(F.array(*[F.lit(t) for t in tags]), (u(11) * len(tags)).cast("int") + 1))
    template = F.when(is_var, F.concat(F.lit("V_"), evt)).when(crash, F.lit("CRASH")).otherwise(
        F.concat(F.lit("T"), (u(12) * 400).cast("int").cast("string")))
    device = F.format_string("R%010d", F.col("dev") + 1)
    day = F.date_format("ts", "yyyyMMdd")
    df = df.select(
        device.alias("device_id"), "ts", F.to_date("ts").alias("date"),
        F.when(crash, "ERROR").otherwise(level).alias("level"),
        F.lit(1000).alias("pid"), F.lit(1001).alias("tid"), tag.alias("tag"),
        F.when(crash, F.lit("FATAL EXCEPTION: main")).when(is_var, F.concat_ws(" ", evt, data))
         .otherwise(F.concat(F.lit("message "), template)).alias("message"),
        F.lit(None).cast("string").alias("var_category"), F.lit(None).cast("string").alias("var_function"),
        evt.alias("var_event_type"), data.alias("var_data"),
        F.create_map().cast("map<string,string>").alias("fields"), F.lit("logcat_threadtime").alias("format"),
        F.format_string("/fleet/%s/%s_%s_00.log.gz", F.date_format("ts", "yyyy-MM-dd"), device, day).alias("source_file"),
        F.lit("sha").alias("source_hash"), (F.col("k") + 1).alias("line_no"),
        F.md5(F.concat_ws("|", device, F.col("k").cast("string"))).alias("line_hash"),
        F.lit("bench").alias("run_id"), template.alias("template_id"), template.alias("template"),
        F.array().cast("array<string>").alias("params"), u(13).alias("_u"))
    # 0.05 % of lines re-uploaded in a second file (same line_hash): must be dropped, not counted twice
    dups = df.where(F.col("_u") < 0.0005).withColumn("source_file", F.concat("source_file", F.lit(".dup")))
    return df.unionByName(dups).drop("_u")


def build_events(work: Path, source: str, lines: int, devices: int, days: int) -> dict:
    """Child: make the `events` table once; returns what was built."""
    from logalyzer.catalog import Catalog
    from logalyzer.spark import build_spark

    lake = work / "lake"
    stamp = work / "events-args.json"
    args = {"source": source, "lines": lines, "devices": devices, "days": days}
    if stamp.exists() and json.loads(stamp.read_text())["args"] == args:
        return json.loads(stamp.read_text())["built"]
    shutil.rmtree(lake, ignore_errors=True)
    conf = _conf(str(lake), "local[2]")
    spark = build_spark("bench-sessions-events", conf)
    catalog = Catalog(spark, conf)
    t = time.perf_counter()
    if source == "pipeline":
        from logalyzer.ingest import run_ingest
        from logalyzer.templates.pipeline import run_templates

        # a little over the target: the generator's deliberately bad lines end in quarantine, not events
        per_device_day = max(-(-int(lines * 1.002) // (devices * days)), 1)
        fleet(str(work / "fleet"), devices, per_device_day, days=days)
        run_ingest(spark, catalog, conf, str(work / "fleet"), progress=lambda *_: None)
        run_templates(spark, catalog, conf, progress=lambda *_: None)
    else:
        catalog.overwrite("events", synthetic_events(spark, lines, devices, days))
    events = catalog.read("events")
    built = {"source": source, "rows": events.count(), "devices": events.select("device_id").distinct().count(),
             "dates": events.select("date").distinct().count(), "build_s": round(time.perf_counter() - t, 1)}
    spark.stop()
    stamp.write_text(json.dumps({"args": args, "built": built}))
    return built


def jvm_cpu_s(spark) -> float | None:
    """CPU seconds (user + system) the Spark JVM has used so far: a figure that a busy machine does not skew."""
    import os

    pid = getattr(getattr(spark.sparkContext._gateway, "proc", None), "pid", None)
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, TypeError, ValueError, IndexError):
        return None


def child_run(master: str, work: str) -> None:
    """Child: time run_sessions (full, then one incremental day) under ``master``."""
    from logalyzer.catalog import Catalog
    from logalyzer.spark import build_spark
    from logalyzer.sessions.pipeline import run_sessions

    import os

    conf = _conf(str(Path(work) / "lake"), master)
    spark = build_spark("bench-sessions", conf)
    catalog = Catalog(spark, conf)
    for name in ("sessions", "event_sequences", "device_timeseries"):
        catalog.drop(name)
    t, cpu0 = time.perf_counter(), jvm_cpu_s(spark)
    counts = run_sessions(spark, catalog, conf, progress=lambda *_: None)
    seconds, cpu1 = time.perf_counter() - t, jvm_cpu_s(spark)
    last_day = max(r["date"] for r in catalog.read("events").select("date").distinct().collect())
    t = time.perf_counter()
    inc = run_sessions(spark, catalog, conf, progress=lambda *_: None, dates=[str(last_day)])
    inc_seconds = time.perf_counter() - t
    print(json.dumps({"master": master, "seconds": seconds, "counts": counts, "incremental_seconds": inc_seconds,
                      "jvm_cpu_s": None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
                      "load_avg": os.getloadavg()[0],
                      "incremental_lines": inc["lines"], "driver_py_mb": peak_rss_mb(),
                      "jvm_mb": jvm_peak_rss_mb(spark)}, default=str))
    spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--devices", type=int, default=200)
    ap.add_argument("--days", type=int, default=2)
    ap.add_argument("--source", choices=("auto", "pipeline", "synthetic"), default="auto")
    ap.add_argument("--masters", default="local[1],local[2]")
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--work", default="/tmp/logalyzer-bench-sessions")
    ap.add_argument("--child", nargs="+")
    args = ap.parse_args()
    if args.child:
        if args.child[0] == "build":
            print(json.dumps(build_events(Path(args.child[1]), args.child[2], *map(int, args.child[3:6]))))
        else:
            child_run(args.child[1], args.child[2])
        return

    source = args.source
    if source == "auto":
        try:
            import logalyzer.generate  # noqa: F401
            import logalyzer.ingest  # noqa: F401
            import logalyzer.templates.pipeline  # noqa: F401
            source = "pipeline"
        except ImportError:
            source = "synthetic"
    work = Path(args.work) / source
    work.mkdir(parents=True, exist_ok=True)
    built = run_child(__file__, ["build", str(work), source, str(args.lines), str(args.devices), str(args.days)])
    print(f"events ({built['source']}): {built['rows']:,} rows, {built['devices']:,} devices, {built['dates']} dates "
          f"(built in {built['build_s']} s, not timed)")
    rows = []
    for master in args.masters.split(","):
        runs = [run_child(__file__, ["run", master, str(work)]) for _ in range(args.repeats)]
        run = sorted(runs, key=lambda r: r["seconds"])[len(runs) // 2]
        run["seconds_all"] = [round(r["seconds"], 1) for r in runs]
        rows.append(run)
        print(json.dumps(run, default=str))

    print("\n| master | lines | sessions | seconds | lines/s | sessions/s | JVM CPU s | lines per CPU s | "
          "incremental day (s) | driver Python peak MB | Spark JVM peak MB | load avg |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for r in rows:
        c, cpu = r["counts"], r.get("jvm_cpu_s") or float("nan")
        print(f"| {r['master']} | {c['lines']:,} | {c['sessions']:,} | {r['seconds']:.1f} | "
              f"{c['lines'] / r['seconds']:,.0f} | {c['sessions'] / r['seconds']:,.0f} | {cpu:.0f} | "
              f"{c['lines'] / cpu:,.0f} | {r['incremental_seconds']:.1f} | {r['driver_py_mb']:.0f} | "
              f"{r['jvm_mb'] or float('nan'):.0f} | {r['load_avg']:.1f} |")
    if len(rows) == 2:
        print(f"\nspeed-up {rows[1]['master']} vs {rows[0]['master']}: {rows[0]['seconds'] / rows[1]['seconds']:.2f}x")
    c = rows[-1]["counts"]
    print(f"duplicates dropped: {c['duplicates_dropped']:,}; time-series rows: {c['timeseries_rows']:,}; "
          f"sequences: {c.get('event_sequences')}")


if __name__ == "__main__":
    main()
