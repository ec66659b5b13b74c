"""Docs that are generated or that promise things: docs/configuration.md matches conf/base."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import config_reference  # noqa: E402


def test_configuration_reference_is_up_to_date():
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "config_reference.py"), "--check"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr  # fix: python tools/config_reference.py


def test_configuration_reference_has_every_setting_with_its_default():
    doc = (ROOT / "docs" / "configuration.md").read_text()

    def leaves(d, prefix=()):
        for k, v in d.items():
            if isinstance(v, dict) and v:
                yield from leaves(v, (*prefix, str(k)))
            else:
                yield ".".join((*prefix, str(k))), v

    for path in sorted((ROOT / "conf" / "base").glob("*.yml")):
        for key, value in leaves(yaml.safe_load(path.read_text()) or {}):
            row = next((line for line in doc.splitlines() if line.startswith(f"| `{key}` |")), None)
            assert row, key
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                assert str(value) in row, (key, value)


def test_comments_are_picked_up(tmp_path):
    f = tmp_path / "x.yml"
    f.write_text("# file intro\nsec:\n  # above a key\n  a: 1\n  b: \"#x\"   # own comment\n  c: [1, 2]\n")
    notes = config_reference.comments(f)
    assert notes[("sec", "a")] == "above a key"
    assert notes[("sec", "b")] == "own comment"
    assert notes[("sec", "c")] == "" and notes[("sec",)] == ""
    assert config_reference.file_intro(f) == "file intro"


def test_docs_link_to_files_that_exist():
    import re

    for doc in ("architecture.md", "scaling.md", "trino.md"):
        text = (ROOT / "docs" / doc).read_text()
        for target in re.findall(r"\]\(([^)#:]+)\)", text):
            assert (ROOT / "docs" / target).exists(), (doc, target)


def test_trino_ddl_declares_each_table_with_its_parquet_schema(tmp_path):
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    import trino_ddl  # tools/ is on sys.path (top of this file)

    folder = tmp_path / "lake" / "gold" / "sessions" / "date=2026-11-20"
    folder.mkdir(parents=True)
    table = pa.table({
        "session_id": ["s1"], "start_ts": pa.array([dt.datetime(2026, 11, 20, 1)], pa.timestamp("us", tz="UTC")),
        "duration_s": [1.5], "n_lines": pa.array([3], pa.int32()),
        "event_counts": pa.array([[("PLAY", 2)]], pa.map_(pa.string(), pa.int32())),
        "template_seq": [["a", "b"]], "flagged": [True]})
    pq.write_table(table, folder / "part-0.parquet")
    ddl = trino_ddl.table_ddl("sessions", tmp_path / "lake" / "gold" / "sessions", "s3://b/lake/gold/sessions",
                              ["date"], "hive.logalyzer")
    cols = [line.strip().rstrip(",") for line in ddl.splitlines() if line.startswith("    ")]
    assert cols == ['"session_id" varchar', '"start_ts" timestamp', '"duration_s" double', '"n_lines" integer',
                    '"event_counts" map(varchar, integer)', '"template_seq" array(varchar)', '"flagged" boolean',
                    '"date" varchar']
    assert "external_location = 's3://b/lake/gold/sessions'" in ddl and "partitioned_by = ARRAY['date']" in ddl
    assert "CALL hive.system.sync_partition_metadata('logalyzer', 'sessions', 'FULL')" in ddl
