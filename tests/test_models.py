"""Anomaly models: featurizer, DeepLog and Autoencoder, training through petastorm into a real MLflow
store, registry promotion, fleet-wide scoring, consolidation, evaluation and the bad-input paths.

The units are a hand-made ``sessions`` table: normal sessions follow a small playback grammar, a few
sessions break it in known ways (a template never seen, an order never seen, a freeze storm).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import random

import numpy as np
import pandas as pd
import pytest

from logalyzer.models import deeplog
from logalyzer.models.features import OOV, PAD, Featurizer, Vocabulary

SESSIONS_SCHEMA = ("device_id string, session_id string, start_ts timestamp, end_ts timestamp, duration_s double, "
                   "n_lines int, video_freezes int, video_freezes_ms long, black_screens int, n_files int, "
                   "template_seq array<string>, template_counts map<string,int>, date date")
NORMAL_DAYS = ("2026-11-20", "2026-11-21")


def _normal_seq(r: random.Random) -> list[str]:
    seq = ["cc", "ps"]
    for _ in range(r.choice((0, 0, 1, 2))):
        seq += ["pause", "resume"]
    if r.random() < 0.3:
        seq += ["freeze", "resume_video"]
    return seq + ["stop"]


def session_rows(day: str, n: int, seed: int, anomalies: bool = False) -> list[tuple]:
    r = random.Random(seed)
    rows = []
    base = dt.datetime.fromisoformat(day)
    for i in range(n):
        seq = _normal_seq(r)
        freezes = seq.count("freeze")
        kind = None
        if anomalies and i in (3, 7, 11):
            kind = {3: "unseen_template", 7: "unseen_order", 11: "storm"}[i]
            if kind == "unseen_template":
                seq = ["cc", "ps", "crash", "stop"]
            elif kind == "unseen_order":
                seq = ["cc", "stop", "ps", "stop", "stop", "cc", "stop"]
            else:
                seq = ["cc", "ps"] + ["freeze", "resume_video"] * 40 + ["stop"]
                freezes = 40
        start = base + dt.timedelta(minutes=5 * i)
        lines = len(seq) * 3 + r.randint(0, 5)
        counts = {t: seq.count(t) for t in set(seq)}
        sid = f"{day}-{i:04d}" + (f"-{kind}" if kind else "")
        rows.append((f"R{(i % 7) + 1:010d}", sid, start, start + dt.timedelta(seconds=60 + len(seq)),
                     60.0 + len(seq), lines, freezes, freezes * r.randint(300, 900), 0, 1, seq, counts,
                     start.date()))
    return rows


@pytest.fixture
def models_conf(conf, tmp_path):
    """Small, fast models; the MLflow store and petastorm cache in the test's folder."""
    from logalyzer.config import deep_merge

    return deep_merge(conf, {
        "project": {"work_dir": str(tmp_path / "work")},
        "models": {"deeplog": {"epochs": 12, "min_steps": 400, "hidden": 32, "embedding": 16, "layers": 1, "history": 4,
                               "batch_size": 32, "learning_rate": 0.01},
                   "autoencoder": {"epochs": 40, "min_steps": 200, "hidden": [16, 4], "batch_size": 64,
                                   "threshold_from": "training"},
                   "validation_share": 0.25, "min_train_units": 20, "score": {"batch_units": 64}}})


@pytest.fixture
def lake_with_sessions(spark, catalog):
    rows = session_rows(NORMAL_DAYS[0], 160, seed=1) + session_rows(NORMAL_DAYS[1], 160, seed=2)
    catalog.overwrite("sessions", spark.createDataFrame(rows, SESSIONS_SCHEMA))
    return catalog


def add_day(spark, catalog, day: str, seed: int, anomalies: bool = True) -> None:
    catalog.append("sessions", spark.createDataFrame(session_rows(day, 60, seed, anomalies), SESSIONS_SCHEMA))


