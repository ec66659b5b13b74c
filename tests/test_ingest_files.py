"""Ingest on real files that change between runs, odd line endings, unreadable timestamps and empty
inputs (issues 10 and 11): nothing doubled, nothing silently lost, the manifest's counts the table's."""
import gzip
import os
import random

import pytest
from pyspark.sql import functions as F

from logalyzer.ingest import run_ingest

DEV = "R0000000042"


def quiet(*_):
    pass


def ingest(spark, catalog, conf, path, **kw):
    return run_ingest(spark, catalog, conf, str(path), progress=quiet, **kw)


def logcat(i: int, msg: str = "tick") -> str:
    return f"11-20 10:{i // 60 % 60:02d}:{i % 60:02d}.000  1000  1000 I Tvinput : {msg} {i}"


def assert_manifest_matches_tables(catalog):
    """Per file, the manifest's loaded / quarantined counts are the rows the tables hold."""
    m = {r.path: r for r in catalog.read("ingest_manifest").groupBy("path").agg(
        F.sum("loaded").alias("loaded"), F.sum("quarantined").alias("quarantined")).collect()}
    rows = {r.source_file: r["count"] for r in catalog.read("log_lines").groupBy("source_file").count().collect()}
    quarantined = ({r.source_file: r["count"] for r in catalog.read("quarantine").groupBy("source_file").count().collect()}
                   if catalog.exists("quarantine") else {})
    for path, r in m.items():
        assert r.loaded >= 0 and r.quarantined >= 0
        assert r.loaded == rows.get(path, 0), path
        assert r.quarantined == quarantined.get(path, 0), path


# -- issue 11 item 1: lines end at \n ------------------------------------------------------------------
def test_a_lone_carriage_return_stays_inside_its_line(spark, catalog, conf, tmp_path):
    (tmp_path / "in").mkdir()
    data = (b"11-20 12:00:00.000  1000  1000 I Tvinput : progress 10%\rprogress 20%\n"
            b"11-20 12:00:01.000  1000  1000 I Tvinput : windows line\r\n"
            b"11-20 12:00:02.000  1000  1000 I Tvinput : last, no newline")
    (tmp_path / "in" / f"{DEV}_20261120_00.log").write_bytes(data)
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["lines_read"] == 3 and counts["lines_loaded"] == 3, counts
    rows = {r.line_no: r.message for r in catalog.read("log_lines").collect()}
    assert rows == {1: "progress 10%\rprogress 20%", 2: "windows line", 3: "last, no newline"}
    assert not catalog.exists("quarantine") or catalog.read("quarantine").count() == 0
    assert_manifest_matches_tables(catalog)


def test_a_binary_file_never_gets_negative_counts(spark, catalog, conf, tmp_path):
    rnd = random.Random(11)
    (tmp_path / "in").mkdir()
    blob = bytes(rnd.choice(b"\r\r\n\x00\xff\xfeab:") for _ in range(4000))
    (tmp_path / "in" / "firmware.log").write_bytes(blob)
    (tmp_path / "in" / f"{DEV}_20261120_00.log").write_text(logcat(1) + "\r" + logcat(2) + "\n")
    ingest(spark, catalog, conf, tmp_path / "in")
    manifest = catalog.read("ingest_manifest").collect()
    assert len(manifest) == 2
    for m in manifest:
        assert m.loaded + m.quarantined + m.blank == m.lines, m
    assert_manifest_matches_tables(catalog)


