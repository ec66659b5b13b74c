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


def read_contents(layout: str, log_file: str) -> dict[int, str]:
    """line number → the layout's ``Content`` field (ingest's layout regex, in Python)."""
    from logalyzer.ingest.layouts import compile_layout

    lay = compile_layout(layout)
    rx = re.compile(lay.regex.replace("$", r"\Z"), re.S)
    content = lay.fields.index("Content") + 1
    out = {}
    with open(log_file, encoding="utf-8", errors="replace", newline="\n") as fh:
        for i, line in enumerate(fh, 1):
            m = rx.match(line.rstrip("\n"))
            if m:
                out[i] = m.group(content)
    return out


# drain3's own example masks (its README / drain3.ini): the "generic masks" a user starts with.
DRAIN3_GENERIC_MASKS = [
    (r"((?<=[^A-Za-z0-9])|^)(([0-9a-f]{2,}:){3,}([0-9a-f]{2,}))((?=[^A-Za-z0-9])|$)", "ID"),
    (r"((?<=[^A-Za-z0-9])|^)(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})((?=[^A-Za-z0-9])|$)", "IP"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9a-f]{6,} ?){3,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)([0-9A-F]{4} ?){4,}((?=[^A-Za-z0-9])|$)", "SEQ"),
    (r"((?<=[^A-Za-z0-9])|^)(0x[a-f0-9A-F]+)((?=[^A-Za-z0-9])|$)", "HEX"),
    (r"((?<=[^A-Za-z0-9])|^)([\-\+]?\d+)((?=[^A-Za-z0-9])|$)", "NUM"),
]


def predict_drain3(layout: str, log_file: str):
    """Plain drain3 (defaults: sim_th 0.4, depth 4) with its generic example masks, one pass in file order."""
    from drain3 import TemplateMiner
    from drain3.masking import MaskingInstruction
    from drain3.template_miner_config import TemplateMinerConfig

    cfg = TemplateMinerConfig()
    cfg.masking_instructions = [MaskingInstruction(p, m) for p, m in DRAIN3_GENERIC_MASKS]
    cfg.profiling_enabled = False
    tm = TemplateMiner(config=cfg)
    cluster = {i: tm.add_log_message(text)["cluster_id"] for i, text in read_contents(layout, log_file).items()}
    templates = {c.cluster_id: c.get_template() for c in tm.drain.clusters}
    return {i: str(c) for i, c in cluster.items()}, {i: templates[c] for i, c in cluster.items()}


# Brain with one generic setting for every dataset: IPv4(:port) and hex numbers masked (its examples'
# common part), ':' '=' '(' ')' followed by a space (the union of its per-dataset splitting rules),
# threshold 4 (the median of its per-dataset thresholds); its own per-dataset branches are not used.
BRAIN_GENERIC_MASKS = [r"(\d+\.){3}\d+(:\d+)?", r"0x[0-9a-fA-F]+"]
BRAIN_THRESHOLD = 4


def brain_available() -> bool:
    import importlib.util

    try:    # logparser3 on PyPI; its Brain module needs the `regex` package
        return all(importlib.util.find_spec(m) is not None for m in ("regex", "logparser.Brain.Brain"))
    except ImportError:
        return False