# -- featurizer (no Spark) ---------------------------------------------------------------------------
def test_featurizer_maps_vocabulary_oov_and_lineage():
    vocab = Vocabulary(["a", "b", "c"], ["A <*>", "B", "C"], [10, 5, 1])
    # a1 was generalised into a (old -> current); x and y, both known, were generalised into z
    f = Featurizer(vocab, ["n", "m"], aliases={"a1": "a", "x": "z", "y": "z", "b": "bz"}, counts_from="all")
    idx, offsets = f.sequences([["a", "b", "zzz"], [], ["a1", "bz"]])
    assert idx.tolist() == [2, 3, OOV, 2, 3] and offsets.tolist() == [0, 3, 3, 5]
    assert f.lut["bz"] == 3             # a current id the model never saw maps to the known predecessor
    f2 = Featurizer(Vocabulary(["x", "y"], ["X", "Y"], [5, 9]), [], aliases={"x": "z", "y": "z"})
    (z,), _ = f2.sequences([["z"]])
    assert z == f2.vocab.size and f2.groups[0].tolist() == [2, 3]   # a group standing for x and y
    assert f2.known(np.array([z])).tolist() == [2]
    counts = f.counts([["a", "zzz", "a1"], None], [[2, 1, 3], None])
    assert counts.shape == (2, vocab.size - 1)
    assert counts[0].tolist() == [1, 5, 0, 0] and counts[1].sum() == 0      # column 0 is OOV
    m = f.metrics([["m", "other", "n"], None], [[7.0, 9.0, 1.0], None])
    assert m.tolist() == [[1.0, 7.0], [0.0, 0.0]]
    x = f.features(pd.DataFrame({"count_keys": [["a"]], "count_values": [[3]], "metric_names": [["n"]],
                                 "metric_values": [[np.e - 1]], "template_seq": [["b"]]}))
    assert x.shape == (1, f.n_features) and np.isclose(x[0, 1], np.log(4)) and np.isclose(x[0, -2], 1.0)
    seq_counts = Featurizer(vocab, [], counts_from="sequence").features(
        pd.DataFrame({"template_seq": [["b", "b"]], "count_keys": [["a"]], "count_values": [[3]],
                      "metric_names": [[]], "metric_values": [[]]}))
    assert np.isclose(seq_counts[0, 2], np.log(3)) and seq_counts[0, 1] == 0


def test_autoencoder_score_is_the_mean_of_the_largest_errors():
    """One feature reconstructed badly outscores many reconstructed a little worse than usual (the
    plain mean ranks them the other way, and shrinks further with every template in the vocabulary)."""
    from logalyzer.models.autoencoder import top_mean

    one_bad = np.array([[16.0] + [0.0] * 99])
    many_mild = np.array([[0.3] * 100])
    assert one_bad.mean() < many_mild.mean()
    assert top_mean(one_bad, 5)[0] == pytest.approx(3.2) and top_mean(many_mild, 5)[0] == pytest.approx(0.3)
    rows = np.array([[1.0, 5.0, 2.0, 0.0], [4.0, 4.0, 4.0, 4.0]])
    assert top_mean(rows, 2).tolist() == [3.5, 4.0]
    assert top_mean(rows, 0).tolist() == top_mean(rows, 9).tolist() == [2.0, 4.0]      # 0 or more: the mean
    assert top_mean(np.zeros((3, 0)), 5).tolist() == [0.0, 0.0, 0.0]


def test_choose_k_is_the_smallest_that_flags_at_most_the_share():
    counts = [(1.0, 50), (2.0, 30), (3.0, 15), (7.0, 4), (40.0, 1)]     # worst rank per unit -> units
    assert deeplog.choose_k(counts, 100, 0.05, 20) == (3, 0.05)
    assert deeplog.choose_k(counts, 100, 0.0, 20) == (20, 0.01)       # no k within max_k gets there
    assert deeplog.choose_k(counts, 100, 0.0, 50) == (40, 0.0)