# -- issue 11 items 2 and 3: files that grow, change or are touched ------------------------------------
def test_a_growing_plain_file_loads_only_its_new_lines(spark, catalog, conf, tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / f"{DEV}_20261120_00.log"
    path.write_text("".join(logcat(i) + "\n" for i in range(300)))
    assert ingest(spark, catalog, conf, tmp_path / "in")["lines_loaded"] == 300
    with open(path, "a") as fh:
        fh.write("".join(logcat(i, "more") + "\n" for i in range(300, 310)))
    again = ingest(spark, catalog, conf, tmp_path / "in")
    assert again["files_appended"] == 1 and again["lines_loaded"] == 10, again
    lines = catalog.read("log_lines")
    assert lines.count() == 310                                    # not 610
    assert sorted(r.line_no for r in lines.collect()) == list(range(1, 311))
    statuses = [r.status for r in catalog.read("ingest_manifest").orderBy("ingested_at").collect()]
    assert statuses == ["loaded", "appended"]
    assert_manifest_matches_tables(catalog)
    # and once more with nothing new: already on record
    assert ingest(spark, catalog, conf, tmp_path / "in")["files_skipped_known"] == 1
    assert catalog.read("log_lines").count() == 310


def test_a_changed_gzip_is_refused_not_loaded_twice(spark, catalog, conf, tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / f"{DEV}_20261120_00.log.gz"
    path.write_bytes(gzip.compress("".join(logcat(i) + "\n" for i in range(20)).encode(), mtime=0))
    ingest(spark, catalog, conf, tmp_path / "in")
    path.write_bytes(gzip.compress("".join(logcat(i) + "\n" for i in range(25)).encode(), mtime=0))
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["files_changed"] == 1 and counts.get("lines_read", 0) == 0
    assert catalog.read("log_lines").count() == 20
    changed = catalog.read("ingest_manifest").where("status = 'changed'").collect()
    assert len(changed) == 1 and "not loaded again" in changed[0].error
    assert any("not loaded again" in w for w in counts["warnings"])
    assert_manifest_matches_tables(catalog)


def test_a_touched_file_is_already_known_not_a_duplicate_of_itself(spark, catalog, conf, tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / f"{DEV}_20261120_00.log"
    path.write_text("".join(logcat(i) + "\n" for i in range(5)))
    ingest(spark, catalog, conf, tmp_path / "in")
    os.utime(path, (1_800_000_000, 1_800_000_000))
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["files_skipped_known"] == 1 and not counts.get("files_duplicate"), counts
    assert catalog.read("ingest_manifest").where("status = 'duplicate'").count() == 0
    assert catalog.read("log_lines").count() == 5
    # on record with its new mtime: the next run skips it without reading it
    assert ingest(spark, catalog, conf, tmp_path / "in")["files_skipped_known"] == 1


# -- issue 10 item 2: timestamps ----------------------------------------------------------------------------
@pytest.mark.parametrize("layout,line,file_name,expected", [
    # compact date-time (HealthApp)
    (r"<Time>\|<Component>\|<Pid>\|<Content>", "20171223-22:15:29:606|Step_LSC|30002312|onStandStepChanged 3579",
     "health.log", "2017-12-23 22:15:29.606000"),
    # month.day without a year (Proxifier): the year of the date in the file's path
    (r"\[<Time>\] <Program> - <Content>", "[10.30 16:49:06] chrome.exe - proxy.example.org:5070 open through proxy",
     "proxifier_2016-11-02.log", "2016-10-30 16:49:06"),
])
def test_detected_timestamp_forms(spark, catalog, conf, tmp_path, layout, line, file_name, expected):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / file_name).write_text(line + "\n")
    counts = ingest(spark, catalog, conf, tmp_path / "in", fmt=layout)
    assert counts["lines_loaded"] == 1 and not counts.get("lines_rescued"), counts
    assert str(catalog.read("log_lines").collect()[0].ts) == expected


def test_a_year_less_time_without_a_path_date_takes_the_files_modification_year(spark, catalog, conf, tmp_path):
    (tmp_path / "in").mkdir()
    path = tmp_path / "in" / "proxifier.log"
    path.write_text("[10.30 16:49:06] chrome.exe - open through proxy\n")
    os.utime(path, (1_500_000_000, 1_500_000_000))            # 2017-07-14
    ingest(spark, catalog, conf, tmp_path / "in", fmt=r"\[<Time>\] <Program> - <Content>")
    assert str(catalog.read("log_lines").collect()[0].ts) == "2017-10-30 16:49:06"


@pytest.mark.parametrize("where", ["argument", "conf"])
def test_a_named_timestamp_pattern(spark, catalog, conf, tmp_path, where):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "app.log").write_text("23/12/2017 22h15m29 INFO started\n")
    kw = {"timestamp_format": "dd/MM/yyyy HH'h'mm'm'ss"} if where == "argument" else {}
    if where == "conf":
        conf["ingest"]["timestamp_format"] = "dd/MM/yyyy HH'h'mm'm'ss"
    counts = ingest(spark, catalog, conf, tmp_path / "in", fmt="<Date> <Time> <Level> <Content>", **kw)
    assert counts["lines_loaded"] == 1, counts
    assert str(catalog.read("log_lines").collect()[0].ts) == "2017-12-23 22:15:29"


# -- issue 10 items 2 and 3: unreadable timestamps are kept; no silent empty run ---------------------------
def test_a_file_whose_every_timestamp_is_unreadable_is_kept_and_flagged(spark, catalog, conf, tmp_path):
    from logalyzer.templates.pipeline import run_templates

    (tmp_path / "in").mkdir()
    lines = [f"99-99 77:{i:02d}:00.000  1000  1000 I Tvinput : step {i}" for i in range(6)]
    (tmp_path / "in" / f"{DEV}_20261120_00.log").write_text("\n".join(lines) + "\n")
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["lines_rescued"] == 6 and counts["lines_loaded"] == 0, counts
    assert counts["status"] == "succeeded" and any("timestamp unreadable" in w for w in counts["warnings"])
    rows = catalog.read("log_lines").orderBy("line_no").collect()
    assert [r.rescued_data for r in rows] == lines and {r.ts for r in rows} == {None}
    assert {str(r.date) for r in rows} == {"2026-11-20"}                  # the file's date
    assert not catalog.exists("quarantine") or catalog.read("quarantine").count() == 0
    assert_manifest_matches_tables(catalog)
    # downstream copes with the null times: every kept line is templated
    assert run_templates(spark, catalog, conf, progress=quiet)["lines_templated"] == 6
    assert catalog.read("events").count() == 6

    (tmp_path / "in2").mkdir()
    (tmp_path / "in2" / "other.log").write_text("\n".join(line + " again" for line in lines) + "\n")
    assert ingest(spark, catalog, conf, tmp_path / "in2", strict=True)["status"] == "failed_strict"


def test_a_file_that_loads_no_line_is_said_in_words_and_fails_strict(spark, catalog, conf, tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "weird.log").write_text("no header here\nnor here\n")
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["status"] == "succeeded"
    assert any("weird.log: no line loaded (2 quarantined" in w for w in counts["warnings"]), counts["warnings"]
    (tmp_path / "in2").mkdir()
    (tmp_path / "in2" / "weird2.log").write_text("still no header\n")
    assert ingest(spark, catalog, conf, tmp_path / "in2", strict=True)["status"] == "failed_strict"


def test_templates_and_sessions_on_an_empty_input_table_have_nothing_to_do(spark, catalog, conf, tmp_path):
    from logalyzer.sessions.pipeline import run_sessions
    from logalyzer.templates.pipeline import run_templates

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "weird.log").write_text("no header here\n")
    ingest(spark, catalog, conf, tmp_path / "in")
    assert catalog.exists("log_lines")                       # written, with no rows
    said = []
    assert run_templates(spark, catalog, conf, progress=said.append)["lines_templated"] == 0
    assert run_sessions(spark, catalog, conf, progress=said.append)["sessions"] == 0
    assert [m for m in said if "nothing to do" in m] == said and len(said) == 2

    # an events table that exists with no rows
    empty = spark.createDataFrame([], "device_id string, ts timestamp, date date")
    catalog.append("events", empty)
    said.clear()
    assert run_sessions(spark, catalog, conf, progress=said.append)["sessions"] == 0
    assert said == ["sessions: events holds no rows; nothing to do"]


