"""Errors a person and a scheduler can act on: bad settings stop before Spark starts (exit 2), failures
are exit 1 with one line naming the problem, internal errors are never "bad usage"."""
import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from logalyzer import cli

from test_ingest import DEV, LOGCAT, write_gz

ROOT = Path(__file__).resolve().parent.parent


def cli_without_java(args, tmp_path, env=None):
    """The command in a fresh process where Spark cannot start (no Java): exit 2 proves the check came first."""
    environ = {k: v for k, v in os.environ.items() if k != "LOGALYZER_TEST_UNSET"}
    environ.update({"JAVA_HOME": str(tmp_path / "no-java"), "PYTHONPATH": str(ROOT), **(env or {})})
    out = subprocess.run([sys.executable, "-m", "logalyzer.cli", *args], capture_output=True, text=True,
                         cwd=tmp_path, env=environ)
    return out.returncode, [line for line in out.stderr.splitlines() if line.strip()]


@pytest.fixture
def conf_dir(tmp_path):
    conf = tmp_path / "conf"
    shutil.copytree(ROOT / "conf" / "base", conf / "base")
    (conf / "local").mkdir()
    return conf


@pytest.mark.parametrize("extra, message", [
    (["--set", "ingest.max_line_lenght=10"],
     "error: unknown setting 'ingest.max_line_lenght' (--set ingest.max_line_lenght=10); "
     "did you mean 'ingest.max_line_length'?"),
    (["--set", "ingest.max_line_length=ten"],
     "error: setting 'ingest.max_line_length' expects a whole number, got 'ten' (--set ingest.max_line_length=ten)"),
    (["--set", "templates.drain.sim_th=2"], "error: configuration: templates.drain.sim_th must lie in (0, 1], got 2.0"),
    (["--set", "lake.format=deltaa"], "error: setting 'lake.format' must be one of auto, delta, parquet, got 'deltaa'"),
    (["--format", "nonsense"], "error: --format: unknown format 'nonsense'"),
])
def test_bad_settings_and_format_stop_before_spark(tmp_path, conf_dir, extra, message):
    (tmp_path / "in").mkdir()
    code, err = cli_without_java(["ingest", "in", "--conf-dir", str(conf_dir), *extra], tmp_path)
    assert code == 2 and len(err) == 1 and err[0].startswith(message), err


def test_missing_input_unset_variable_and_a_key_in_two_base_files(tmp_path, conf_dir):
    code, err = cli_without_java(["ingest", "nowhere", "--conf-dir", str(conf_dir)], tmp_path)
    assert (code, err) == (2, ["error: input path not found: nowhere"])

    (tmp_path / "in").mkdir()
    (conf_dir / "local" / "secrets.yml").write_text("publish:\n  password: ${env:LOGALYZER_TEST_UNSET}\n")
    code, err = cli_without_java(["ingest", "in", "--conf-dir", str(conf_dir)], tmp_path)
    assert code == 2 and len(err) == 1
    assert "'publish.password' reads the environment variable LOGALYZER_TEST_UNSET, which is not set" in err[0]
    code, err = cli_without_java(["ingest", "in", "--conf-dir", str(conf_dir)], tmp_path,
                                 env={"LOGALYZER_TEST_UNSET": ""})
    assert code == 1 and "Java not found" in err[-1]     # set (even empty): on to Spark, which has no Java here

    (conf_dir / "local" / "secrets.yml").unlink()
    (conf_dir / "base" / "zz_mine.yml").write_text("ingest:\n  max_line_length: 100\n")
    code, err = cli_without_java(["ingest", "in", "--conf-dir", str(conf_dir)], tmp_path)
    assert code == 2 and len(err) == 1 and "'ingest.max_line_length' is set in both" in err[0]
    assert "ingest.yml" in err[0] and "zz_mine.yml" in err[0]


def test_an_internal_error_is_exit_1_with_its_traceback(spark, tmp_path, capsys, monkeypatch):
    def broken(*_):
        raise KeyError("some_column")

    monkeypatch.setitem(cli.COMMANDS, "tables", broken)
    assert cli.main(["tables", "--lake", str(tmp_path / "lake")]) == 1
    err = capsys.readouterr().err
    assert "Traceback" in err and "error: internal error" in err and "KeyError" in err


def test_an_unwritable_lake_is_one_line_naming_it(spark, tmp_path, capsys):
    write_gz(tmp_path / "in" / f"{DEV}_20261120_00.log.gz", LOGCAT)
    (tmp_path / "file").write_text("not a folder")
    lake = tmp_path / "file" / "lake"
    assert cli.main(["ingest", str(tmp_path / "in"), "--lake", str(lake)]) == 1
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert errors == [f"error: cannot write to the lake at {lake}: [Errno 20] Not a directory: '{lake}'"]
    assert "Traceback" not in err
    assert cli.main(["ingest", str(tmp_path / "in"), "--lake", str(lake), "--verbose"]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_an_empty_input_folder_is_a_warning(spark, tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert cli.main(["ingest", str(tmp_path / "empty"), "--lake", str(tmp_path / "lake")]) == 0
    assert "warning: no log files under" in capsys.readouterr().err


def test_strict_fails_again_while_a_known_corrupt_file_is_in_the_input(spark, tmp_path, capsys):
    folder, lake = tmp_path / "in", str(tmp_path / "lake")
    write_gz(folder / f"{DEV}_20261120_00.log.gz", LOGCAT)
    whole = gzip.compress(("\n".join(LOGCAT) + "\n").encode())
    (folder / f"{DEV}_20261121_00.log.gz").write_bytes(whole[: len(whole) // 2])      # truncated
    assert cli.main(["ingest", str(folder), "--lake", lake, "--strict"]) == 1
    assert cli.main(["ingest", str(folder), "--lake", lake, "--strict"]) == 1          # still there: still a failure
    assert "corrupt file(s) recorded by an earlier run are still in the input" in capsys.readouterr().err
    assert cli.main(["ingest", str(folder), "--lake", lake]) == 0                      # not strict: a warning only
    (folder / f"{DEV}_20261121_00.log.gz").unlink()
    assert cli.main(["ingest", str(folder), "--lake", lake, "--strict"]) == 0