def test_training_windows_match_a_python_reference(spark):
    seqs = [[2, 3, 4], [2, 3], [5], [], [2, 3, 4]]
    df = spark.createDataFrame([(f"u{i}", s) for i, s in enumerate(seqs)], "unit_id string, seq_idx array<int>")
    got = {(tuple(r["history"]), r["target"]): r["weight"] for r in deeplog.training_windows(df, 2).collect()}
    want: dict = {}
    for s in seqs:
        padded = [PAD, PAD] + s
        for i, t in enumerate(s):
            key = (tuple(padded[i:i + 2]), t)
            want[key] = want.get(key, 0) + 1
    assert got == want


# -- train, register, score, evaluate (Spark, petastorm, torch, MLflow) -----------------------------
def test_train_registers_both_models_and_score_flags_the_broken_sessions(spark, lake_with_sessions, models_conf):
    import mlflow
    from mlflow import MlflowClient
    from pyspark.sql import functions as F

    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train

    catalog = lake_with_sessions
    result = run_train(spark, catalog, models_conf, progress=lambda m: None)
    cfg = ModelsConfig.of(models_conf)
    assert [(m["detector"], m["alias"], m["version"]) for m in result["models"]] == [
        ("deeplog", "champion", "1"), ("autoencoder", "champion", "1")]
    client = MlflowClient(cfg.mlflow.tracking_uri)
    dl = next(m for m in result["models"] if m["detector"] == "deeplog")
    run = client.get_run(dl["mlflow_run_id"])
    assert {"k", "validation_metric", "validation_flagged_share"} <= set(run.data.metrics)
    assert run.data.params["history"] == "4" and run.data.params["vocabulary_size"] == "7"
    epochs = int(run.data.params["epochs"])       # raised by min_steps: the 17 distinct windows fill one batch
    assert epochs >= 400 and len(client.get_metric_history(run.info.run_id, "train_loss")) == epochs
    val_losses = [m.value for m in client.get_metric_history(run.info.run_id, "val_loss")]
    # a validation set smaller than one batch still gives every epoch a validation loss
    assert len(val_losses) == epochs and not any(math.isnan(v) for v in val_losses)
    vocab = json.loads(open(mlflow.artifacts.download_artifacts(run_id=run.info.run_id,
                                                                  artifact_path="vocabulary.json")).read())
    assert set(vocab["ids"]) == {"cc", "ps", "pause", "resume", "freeze", "resume_video", "stop"}
    model = mlflow.pyfunc.load_model("models:/logalyzer-deeplog-session@champion")
    assert [c.name for c in model.metadata.get_input_schema().inputs][0] == "template_seq"
    assert [c.name for c in model.metadata.get_output_schema().inputs] == ["score", "threshold", "flagged", "reason"]

    add_day(spark, catalog, "2026-11-22", seed=3, anomalies=True)
    counts = run_score(spark, catalog, models_conf, progress=lambda m: None)
    assert counts["units_scored"] == 2 * 380 and counts["dates"] == 3
    scores = catalog.read("anomaly_scores")
    assert scores.count() == 2 * 380
    # threshold_from: training (the fixture): the threshold is the largest score of the training
    # period, training and validation units: no unit of it is flagged, and one sits exactly on it
    period = scores.where((F.col("detector") == "autoencoder") & F.col("date").isin(*NORMAL_DAYS)).collect()
    assert len(period) == 320 and not any(r["flagged"] for r in period)
    assert max(r["score"] for r in period) == pytest.approx(period[0]["threshold"])
    day3 = scores.where("date = '2026-11-22'").collect()
    by = {(r["unit_id"].split("-")[-1], r["detector"]): r for r in day3}
    crash = by[("unseen_template", "deeplog")]
    assert crash["flagged"] and "crash never seen in training (out of vocabulary)" in crash["reason"]
    assert crash["reason"].startswith("position 3 of 4: template crash")
    order = by[("unseen_order", "deeplog")]
    assert order["flagged"] and order["score"] > order["threshold"] and "outside the top" in order["reason"]
    storm = by[("storm", "autoencoder")]
    assert storm["flagged"] and "video_freezes" in storm["reason"]
    normal = [r for (k, _), r in by.items() if k.isdigit()]
    assert len(normal) == 2 * 57 and sum(r["flagged"] for r in normal) <= 3
    consolidated = {r["unit_id"].split("-")[-1]: r for r in catalog.read("anomalies_consolidated")
                    .where("date = '2026-11-22'").collect()}
    assert {"template", "order", "storm"} <= {k.split("_")[-1] for k in consolidated}
    c = consolidated["storm"]
    assert "autoencoder" in c["detectors"] and c["models"]["autoencoder"] == "logalyzer-autoencoder-session/1"
    assert set(c["scores"]) == {"deeplog", "autoencoder"} and c["severity"] > 1

    again = run_score(spark, catalog, models_conf, progress=lambda m: None)
    assert again["units_scored"] == 0 and catalog.read("anomaly_scores").count() == 2 * 380