def predict_brain(layout: str, log_file: str, threshold: int = BRAIN_THRESHOLD):
    """logparser3's Brain (the authors' reference code), its ``parse`` steps without the file I/O."""
    from logparser.Brain import Brain as B

    contents = read_contents(layout, log_file)
    line_ids = sorted(contents)
    sentences = []
    for i in line_ids:
        s = contents[i]
        for rx in BRAIN_GENERIC_MASKS:
            s = re.sub(rx, "<*>", s)
        sentences.append(re.sub(r"([:=()])", r"\1 ", s))
    parser = B.LogParser("generic", "<Content>", threshold=threshold, rex=[])
    group_len, tuple_vector, frequency_vector = parser.get_frequecy_vector(sentences, [], [], "generic")
    sorted_tuple_vector, word_combinations, word_combinations_reverse = parser.tuple_generate(
        group_len, tuple_vector, frequency_vector)
    template_set = {}
    for key in group_len:
        tree = B.tupletree(sorted_tuple_vector[key], word_combinations[key], word_combinations_reverse[key],
                           tuple_vector[key], group_len[key])
        root_set_detail_id, root_set, root_set_detail = tree.find_root(0)
        root_set_detail_id = tree.up_split(root_set_detail_id, root_set)
        template_set.update(B.output_result(tree.down_split(root_set_detail_id, threshold, root_set_detail)))
    tpl = {}
    for template, positions in template_set.items():
        for pos in positions:
            tpl[line_ids[int(pos)]] = " ".join(template)
    return dict(tpl), tpl


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="folder with <Name>/<Name>_2k.log and _structured.csv")
    p.add_argument("--formats", help="JSON file: name -> header layout (default: DATA/formats.json)")
    p.add_argument("--only", help="comma-separated dataset names")
    p.add_argument("--engine", choices=("spark", "python"), default="spark",
                   help="how to run ours: the real Spark stage (of record) or the same code without Spark")
    p.add_argument("--baselines", default="drain3,brain",
                   help="comma-separated baselines run on the same lines: drain3, brain (needs logparser3), or none")
    p.add_argument("--master", default="local[2]", help="Spark master for the spark engine")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="configuration override, e.g. templates.max_enum_values=0")
    p.add_argument("--split", help="comma-separated names: also print averages over these and over the rest "
                   "(e.g. a development half and a held-out half)")
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
    baselines = [b for b in args.baselines.split(",") if b and b != "none"]
    if "brain" in baselines and not brain_available():
        print("brain: skipped (pip install --no-deps logparser3 && pip install regex: the authors' reference code)",
              file=sys.stderr)
        baselines.remove("brain")
    engines = ["ours"] + baselines
    results = []            # (name, {engine: (ga, pa, f1)})
    for name, layout, log_file, truth_file in todo:
        truth = read_truth(truth_file)
        line_ids = sorted(truth)
        true_templates = [truth[i] for i in line_ids]
        row = {}
        for engine in engines:
            started = time.time()
            if engine == "drain3":
                ids, templates = predict_drain3(layout, log_file)
            elif engine == "brain":
                ids, templates = predict_brain(layout, log_file)
            elif spark is not None:
                ids, templates = predict_spark(spark, conf, name, layout, log_file)
            else:
                ids, templates = predict_python(conf, name, layout, log_file)
            missing = [i for i in line_ids if i not in ids]
            pred_groups = [ids.get(i, f"__missing_{i}") for i in line_ids]
            ga, _, f1 = metrics(true_templates, pred_groups)
            _, pa, _ = metrics(true_templates, [templates.get(i, f"__missing_{i}") for i in line_ids])
            row[engine] = (ga, pa, f1)
            label = name if engine == "ours" else f"  {engine}"
            print(f"{label:<12} GA {ga:.4f}  PA {pa:.4f}  F1 {f1:.4f}  lines {len(line_ids)}  "
                  f"templates {len(set(pred_groups))} (truth {len(set(true_templates))})  "
                  f"not loaded {len(missing)}  {time.time() - started:.1f} s", flush=True)
        results.append((name, row))
    if spark is not None:
        spark.stop()

    def avg(engine, k, names=None):
        vals = [row[engine][k] for name, row in results if names is None or name in names]
        return sum(vals) / len(vals) if vals else float("nan")

    n = len(results)
    print(f"GA avg {avg('ours', 0):.4f} PA avg {avg('ours', 1):.4f} over {n} datasets")
    print("\n| dataset | " + " | ".join(f"{e} GA | {e} PA" for e in engines) + " |")
    print("| --- |" + " ---: |" * (2 * len(engines)))
    for name, row in results:
        print(f"| {name} | " + " | ".join(f"{row[e][0]:.4f} | {row[e][1]:.4f}" for e in engines) + " |")
    groups = [("average", None)]
    if args.split:
        dev = set(args.split.split(","))
        groups += [("average, " + args.split, dev), ("average, the others", {r[0] for r in results} - dev)]
    for label, names in groups:
        print(f"| **{label}** | " + " | ".join(f"{avg(e, 0, names):.4f} | {avg(e, 1, names):.4f}" for e in engines) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
