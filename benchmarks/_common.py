"""Shared benchmark helpers: a cached generated fleet, timing, peak memory of the driver and its JVM."""
from __future__ import annotations

import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def fleet(out: str, devices: int, lines_per_device_day: int, days: int = 1, seed: int = 7) -> dict:
    """Generate (once; reused when the same arguments were used before) a synthetic fleet."""
    from logalyzer.generate import generate_fleet

    stamp = Path(out) / ".benchmark-args.json"
    args = {"devices": devices, "days": days, "seed": seed, "lines_per_device_day": lines_per_device_day}
    if stamp.exists() and json.loads(stamp.read_text()).get("args") == args:
        return json.loads(stamp.read_text())["summary"]
    summary = generate_fleet(out, **args)
    stamp.write_text(json.dumps({"args": args, "summary": summary}, default=str))
    return summary


def log_files(folder: str) -> list[str]:
    return sorted(str(p) for p in Path(folder).rglob("*") if p.is_file() and p.suffix in (".gz", ".log"))


def zcat_lines_per_s(files: list[str], repeats: int = 3) -> tuple[float, int]:
    """Single-core decompression floor: `zcat FILES | wc -l` (plain files read with cat)."""
    times, lines = [], 0
    for _ in range(repeats):
        t = time.perf_counter()
        # one zcat per file: a corrupt file must not stop the count for the rest
        out = subprocess.run(["bash", "-c", 'for f in "$@"; do zcat -f "$f" 2>/dev/null; done | wc -l', "zcat", *files],
                             capture_output=True, text=True)
        times.append(time.perf_counter() - t)
        lines = int(out.stdout.strip())
    return lines / statistics.median(times), lines


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def jvm_peak_rss_mb(spark) -> float | None:
    """VmHWM of the Spark JVM (driver and, in local mode, the executors too)."""
    proc = getattr(spark.sparkContext._gateway, "proc", None)
    pid = getattr(proc, "pid", None)
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, TypeError):
        return None
    return None


def run_child(script: str, args: list[str]) -> dict:
    """Run ``script --child ARGS`` in a fresh interpreter (fresh Spark) and read its JSON result line."""
    cmd = [sys.executable, script, "--child", *args]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=str(ROOT))
    for line in reversed(out.stdout.splitlines()):
        if line.startswith("{"):
            return json.loads(line)
    raise RuntimeError(f"child failed ({out.returncode}):\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")
