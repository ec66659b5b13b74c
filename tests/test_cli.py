"""The command line as a new user meets it: generate, ingest twice, bad paths, --help."""
import subprocess
import sys

import pytest

from logalyzer import cli
from logalyzer.generate import generate_fleet


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    out = tmp_path_factory.mktemp("fleet")
    summary = generate_fleet(str(out), devices=2, days=1, seed=3, lines_per_device_day=1500)
    return out, summary


def test_help_lists_the_stages():
    out = subprocess.run([sys.executable, "-m", "logalyzer.cli", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for word in ("generate", "ingest", "templates", "sessions", "run", "tables", "doctor"):
        assert word in out.stdout


def test_ingest_twice_changes_nothing(spark, fleet, tmp_path, capsys):
    folder, summary = fleet
    lake = str(tmp_path / "lake")
    assert cli.main(["ingest", str(folder), "--lake", lake]) == 0
    first = capsys.readouterr().out
    assert "ingest summary" in first and "files_corrupt" in first and "lines_loaded" in first
    from logalyzer.catalog import Catalog
    from logalyzer.config import load_config

    catalog = Catalog(spark, load_config(overrides=[f"lake.root={lake}"]))
    loaded = catalog.read("log_lines").count()
    quarantined = catalog.read("quarantine").count()
    manifest = catalog.read("ingest_manifest").count()
    # every readable line generated is either loaded or quarantined: nothing lost
    assert loaded + quarantined == summary["readable_lines"]
    assert quarantined == summary["malformed_lines"] + summary["invalid_utf8_lines"] + summary["overlong_lines"]
    corrupt = catalog.read("ingest_manifest").where("status = 'corrupt'").collect()
    assert len(corrupt) == 1 and "truncated" in corrupt[0].error
    assert cli.main(["ingest", str(folder), "--lake", lake]) == 0
    assert catalog.read("log_lines").count() == loaded
    assert catalog.read("quarantine").count() == quarantined
    assert catalog.read("ingest_manifest").count() == manifest
    assert "files_skipped_known" in capsys.readouterr().out


def test_strict_exits_1_on_corrupt_file(spark, fleet, tmp_path):
    folder, _ = fleet
    assert cli.main(["ingest", str(folder), "--lake", str(tmp_path / "lake"), "--strict"]) == 1


def test_missing_input_is_one_line_and_exit_2(spark, tmp_path, capsys):
    assert cli.main(["ingest", str(tmp_path / "missing"), "--lake", str(tmp_path / "lake")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: input path not found: {tmp_path / 'missing'}"]


def test_unknown_format_is_a_clear_error(spark, fleet, tmp_path, capsys):
    folder, _ = fleet
    assert cli.main(["ingest", str(folder), "--lake", str(tmp_path / "lake"), "--format", "nonsense"]) == 2
    assert "unknown format 'nonsense'" in capsys.readouterr().err


def test_sessions_date_flag_runs_incrementally(spark, fleet, tmp_path, capsys):
    folder, _ = fleet
    lake = str(tmp_path / "lake")
    with pytest.raises(SystemExit) as bad:
        cli.main(["sessions", "--date", "2026-13-01", "--lake", lake])
    assert bad.value.code == 2 and "expected YYYY-MM-DD" in capsys.readouterr().err
    assert cli.main(["ingest", str(folder), "--lake", lake]) == 0
    assert cli.main(["templates", "--lake", lake]) == 0
    capsys.readouterr()
    assert cli.main(["sessions", "--date", "2026-11-20", "--lake", lake]) == 0
    out = capsys.readouterr().out
    assert "incremental" in out and "2026-11-20" in out


def test_run_trains_once_scores_and_evaluates(spark, fleet, tmp_path, capsys):
    """`run` on a fleet with labels: the first run trains (no champion yet), scores and evaluates; the second
    run finds the champion and new work only."""
    folder, _ = fleet
    fast = ["--set", "models.deeplog.epochs=2", "--set", "models.deeplog.min_steps=60",
            "--set", "models.autoencoder.epochs=3", "--set", "models.autoencoder.min_steps=60",
            "--set", "models.min_train_units=10", "--set", f"project.work_dir={tmp_path / 'work'}",
            "--set", "publish.url=", "--set", f"publish.local.bin_dir={tmp_path / 'no-server'}"]
    args = ["run", str(folder), "--lake", str(tmp_path / "lake"), *fast]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "train summary" in out and "logalyzer-deeplog-session v1: champion" in out
    assert "score summary" in out and "session_autoencoder_scored" in out
    assert "evaluate session:" in out and "consolidated" in out and "publish: skipped" in out
    where = out[out.index("where to look"):]
    assert "anomaly_scores" in where and "events" in where and "mlflow ui" in where
    assert "most severe first" in where or "no anomalies flagged" in where
    assert "dashboards serve" in where
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "train summary" not in out and "units_scored  0" in out


def test_score_without_a_model_is_one_line_and_exit_1(spark, tmp_path, capsys):
    assert cli.main(["score", "--lake", str(tmp_path / "lake"), "--set", f"project.work_dir={tmp_path / 'w'}"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: no model version logalyzer-deeplog-session@champion")
