"""spark-submit.sh, the launcher: flags -> the right jobs/*.py commands (dry run), a failing step stops
the run, and one real ingest + templates through spark-submit on a tiny generated fleet."""
from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path


from logalyzer.cli import build_parser

ROOT = Path(__file__).resolve().parent.parent
LAUNCHER = ROOT / "spark-submit.sh"


def launch(*args, cwd=None, timeout=600):
    env = dict(os.environ, PYTHON=sys.executable, PYTHONPATH=str(ROOT))
    return subprocess.run(["bash", str(LAUNCHER), *args], cwd=cwd or ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def planned(*args):
    """The dry run's commands: [(item, stage, spark-submit options, job arguments)]."""
    out = launch("--dry-run", *args)
    assert out.returncode == 0, out.stderr
    steps, lines = [], out.stdout.splitlines()
    for header, command in zip(lines[::2], lines[1::2]):
        _, item, stage = header.split()
        argv = shlex.split(command)
        job = next(i for i, a in enumerate(argv) if a.endswith(".py") and "/jobs/" in a)
        assert Path(argv[job]) == ROOT / "jobs" / f"{stage}.py"
        steps.append((item, stage, argv[1:job], argv[job + 1:]))
    return steps


def test_help_explains_every_flag():
    out = launch("--help")
    assert out.returncode == 0
    for flag in ("--ingest", "--templates", "--sessions", "--train", "--score", "--publish", "--all",
                 "--date", "--from", "--lake", "--set", "--parallel", "--fail-fast", "--master",
                 "--venv-archive", "--dry-run", "--ingest-args", "--conf-dir"):
        assert flag in out.stdout, flag
    # every flag the parser accepts is in the help
    src = LAUNCHER.read_text()
    case_flags = {f for m in re.finditer(r"^\s+((?:-[\w-]+\|?)+)\)", src, re.M)
                  for f in m.group(1).split("|") if f.startswith("--")}
    assert len(case_flags) > 20
    missing = [f for f in case_flags if f not in out.stdout]
    assert not missing


def test_unknown_flag_is_bad_usage():
    out = launch("--ingest", "--bogus")
    assert out.returncode == 2 and "unknown option: --bogus" in out.stderr


def test_no_flag_means_every_stage_in_order_and_args_parse():
    steps = planned("data/fleet")
    assert [s[1] for s in steps] == ["ingest", "templates", "sessions", "train", "score", "publish"]
    parser = build_parser()
    for _, stage, _, job_args in steps:
        parsed = parser.parse_args([stage, *job_args])  # what jobs/<stage>.py hands to the CLI
        assert parsed.command == stage
    assert steps[0][3][0] == "data/fleet"


def test_stage_flags_select_a_subset_in_pipeline_order():
    steps = planned("--score", "-t", "--train", "x")
    assert [s[1] for s in steps] == ["templates", "train", "score"]


def test_dates_fill_an_input_template_and_go_to_sessions_and_score():
    steps = planned("-i", "-s", "--score", "--from", "2026-11-30", "--to", "2026-12-01",
                    "s3a://logs/{date}/", "--set", "ingest.max_line_length=100", "--ingest-args", "--format log4j")
    ingests = [s for s in steps if s[1] == "ingest"]
    assert [s[3][0] for s in ingests] == ["s3a://logs/2026-11-30/", "s3a://logs/2026-12-01/"]
    parser = build_parser()
    ingest = parser.parse_args(["ingest", *ingests[0][3]])
    assert ingest.fmt == "log4j" and ingest.overrides == ["ingest.max_line_length=100"]
    for stage in ("sessions", "score"):
        (job_args,) = [s[3] for s in steps if s[1] == stage]  # one shared lake: once, all dates
        parsed = parser.parse_args([stage, *job_args])
        assert [str(d) for d in parsed.dates] == ["2026-11-30", "2026-12-01"]


def test_item_placeholder_gives_each_input_its_own_lake():
    steps = planned("-i", "-t", "--lake", "lakes/{item}", "--set", "project.work_dir=work/{item}", "g/one", "g/two/")
    parser = build_parser()
    by_item = {}
    for item, stage, _, job_args in steps:
        args = parser.parse_args([stage, *job_args])
        by_item.setdefault(item, []).append((stage, args.lake, args.overrides))
    assert by_item == {
        "one": [("ingest", "lakes/one", ["project.work_dir=work/one"]),
                ("templates", "lakes/one", ["project.work_dir=work/one"])],
        "two": [("ingest", "lakes/two", ["project.work_dir=work/two"]),
                ("templates", "lakes/two", ["project.work_dir=work/two"])]}


def test_spark_options_pass_through_and_yarn_ships_the_packed_environment():
    steps = planned("-t", "-m", "yarn", "--venv-archive", "/tmp/env.tar.gz", "--",
                    "--executor-memory", "8g", "--conf", "spark.sql.shuffle.partitions=400")
    opts = steps[0][2]
    assert opts[opts.index("--master") + 1] == "yarn"
    assert opts[opts.index("--archives") + 1] == "/tmp/env.tar.gz#environment"
    assert "spark.pyspark.python=./environment/bin/python" in opts          # executors: the shipped one
    assert f"spark.pyspark.driver.python={sys.executable}" in opts          # client mode: this machine's
    assert opts[opts.index("--executor-memory") + 1] == "8g"
    assert "spark.sql.shuffle.partitions=400" in opts
    assert "--py-files" in opts  # the package itself, always the current code
    local = planned("-t")[0][2]
    assert "--archives" not in local


def test_usage_errors():
    assert launch("-i").returncode == 2                          # ingest without input
    out = launch("-d", "2026-13-xx", "-t")
    assert out.returncode == 2 and "not a date" in out.stderr
    out = launch("-i", "s3a://logs/{date}/")
    assert out.returncode == 2 and "--date" in out.stderr
    out = launch("templates")                                   # the old STAGE-first form
    assert out.returncode == 2 and "--templates" in out.stderr


def test_a_failing_step_stops_the_run(tmp_path):
    """ingest fails (its job rejects an argument): templates never starts, exit 1, a clear message."""
    out = launch("-i", "-t", "--ingest-args", "--no-such-flag", "--log-dir", str(tmp_path / "logs"),
                 "--lake", str(tmp_path / "lake"), str(tmp_path), cwd=tmp_path, timeout=300)
    assert out.returncode == 1, out.stdout + out.stderr
    assert "ingest: FAILED with exit code 2" in out.stdout
    assert "FAILED: stage 'ingest'" in out.stderr
    assert "templates: started" not in out.stdout
    assert not (tmp_path / "logs" / "all.templates.log").exists()
    assert "unrecognized arguments: --no-such-flag" in (tmp_path / "logs" / f"{tmp_path.name}.ingest.log").read_text()


def test_parallel_lanes_start_nothing_new_after_a_failure(tmp_path):
    """-P 1 over two independent lakes: the first lane fails, the second is never started."""
    out = launch("-t", "-P", "1", "--templates-args", "--bogus", "--lake", str(tmp_path / "{item}"),
                 "--log-dir", str(tmp_path / "logs"), "a", "b", cwd=tmp_path, timeout=300)
    assert out.returncode == 1
    assert "[a] templates: FAILED" in out.stdout
    assert "[b] templates: started" not in out.stdout


def test_real_ingest_and_templates_through_spark_submit(tmp_path):
    from logalyzer.generate import generate_fleet

    fleet = generate_fleet(str(tmp_path / "fleet"), devices=2, days=1, lines_per_device_day=150, bad_input=False,
                   workers=1)
    out = launch("-i", "-t", str(tmp_path / "fleet"), "--lake", str(tmp_path / "lake"),
                 "--set", f"project.work_dir={tmp_path / 'work'}", "--log-dir", str(tmp_path / "logs"),
                 "-m", "local[2]", "--driver-memory", "1g", "--", "--conf", "spark.sql.shuffle.partitions=2",
                 cwd=tmp_path, timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert "ingest: done" in out.stdout and "templates: done" in out.stdout
    assert "lines_loaded" in out.stdout and "lines_templated" in out.stdout
    for table in ("bronze/log_lines", "silver/events", "silver/templates"):
        assert any((tmp_path / "lake" / table).rglob("*.parquet")), table
    import pyarrow.dataset as ds

    events = ds.dataset(str(tmp_path / "lake" / "silver" / "events"), partitioning="hive")
    assert events.count_rows() == fleet["readable_lines"]  # every generated line went through both stages


def test_the_launcher_is_executable():
    assert os.access(LAUNCHER, os.X_OK)