def test_cli_stages_after_an_empty_ingest_exit_0(spark, tmp_path, capsys):
    from logalyzer import cli

    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "weird.log").write_text("no header here\n")
    lake = str(tmp_path / "lake")
    assert cli.main(["ingest", str(tmp_path / "in"), "--lake", lake]) == 0
    assert "warning: " in capsys.readouterr().out
    assert cli.main(["ingest", str(tmp_path / "in"), "--lake", lake, "--strict"]) == 0   # nothing new
    assert cli.main(["templates", "--lake", lake]) == 0
    assert cli.main(["sessions", "--lake", lake]) == 0


# -- issue 11 item 4: two generated outputs into one lake ------------------------------------------------
def test_generated_outputs_hold_different_devices(spark, catalog, conf, tmp_path):
    from logalyzer import cli

    args = ["--devices", "2", "--lines-per-device-day", "200", "--no-bad-input", "--files-per-day", "1"]
    assert cli.main(["generate", "--out", str(tmp_path / "sample"), *args]) == 0
    assert cli.main(["generate", "--out", str(tmp_path / "fleet"), *args]) == 0
    assert cli.main(["generate", "--out", str(tmp_path / "fleet-again"), "--first-device", "1", *args]) == 0
    first = ingest(spark, catalog, conf, tmp_path / "sample")
    second = ingest(spark, catalog, conf, tmp_path / "fleet")
    assert not second.get("files_duplicate")
    devices = catalog.read("log_lines").groupBy("source_file").agg(F.first("device_id").alias("d")).collect()
    by_folder = {}
    for r in devices:
        by_folder.setdefault("fleet" if "/fleet/" in r.source_file else "sample", set()).add(r.d)
    assert len(by_folder["sample"]) == 2 and not by_folder["sample"] & by_folder["fleet"]
    total = catalog.read("log_lines").count()
    assert total == first["lines_loaded"] + second["lines_loaded"]
    # the same output path gives the same devices (and bytes): generation stays reproducible
    from logalyzer.generate import first_device_for
    assert first_device_for(str(tmp_path / "fleet")) == first_device_for(str(tmp_path / "fleet") + "/")
    assert {p.name for p in (tmp_path / "fleet-again").rglob("*.gz")} == {"R0000000001_20261120_00.log.gz",
                                                                         "R0000000002_20261120_00.log.gz"}


def test_include_braces_expand_for_the_listing_without_a_jvm():
    """The Spark Connect listing filters names in Python: the default `*.{log,gz}` must keep its meaning."""
    from logalyzer.jvm import expand_braces

    assert expand_braces("*.{log,gz}") == ["*.log", "*.gz"]
    assert expand_braces("a{b,c}.{1,2}") == ["ab.1", "ab.2", "ac.1", "ac.2"]
    assert expand_braces("*.gz") == ["*.gz"]
