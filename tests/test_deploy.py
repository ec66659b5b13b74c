"""Databricks bundle and EMR definitions: every task names a real entry point, with arguments the CLI parses.

Nothing is run on a cluster here (none is reachable); the definitions are parsed with the same
argparse parser that `logalyzer` and jobs/*.py use, so a renamed flag or stage breaks this test.
"""
from __future__ import annotations

import configparser
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
import yaml

from logalyzer.cli import COMMANDS, build_parser

ROOT = Path(__file__).resolve().parent.parent
STAGE_ORDER = ["ingest", "templates", "sessions", "train", "score", "publish"]


def parse(argv: list[str]):
    """The CLI's parse of argv, or a test failure with argparse's message (it would exit 2)."""
    try:
        return build_parser().parse_args(argv)
    except SystemExit as exc:
        pytest.fail(f"the CLI rejects {argv}: exit {exc.code}")


def substitute(value: str, variables: dict) -> str:
    value = re.sub(r"\$\{var\.(\w+)\}", lambda m: str(variables[m.group(1)]), value)
    value = value.replace("${workspace.file_path}", "/Workspace/Users/someone/.bundle/logalyzer/dev/files")
    value = value.replace("{{job.start_time.iso_date}}", "2026-11-20")
    assert "${" not in value and "{{" not in value, f"unresolved reference in {value!r}"
    return value


@pytest.fixture(scope="module")
def bundle():
    return yaml.safe_load((ROOT / "databricks.yml").read_text())


def test_bundle_tasks_run_the_wheel_entry_point_with_parsable_arguments(bundle):
    variables = {k: v["default"] for k, v in bundle["variables"].items()}
    setup_py = (ROOT / "setup.py").read_text()
    assert re.search(r'"logalyzer=logalyzer\.cli:main"', setup_py)  # the console script the tasks name
    stages = []
    for job in bundle["resources"]["jobs"].values():
        assert job["schedule"]["quartz_cron_expression"] and job["max_concurrent_runs"] == 1
        clusters = {c["job_cluster_key"] for c in job["job_clusters"]}
        for task in job["tasks"]:
            assert task["job_cluster_key"] in clusters
            assert task["libraries"] == [{"whl": "./dist/*.whl"}]
            wheel = task["python_wheel_task"]
            assert wheel["package_name"] == "logalyzer" and wheel["entry_point"] == "logalyzer"
            argv = [substitute(str(p), variables) for p in wheel["parameters"]]
            args = parse(argv)
            assert args.command == task["task_key"] and args.command in COMMANDS
            assert args.conf_dir.endswith("/conf") and args.lake == variables["lake_root"]
            stages.append(args.command)
    assert sorted(stages, key=STAGE_ORDER.index) == sorted(STAGE_ORDER, key=STAGE_ORDER.index)


def test_bundle_tasks_depend_on_each_other_in_pipeline_order(bundle):
    daily = bundle["resources"]["jobs"]["logalyzer_daily"]["tasks"]
    keys = [t["task_key"] for t in daily]
    assert keys == [s for s in STAGE_ORDER if s in keys]
    for before, task in zip(daily, daily[1:]):
        assert task["depends_on"] == [{"task_key": before["task_key"]}]


def test_bundle_pins_the_parser_settings_on_its_cluster(bundle):
    cluster = bundle["resources"]["jobs"]["logalyzer_daily"]["job_clusters"][0]["new_cluster"]
    assert cluster["spark_conf"]["spark.sql.ansi.enabled"] == "false"
    assert cluster["spark_conf"]["spark.sql.legacy.timeParserPolicy"] == "CORRECTED"
    assert cluster["data_security_mode"] == "SINGLE_USER"  # py4j (logalyzer/jvm.py) on shared clusters: no


def test_cluster_wheel_leaves_out_what_the_cluster_provides(tmp_path):
    """The bundle's / upload.sh's wheel build: logalyzer's code, no pyspark requirement."""
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(tmp_path),
         str(ROOT)], capture_output=True, text=True, timeout=300,
        env={"LOGALYZER_SKIP_JAVA_CHECK": "1", "LOGALYZER_CLUSTER_WHEEL": "1", "PATH": "/usr/bin:/bin",
             "HOME": str(tmp_path)})
    assert out.returncode == 0, out.stderr
    (wheel,) = tmp_path.glob("logalyzer-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = zf.read(next(n for n in names if n.endswith("METADATA"))).decode()
        entry_points = zf.read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    requires = [line.split(":", 1)[1].strip() for line in meta.splitlines() if line.startswith("Requires-Dist:")]
    assert not [r for r in requires if r.startswith(("pyspark", "delta-spark"))]
    assert any(r.startswith("drain3-improved") for r in requires)
    assert "logalyzer/cli.py" in names and "logalyzer/jvm.py" in names
    ep = configparser.ConfigParser()
    ep.read_string(entry_points)
    assert ep["console_scripts"]["logalyzer"] == "logalyzer.cli:main"


def test_emr_steps_run_real_jobs_with_parsable_arguments():
    steps = json.loads((ROOT / "deploy" / "emr" / "steps.json").read_text())
    stages = []
    for step in steps:
        assert step["ActionOnFailure"] in ("CANCEL_AND_WAIT", "TERMINATE_CLUSTER")
        jar = step["HadoopJarStep"]
        assert jar["Jar"] == "command-runner.jar"
        args = list(jar["Args"])
        assert args[:2] == ["bash", "/home/hadoop/logalyzer/run-stage.sh"]
        args = args[2:]
        if args[0] == "--db-secret":
            args = args[2:]
        stage, rest = args[0], args[1:]
        assert (ROOT / "jobs" / f"{stage}.py").exists(), stage
        # run-stage.sh appends --conf-dir; jobs/<stage>.py prepends the stage name
        parsed = parse([stage, *rest, "--conf-dir", "/home/hadoop/logalyzer/conf"])
        assert parsed.command == stage and parsed.lake.startswith("s3://")
        stages.append(stage)
    assert stages == STAGE_ORDER


def test_emr_scripts_are_valid_bash_and_ship_what_the_steps_use():
    emr = ROOT / "deploy" / "emr"
    for script in ("bootstrap.sh", "run-stage.sh", "upload.sh"):
        assert subprocess.run(["bash", "-n", str(emr / script)]).returncode == 0, script
    bootstrap, upload = (emr / "bootstrap.sh").read_text(), (emr / "upload.sh").read_text()
    for shipped in ("run-stage.sh", "jobs/", "conf/", "dist/"):
        assert shipped in bootstrap and shipped in upload, shipped
    conf = {c["Classification"]: c["Properties"] for c in json.loads((emr / "configurations.json").read_text())}
    venv_python = "/home/hadoop/logalyzer-venv/bin/python"
    assert conf["spark-defaults"]["spark.pyspark.python"] == venv_python and venv_python.rsplit("/bin", 1)[0] in bootstrap
    assert conf["spark-defaults"]["spark.sql.ansi.enabled"] == "false"


def test_run_stage_refuses_an_unknown_stage(tmp_path):
    out = subprocess.run(["bash", str(ROOT / "deploy" / "emr" / "run-stage.sh"), "nope"], capture_output=True,
                         text=True)
    assert out.returncode == 2 and "no such stage: nope" in out.stderr