def test_incremental_scoring_equals_scoring_everything_at_once(spark, lake_with_sessions, models_conf, tmp_path):
    from logalyzer.catalog import Catalog
    from logalyzer.config import deep_merge
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train

    catalog = lake_with_sessions
    run_train(spark, catalog, models_conf, progress=lambda m: None, detectors=["autoencoder", "deeplog"])
    run_score(spark, catalog, models_conf, progress=lambda m: None)
    add_day(spark, catalog, "2026-11-22", seed=3)
    run_score(spark, catalog, models_conf, progress=lambda m: None)

    other_conf = deep_merge(models_conf, {"lake": {"root": str(tmp_path / "other")}})
    other = Catalog(spark, other_conf)
    other.overwrite("sessions", catalog.read("sessions"))
    run_score(spark, other, other_conf, progress=lambda m: None)
    cols = ["unit_id", "detector", "score", "threshold", "flagged", "reason", "model_version", "date"]

    def rows(cat, table, c):
        return sorted(tuple(json.dumps(v, sort_keys=True, default=str) for v in r) for r in cat.read(table).select(*c).collect())

    assert rows(catalog, "anomaly_scores", cols) == rows(other, "anomaly_scores", cols)
    ccols = ["unit_id", "detectors", "scores", "reasons", "severity", "date"]
    assert rows(catalog, "anomalies_consolidated", ccols) == rows(other, "anomalies_consolidated", ccols)


def test_a_score_run_that_dies_between_its_tables_is_redone(spark, lake_with_sessions, models_conf, monkeypatch):
    from logalyzer.models import score
    from logalyzer.models.train import run_train

    catalog = lake_with_sessions
    run_train(spark, catalog, models_conf, progress=lambda m: None)
    add_day(spark, catalog, "2026-11-22", seed=3)
    real = score.consolidate

    def dies(*a, **k):
        raise RuntimeError("injected: killed before anomalies_consolidated")

    monkeypatch.setattr(score, "consolidate", dies)
    with pytest.raises(RuntimeError, match="injected"):
        score.run_score(spark, catalog, models_conf, progress=lambda m: None)
    assert catalog.exists("anomaly_scores") and not catalog.exists("anomalies_consolidated")
    monkeypatch.setattr(score, "consolidate", real)
    said = []
    counts = score.run_score(spark, catalog, models_conf, progress=said.append)
    assert counts["units_scored"] == 2 * 380 and any("stopped before it finished" in s for s in said)
    assert catalog.read("anomalies_consolidated").where("date = '2026-11-22'").count() >= 3
    assert catalog.read("anomaly_scores").count() == 2 * 380            # replaced, not doubled
    assert score.run_score(spark, catalog, models_conf, progress=lambda m: None)["units_scored"] == 0


