"""Parsing accuracy on loghub-style labelled samples: GA, PA and template F1 per dataset.

    python benchmarks/parsing_accuracy.py --data /work/shared/datasets/loghub_2k [--formats FILE]

``DIR/<Name>/<Name>_2k.log`` holds raw lines, ``<Name>_2k.log_structured.csv`` the truth (LineId,
EventTemplate); ``FILE`` (default ``DIR/formats.json``) maps each name to its header layout. Only the
layout differs between datasets: masks and Drain settings are the shipped ``conf/base`` ones.

The default engine runs the project's own path per dataset, each in a fresh lake: ``run_ingest``
(layout parsing) → ``run_templates`` (masking → partitioned mining → join) → ``events``, matched
back to the truth by line number. ``--engine python`` runs the same masks and miner without Spark
(ingest's layout regex in Python): a quick loop for tuning, not the benchmark of record.

Metrics (loghub definitions): GA = share of lines whose predicted group holds exactly the lines of
their true group; PA = share of lines whose template equals the true one after normalising
(placeholders → ``<*>``, runs of ``<*>`` and whitespace collapsed); F1 = harmonic mean of the
precision and recall of predicted groups that exactly match a true group. A line ingest did not
load counts as a wrong singleton group.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter, defaultdict

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

_PH = re.compile(r"<[A-Z][A-Z_]*>|<\*>")


def normalise(template: str) -> str:
    t = _PH.sub("<*>", str(template))
    t = re.sub(r"\s+", " ", t).strip()
    return re.sub(r"<\*>(?:\s*<\*>)+", "<*>", t)


def metrics(truth: list, pred: list) -> tuple[float, float, float]:
    """GA, PA, F1 of predicted templates ``pred`` against true templates ``truth`` (same order)."""
    n = len(truth)
    true_groups: dict = defaultdict(set)
    pred_groups: dict = defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, pred)):
        true_groups[t].add(i)
        pred_groups[p].add(i)
    true_sets = {frozenset(s) for s in true_groups.values()}
    exact = [s for s in pred_groups.values() if frozenset(s) in true_sets]
    ga = sum(len(s) for s in exact) / n
    pa = sum(normalise(t) == normalise(p) for t, p in zip(truth, pred)) / n
    precision, recall = len(exact) / len(pred_groups), len(exact) / len(true_groups)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return ga, pa, f1


def read_truth(path: str) -> dict[int, str]:
    with open(path, newline="", encoding="utf-8") as fh:
        return {int(r["LineId"]): r["EventTemplate"] for r in csv.DictReader(fh)}


def datasets(data_dir: str, formats: dict, only=None) -> list[tuple[str, str, str, str]]:
    out = []
    for name, layout in formats.items():
        if name.startswith("_") or (only and name not in only):
            continue
        log_file = os.path.join(data_dir, name, f"{name}_2k.log")
        truth = log_file + "_structured.csv"
        if os.path.exists(log_file) and os.path.exists(truth):
            out.append((name, layout, log_file, truth))
        else:
            print(f"{name}: skipped ({log_file} or its _structured.csv missing)", file=sys.stderr)
    return out


# -- engines: predicted template per line number -------------------------------------------------
def predict_spark(spark, conf, name: str, layout: str, log_file: str) -> dict[int, str]:
    from logalyzer.catalog import Catalog
    from logalyzer.config import deep_merge
    from logalyzer.ingest import run_ingest
    from logalyzer.templates import run_templates

    lake = tempfile.mkdtemp(prefix=f"logalyzer-acc-{name}-")
    try:
        dconf = deep_merge(conf, {"lake": {"root": lake}})
        catalog = Catalog(spark, dconf)
        quiet = lambda *_: None  # noqa: E731
        run_ingest(spark, catalog, dconf, log_file, fmt=layout, progress=quiet)
        run_templates(spark, catalog, dconf, progress=quiet)
        return {r.line_no: r.template_id for r in catalog.read("events").select("line_no", "template_id").collect()}, \
            {r.line_no: r.template for r in catalog.read("events").select("line_no", "template").collect()}
    finally:
        shutil.rmtree(lake, ignore_errors=True)


def predict_python(conf, name: str, layout: str, log_file: str):
    from logalyzer.ingest.layouts import compile_layout
    from logalyzer.templates.ids import template_id
    from logalyzer.templates.masking import python_mining_text
    from logalyzer.templates.miner import mine_group
    from logalyzer.templates.settings import TemplateSettings
    from logalyzer.templates.tokens import py_lead_key

    settings = TemplateSettings.of(conf)
    to_text = python_mining_text(settings)
    lay = compile_layout(layout)
    rx = re.compile(lay.regex.replace("$", r"\Z"), re.S)
    content = lay.fields.index("Content") + 1
    texts = {}
    with open(log_file, encoding="utf-8", errors="replace", newline="\n") as fh:
        for i, line in enumerate(fh, 1):
            m = rx.match(line.rstrip("\n"))
            if m:
                texts[i] = to_text(m.group(content))
    counts = Counter(texts.values())
    groups = defaultdict(list)
    for t in counts:
        groups[(len(t.split()), py_lead_key(t, settings.split_by_lead))].append(t)
    tpl = {}
    for msgs in groups.values():
        msgs.sort(key=lambda m: (-counts[m], m))
        tpl.update(zip(msgs, mine_group(msgs, settings).templates))
    return ({i: template_id(tpl[t]) for i, t in texts.items()}, {i: tpl[t] for i, t in texts.items()})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with <Name>/<Name>_2k.log and _structured.csv")
    p.add_argument("--formats", help="JSON file: name -> header layout (default: DATA/formats.json)")
    p.add_argument("--only", help="comma-separated dataset names")
    p.add_argument("--engine", choices=("spark", "python"), default="spark")
    p.add_argument("--master", default="local[2]", help="Spark master for the spark engine")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="configuration override, e.g. templates.max_enum_values=0")
    args = p.parse_args(argv)

    from logalyzer.config import load_config

    conf = load_config(os.path.join(ROOT, "conf"), args.overrides, env="__benchmark_no_local__")
    with open(args.formats or os.path.join(args.data, "formats.json"), encoding="utf-8") as fh:
        formats = json.load(fh)
    todo = datasets(args.data, formats, set(args.only.split(",")) if args.only else None)
    if not todo:
        print("no datasets found", file=sys.stderr)
        return 2
    spark = None
    if args.engine == "spark":
        from logalyzer.spark import build_spark

        conf["spark"] = dict(conf["spark"], master=args.master)
        spark = build_spark("logalyzer-parsing-accuracy", conf)
    results = []
    for name, layout, log_file, truth_file in todo:
        started = time.time()
        if spark is not None:
            ids, templates = predict_spark(spark, conf, name, layout, log_file)
        else:
            ids, templates = predict_python(conf, name, layout, log_file)
        truth = read_truth(truth_file)
        line_ids = sorted(truth)
        missing = [i for i in line_ids if i not in ids]
        pred_groups = [ids.get(i, f"__missing_{i}") for i in line_ids]
        true_templates = [truth[i] for i in line_ids]
        ga, _, f1 = metrics(true_templates, pred_groups)
        _, pa, _ = metrics(true_templates, [templates.get(i, f"__missing_{i}") for i in line_ids])
        results.append((name, ga, pa, f1))
        print(f"{name:<12} GA {ga:.4f}  PA {pa:.4f}  F1 {f1:.4f}  lines {len(line_ids)}  "
              f"templates {len(set(pred_groups))} (truth {len(set(true_templates))})  "
              f"not loaded {len(missing)}  {time.time() - started:.1f} s", flush=True)
    if spark is not None:
        spark.stop()
    n = len(results)
    print(f"GA avg {sum(r[1] for r in results) / n:.4f} PA avg {sum(r[2] for r in results) / n:.4f} over {n} datasets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
