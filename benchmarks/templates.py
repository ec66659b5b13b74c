"""Speed of ingest + template assignment on a generated fleet, against single-process drain3.

    python benchmarks/templates.py [--data DIR] [--devices 20 --days 2 --lines-per-device-day 50000]
                                   [--masters local[2],local[1]] [--baseline-lines N]

Generates (or reuses) ≥ 2,000,000 logcat lines with ``logalyzer.generate.generate_fleet``, then in
the same run, each in its own process:

* **baseline**: what a user would otherwise write: read the gzip files, split the logcat header
  with a Python regex, and feed each message to one drain3 ``TemplateMiner.add_log_message``
  with the same masks (as drain3 ``MaskingInstruction``s). It keeps the cluster id per line in a
  list and writes nothing.
* **spark <master>**: the project's path into a fresh lake: ``run_ingest`` (→ ``log_lines``) then
  ``run_templates`` (→ ``events``, ``templates``, ``drain_state``), Parquet writes included.

Rates are lines templated per second of wall time. Memory: peak resident set of the driver
(``resource.getrusage``), and for Spark the peak RSS sum over the driver, the JVM and the Python
workers, sampled from /proc every 0.2 s, plus each process kind's own high-water mark (VmHWM).
"""
from __future__ import annotations

import argparse
import glob
import gzip
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


# -- memory -----------------------------------------------------------------------------------------
def _proc_table():
    table = {}
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as fh:
                data = fh.read()
            pid = int(stat.split("/")[2])
            table[pid] = int(data[data.rindex(")") + 2:].split()[1])  # ppid
        except (OSError, ValueError):
            continue
    return table


