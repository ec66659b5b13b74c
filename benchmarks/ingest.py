"""Ingest throughput on a generated fleet, next to the `zcat | wc -l` floor measured in the same run.

    python benchmarks/ingest.py [--lines 2000000] [--repeats 3] [--work /tmp/logalyzer-bench]

Prints lines/s for ingest on local[2] (and local[1]), the single-core zcat line rate on the same
files, their ratio (target: >= 0.25), and the peak memory of the driver (Python and JVM) at 1x and
4x the input: it must not grow with the input, because no lines are collected to the driver.
A second baseline, "Spark copy", is Spark itself on local[2] with no parsing at all: read the same
files as text, write the lines and their file path to Parquet. It is the floor any Spark ingest
of these files stands on.
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
from _common import fleet, jvm_peak_rss_mb, log_files, peak_rss_mb, run_child, zcat_lines_per_s  # noqa: E402


def child(master: str, input_path: str, lake: str, mode: str = "ingest") -> None:
    if mode == "copy":
        return copy_child(master, input_path, lake)
    from logalyzer.catalog import Catalog
    from logalyzer.config import load_config
    from logalyzer.ingest import run_ingest
    from logalyzer.spark import build_spark

    shutil.rmtree(lake, ignore_errors=True)
    conf = load_config(overrides=[f"lake.root={lake}", f"spark.master={master}"], env="__bench__")
    spark = build_spark("bench-ingest", conf)
    catalog = Catalog(spark, conf)
    t = time.perf_counter()
    counts = run_ingest(spark, catalog, conf, input_path, progress=lambda *_: None)
    seconds = time.perf_counter() - t
    print(json.dumps({"seconds": seconds, "lines": counts["lines_read"], "loaded": counts["lines_loaded"],
                      "driver_py_mb": peak_rss_mb(), "jvm_mb": jvm_peak_rss_mb(spark)}))
    spark.stop()


def copy_child(master: str, input_path: str, lake: str) -> None:
    """The Spark floor: text in, Parquet out, one task per file, nothing parsed."""
    from pyspark.sql import functions as F

    from logalyzer.config import load_config
    from logalyzer.ingest.parse import one_partition_per_file
    from logalyzer.spark import build_spark

    shutil.rmtree(lake, ignore_errors=True)
    conf = load_config(overrides=[f"spark.master={master}"], env="__bench__")
    spark = build_spark("bench-copy", conf)
    spark.conf.set("spark.sql.files.ignoreCorruptFiles", "true")  # the generated truncated gzip
    t = time.perf_counter()
    with one_partition_per_file(spark):
        df = spark.read.text(log_files(input_path)).select("value", F.col("_metadata.file_path").alias("source_file"))
        df.write.parquet(lake)
    seconds = time.perf_counter() - t
    lines = spark.read.parquet(lake).count()
    print(json.dumps({"seconds": seconds, "lines": lines, "driver_py_mb": peak_rss_mb(), "jvm_mb": jvm_peak_rss_mb(spark)}))
    spark.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--devices", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--work", default="/tmp/logalyzer-bench")
    ap.add_argument("--skip-4x", action="store_true")
    ap.add_argument("--child", nargs="+", metavar="ARG", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(*args.child)
        return
    work = Path(args.work)
    per_device = args.lines // args.devices
    t = time.perf_counter()
    summary = fleet(str(work / "fleet_1x"), args.devices, per_device)
    print(f"fleet 1x: {summary['lines']:,} lines in {summary['files']} files ({time.perf_counter() - t:.0f} s to generate)")
    files = log_files(str(work / "fleet_1x"))
    zcat_rate, zcat_lines = zcat_lines_per_s(files, args.repeats)
    print(f"zcat | wc -l (1 core): {zcat_rate:,.0f} lines/s over {zcat_lines:,} lines (median of {args.repeats})")

    copies = [run_child(__file__, ["local[2]", str(work / "fleet_1x"), str(work / "copy"), "copy"])
              for _ in range(args.repeats)]
    copy_s = statistics.median(r["seconds"] for r in copies)
    rows = [("Spark copy (text → Parquet, no parsing)", "1x", copies[0]["lines"], copy_s, copies[0]["lines"] / copy_s,
             copies[-1]["driver_py_mb"], copies[-1]["jvm_mb"])]
    for master in ("local[2]", "local[1]"):
        runs = [run_child(__file__, [master, str(work / "fleet_1x"), str(work / "lake")])
                for _ in range(args.repeats if master == "local[2]" else 1)]
        med = statistics.median(r["seconds"] for r in runs)
        rate = runs[0]["lines"] / med
        rows.append((f"ingest {master}", "1x", runs[0]["lines"], med, rate, runs[-1]["driver_py_mb"], runs[-1]["jvm_mb"]))
    if not args.skip_4x:
        fleet(str(work / "fleet_4x"), args.devices * 4, per_device)
        r = run_child(__file__, ["local[2]", str(work / "fleet_4x"), str(work / "lake")])
        rows.append(("ingest local[2]", "4x", r["lines"], r["seconds"], r["lines"] / r["seconds"], r["driver_py_mb"],
                     r["jvm_mb"]))

    print(f"\n| run | input | lines | seconds | lines/s | vs zcat (1 core) | driver Python peak MB | Spark JVM peak MB |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    print(f"| zcat \\| wc -l | 1x | {zcat_lines:,} | {zcat_lines / zcat_rate:.2f} | {zcat_rate:,.0f} | 1.00 | | |")
    for label, size, lines, sec, rate, py_mb, jvm_mb in rows:
        print(f"| {label} | {size} | {lines:,} | {sec:.1f} | {rate:,.0f} | {rate / zcat_rate:.2f} | "
              f"{py_mb:.0f} | {jvm_mb or float('nan'):.0f} |")
    print(f"\ntarget: ingest local[2] >= 0.25 x zcat -> {rows[1][4] / zcat_rate:.2f} "
          f"(Spark copy, no parsing: {rows[0][4] / zcat_rate:.2f})")


if __name__ == "__main__":
    main()