def test_training_is_deterministic_and_champion_moves_only_when_as_good(spark, lake_with_sessions, models_conf):
    from mlflow import MlflowClient

    from logalyzer.config import deep_merge
    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.train import run_train

    catalog = lake_with_sessions
    quiet = {"progress": lambda m: None, "detectors": ["deeplog"]}
    first = run_train(spark, catalog, models_conf, **quiet)["models"][0]
    second = run_train(spark, catalog, models_conf, **quiet)["models"][0]
    assert second["validation_metric"] == first["validation_metric"] and second["k"] == first["k"]
    assert (second["version"], second["alias"]) == ("2", "champion")    # at least as good: it moves
    worse = run_train(spark, catalog, deep_merge(models_conf, {"models": {"deeplog": {"epochs": 1, "min_steps": 0}}}),
                      **quiet)
    (w,) = worse["models"]
    assert (w["version"], w["alias"]) == ("3", "challenger") and "worse than champion v2" in w["why"]
    client = MlflowClient(ModelsConfig.of(models_conf).mlflow.tracking_uri)
    assert str(client.get_model_version_by_alias("logalyzer-deeplog-session", "champion").version) == "2"
    assert client.get_model_version("logalyzer-deeplog-session", "3").tags["promotion"] == w["why"]


def test_short_empty_and_unseen_sessions_score_without_error(spark, lake_with_sessions, models_conf):
    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.registry import load_scorer
    from logalyzer.models.train import run_train

    run_train(spark, lake_with_sessions, models_conf, progress=lambda m: None)
    cfg = ModelsConfig.of(models_conf)
    dl, _ = load_scorer(cfg, "logalyzer-deeplog-session", "champion")
    ae, _ = load_scorer(cfg, "logalyzer-autoencoder-session", "champion")
    units = pd.DataFrame({"template_seq": [[], ["cc"], ["brand-new", "stop"]],
                          "count_keys": [[], ["cc"], ["brand-new", "stop"]], "count_values": [[], [1], [1, 1]],
                          "metric_names": [[], ["n_lines"], ["n_lines", "unknown_metric"]],
                          "metric_values": [[], [3.0], [4.0, 99.0]]})
    out = dl.score(units)
    assert out["score"].tolist()[0] == 0 and not out["flagged"][0]            # empty: nothing to predict
    assert not out["flagged"][1] and out["loss_weight"].tolist() == [0, 1, 2]  # shorter than h: padded
    assert out["flagged"][2] and "brand-new never seen in training" in out["reason"][2]
    assert len(ae.score(units)) == 3


def test_missing_model_and_unreachable_store_are_clear_errors(spark, lake_with_sessions, models_conf):
    from logalyzer.config import deep_merge
    from logalyzer.models.registry import RegistryError
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train

    with pytest.raises(RegistryError, match=r"no model version logalyzer-deeplog-session@champion in the registry "
                                            r"at sqlite:///.*mlflow\.db: no model 'logalyzer-deeplog-session': run "
                                            r"`logalyzer train` first"):
        run_score(spark, lake_with_sessions, models_conf, progress=lambda m: None)
    down = deep_merge(models_conf, {"models": {"mlflow": {"tracking_uri": "http://user:secret@127.0.0.1:9"}}})
    with pytest.raises(RegistryError) as err:
        run_train(spark, lake_with_sessions, down, progress=lambda m: None)
    assert "http://***@127.0.0.1:9 cannot be used" in str(err.value) and "secret" not in str(err.value)
    assert not lake_with_sessions.exists("run_log")       # it stopped before any work