def _status_kb(pid: int, key: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _kind(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmd = fh.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "other"
    return "jvm" if "java" in cmd.split(" ")[0] else ("python_workers" if "pyspark" in cmd else "other")


class TreeMemory:
    """Samples the RSS of this process and its descendants; keeps the peak sum and per-kind VmHWM."""

    def __init__(self, interval: float = 0.2):
        self.interval, self.peak_total_kb, self.hwm = interval, 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _descendants(self):
        table, me = _proc_table(), os.getpid()
        out, frontier = [], [me]
        while frontier:
            parent = frontier.pop()
            kids = [p for p, pp in table.items() if pp == parent]
            out += kids
            frontier += kids
        return out

    def _run(self):
        while not self._stop.is_set():
            kids = self._descendants()
            total = _status_kb(os.getpid(), "VmRSS") + sum(_status_kb(p, "VmRSS") for p in kids)
            self.peak_total_kb = max(self.peak_total_kb, total)
            for p in kids:
                kind = _kind(p)
                self.hwm[kind] = max(self.hwm.get(kind, 0), _status_kb(p, "VmHWM"))
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def driver_peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# -- roles (each runs in its own process) -----------------------------------------------------------
def role_baseline(data: str, max_lines: int | None) -> dict:
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    from logalyzer.config import load_config
    from logalyzer.generate import THREADTIME_RE
    from logalyzer.templates.masking import masks_by_format
    from logalyzer.templates.settings import TemplateSettings

    settings = TemplateSettings.of(load_config(os.path.join(ROOT, "conf"), env="__benchmark_no_local__"))
    masks, _ = masks_by_format(settings)
    cfg = TemplateMinerConfig()
    cfg.masking_instructions = [MaskingInstruction(m.regex, m.placeholder[1:-1]) for m in masks]
    cfg.drain_sim_th, cfg.drain_depth = settings.drain.sim_th, settings.drain.depth
    cfg.drain_max_children = settings.drain.max_children
    miner = TemplateMiner(config=cfg)
    header = re.compile(THREADTIME_RE)
    cluster_of, n = [], 0
    started = time.perf_counter()
    for path in sorted(glob.glob(os.path.join(data, "**", "*.log.gz"), recursive=True)):
        try:
            with gzip.open(path, "rt", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    m = header.match(line.rstrip("\n"))
                    if m:
                        cluster_of.append(miner.add_log_message(m.group(11))["cluster_id"])
                        n += 1
                        if max_lines and n >= max_lines:
                            break
        except (OSError, EOFError):
            continue          # the generator's deliberately truncated gzip
        if max_lines and n >= max_lines:
            break
    seconds = time.perf_counter() - started
    return {"role": "baseline", "lines": n, "seconds": seconds, "rate": n / seconds,
            "clusters": len(miner.drain.clusters), "driver_peak_mb": driver_peak_mb()}


def role_spark(data: str, master: str) -> dict:
    from logalyzer.catalog import Catalog
    from logalyzer.config import deep_merge, load_config
    from logalyzer.ingest import run_ingest
    from logalyzer.spark import build_spark
    from logalyzer.templates import run_templates

    lake = tempfile.mkdtemp(prefix="logalyzer-bench-")
    conf = load_config(os.path.join(ROOT, "conf"), env="__benchmark_no_local__")
    conf = deep_merge(conf, {"lake": {"root": lake}, "spark": {"master": master}})
    quiet = lambda *_: None  # noqa: E731
    try:
        with TreeMemory() as mem:
            spark = build_spark("logalyzer-bench-templates", conf)
            catalog = Catalog(spark, conf)
            t0 = time.perf_counter()
            ingest = run_ingest(spark, catalog, conf, data, fmt="logcat", progress=quiet)
            t1 = time.perf_counter()
            tpl = run_templates(spark, catalog, conf, progress=quiet)
            t2 = time.perf_counter()
            spark.stop()
        n = tpl["lines_templated"]
        return {"role": f"spark {master}", "lines": n, "seconds": t2 - t0, "rate": n / (t2 - t0),
                "ingest_s": t1 - t0, "templates_s": t2 - t1, "lines_read": ingest.get("lines_read", 0),
                "distinct_masked": tpl.get("distinct_masked"), "templates": tpl.get("templates_in_batch"),
                "partition_keys": tpl.get("partition_keys"), "driver_peak_mb": driver_peak_mb(),
                "tree_peak_mb": mem.peak_total_kb / 1024,
                **{f"{k}_hwm_mb": v / 1024 for k, v in mem.hwm.items()}}
    finally:
        shutil.rmtree(lake, ignore_errors=True)


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, os.path.abspath(__file__), *args], capture_output=True, text=True)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode or not lines:
        sys.stderr.write(out.stderr[-4000:])
        raise SystemExit(f"benchmark step {args} failed")
    return json.loads(lines[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", default=os.path.join(tempfile.gettempdir(), "logalyzer-bench-fleet"),
                   help="fleet folder (generated there if it holds no .log.gz files)")
    p.add_argument("--devices", type=int, default=20)
    p.add_argument("--days", type=int, default=2)
    p.add_argument("--lines-per-device-day", type=int, default=50000)
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--masters", default="local[2],local[1]")
    p.add_argument("--baseline-lines", type=int, default=0, help="stop the baseline after N lines (0: all)")
    p.add_argument("--role", choices=("baseline", "spark"), help=argparse.SUPPRESS)
    p.add_argument("--master", help=argparse.SUPPRESS)
    args = p.parse_args(argv)

    if args.role == "baseline":
        print(json.dumps(role_baseline(args.data, args.baseline_lines or None)))
        return 0
    if args.role == "spark":
        print(json.dumps(role_spark(args.data, args.master)))
        return 0

    if not glob.glob(os.path.join(args.data, "**", "*.log.gz"), recursive=True):
        from logalyzer.generate import generate_fleet

        t = time.perf_counter()
        s = generate_fleet(args.data, devices=args.devices, days=args.days, seed=args.seed,
                           lines_per_device_day=args.lines_per_device_day)
        print(f"generated {s['lines']:,} lines in {s['files']} files under {args.data} "
              f"in {time.perf_counter() - t:.0f} s", flush=True)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start", flush=True)
    results = [_child(["--role", "baseline", "--data", args.data, "--baseline-lines", str(args.baseline_lines)])]
    print(f"baseline done: {results[-1]['rate']:,.0f} lines/s", flush=True)
    for master in args.masters.split(","):
        results.append(_child(["--role", "spark", "--data", args.data, "--master", master]))
        print(f"{master} done: {results[-1]['rate']:,.0f} lines/s", flush=True)
    base = results[0]["rate"]
    print()
    print(f"| run | lines | wall s | lines/s | vs drain3 | ingest s | templates s | driver peak MB | "
          f"peak RSS all processes MB | JVM HWM MB | Python workers HWM MB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in results:
        def f(key, fmt="{:,.0f}"):
            return fmt.format(r[key]) if r.get(key) is not None else "-"
        print(f"| {'drain3 add_log_message, 1 process' if r['role'] == 'baseline' else r['role']} | "
              f"{r['lines']:,} | {r['seconds']:.1f} | {r['rate']:,.0f} | {r['rate'] / base:.2f}x | "
              f"{f('ingest_s', '{:.1f}')} | {f('templates_s', '{:.1f}')} | {f('driver_peak_mb')} | "
              f"{f('tree_peak_mb')} | {f('jvm_hwm_mb')} | {f('python_workers_hwm_mb')} |")
    spark_rows = [r for r in results[1:] if r.get("distinct_masked") is not None]
    if spark_rows:
        r = spark_rows[0]
        print(f"\n{r['lines']:,} lines -> {r['distinct_masked']:,} distinct masked messages in "
              f"{r['partition_keys']:,} partition keys -> {r['templates']:,} templates; "
              f"baseline drain3 found {results[0]['clusters']:,} clusters")
    print(f"load average at end {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
