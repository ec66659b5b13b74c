"""Smoke test on a labelled loghub sample: ingest → templates, every line templated, high GA."""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from logalyzer.ingest import run_ingest
from logalyzer.templates import run_templates
from templates_helpers import quiet

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("parsing_accuracy", ROOT / "benchmarks" / "parsing_accuracy.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_loghub_hdfs_smoke(spark, catalog, conf, loghub_dir):
    layout = json.loads((loghub_dir / "formats.json").read_text())["HDFS"]
    log_file = loghub_dir / "HDFS" / "HDFS_2k.log"
    run_ingest(spark, catalog, conf, str(log_file), fmt=layout, progress=quiet)
    counts = run_templates(spark, catalog, conf, progress=quiet)
    assert counts["lines_templated"] == 2000 and counts["lines_unparsed"] == 0
    pred = {r.line_no: r.template_id for r in catalog.read("events").select("line_no", "template_id").collect()}
    bench = _bench()
    truth = bench.read_truth(str(log_file) + "_structured.csv")
    ids = sorted(truth)
    ga, pa, f1 = bench.metrics([truth[i] for i in ids], [pred[i] for i in ids])
    assert ga >= 0.99 and f1 >= 0.8