def test_too_few_units_to_train_is_a_clear_error(spark, catalog, models_conf):
    from logalyzer.models.train import NotEnoughDataError, run_train

    catalog.overwrite("sessions", spark.createDataFrame(session_rows(NORMAL_DAYS[0], 5, seed=1), SESSIONS_SCHEMA))
    with pytest.raises(NotEnoughDataError, match="at least 20 training units"):
        run_train(spark, catalog, models_conf, progress=lambda m: None)


def test_labels_and_evaluate(spark, lake_with_sessions, models_conf, tmp_path):
    from mlflow import MlflowClient

    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.evaluate import run_evaluate
    from logalyzer.models.labels import LabelFileError, load_labels
    from logalyzer.models.score import run_score
    from logalyzer.models.train import run_train

    catalog = lake_with_sessions
    run_train(spark, catalog, models_conf, progress=lambda m: None)
    add_day(spark, catalog, "2026-11-22", seed=3)
    run_score(spark, catalog, models_conf, progress=lambda m: None)
    day = [r for r in catalog.read("sessions").where("date = '2026-11-22'").collect()]
    storm = next(r for r in day if r["session_id"].endswith("storm"))
    path = tmp_path / "labels.csv"      # by device and time, as the fleet generator writes them
    path.write_text("device_id,anomaly_type,start_ts,end_ts\n"
                    f"{storm['device_id']},freeze_storm,{storm['start_ts'].isoformat()},{storm['end_ts'].isoformat()}\n")
    assert load_labels(spark, catalog, str(path), "session") == 1
    keys = tmp_path / "keys.csv"        # by key, as loghub's anomaly_label.csv
    keys.write_text("BlockId,Label\n" + "".join(
        f"{r['session_id']},{'Normal' if r['session_id'][-1].isdigit() else 'Anomaly'}\n" for r in day))
    load_labels(spark, catalog, str(keys))
    load_labels(spark, catalog, str(keys))                 # loading a file again replaces its rows
    assert catalog.read("labels").count() == 1 + len(day)
    result = run_evaluate(spark, catalog, models_conf, progress=lambda m: None)["results"]["session"]
    assert result["anomalous"] == 3
    assert result["consolidated"]["recall"] == 1.0 and result["consolidated"]["tp"] == 3
    client = MlflowClient(ModelsConfig.of(models_conf).mlflow.tracking_uri)
    experiment = client.get_experiment_by_name("logalyzer").experiment_id
    runs = client.search_runs([experiment], filter_string="tags.`logalyzer.stage` = 'evaluate'")
    assert runs and runs[0].data.metrics["session_consolidated_recall"] == 1.0
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b,c\n1,2,3\n")
    with pytest.raises(LabelFileError, match="expected `KEY,LABEL`"):
        load_labels(spark, catalog, str(bad))


def test_units_carry_the_share_of_their_time_each_duration_covers(spark, models_conf):
    """``video_freezes_ms`` becomes ``video_freezes_time_pct`` too: the same freeze time is an incident in
    a short session and nothing in a long one (capped at 100, an instant counts as one second)."""
    from logalyzer.models.config import ModelsConfig
    from logalyzer.models.units import metric_columns, to_units

    rows = session_rows(NORMAL_DAYS[0], 4, seed=3)
    rows = [r[:4] + (d,) + r[5:7] + (ms,) + r[8:] for r, d, ms in
            zip(rows, (20.0, 7200.0, 10.0, 0.0), (13_000, 13_000, 60_000, 400))]
    table = spark.createDataFrame(rows, SESSIONS_SCHEMA)
    cfg = ModelsConfig.of(models_conf)
    names = metric_columns(table, cfg)
    assert "video_freezes_time_pct" in names and "video_freezes_ms" in names
    got = {r["unit_id"]: dict(zip(r["metric_names"], r["metric_values"]))["video_freezes_time_pct"]
           for r in to_units(table, "session", cfg).collect()}
    shares = [got[r[1]] for r in rows]
    assert shares == pytest.approx([65.0, 13_000 / 72_000, 100.0, 40.0])
