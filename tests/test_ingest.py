"""Ingest on real files with a real local Spark: parsing, idempotent loads, bad input, quarantine."""
import gzip
import json
import shutil

import pytest
from pyspark.sql import functions as F

from logalyzer.ingest import run_ingest
from logalyzer.ingest.files import InputNotFoundError

DEV = "R0000000042"
LOGCAT = [
    "11-20 23:59:58.100  1234  1250 I ActivityManager: Start proc 4321:com.android.tv/u0a57",
    "11-20 23:59:59.900  1234  1250 I VAR     : [PLAYER] changeContent() CHANGE_CONTENT "
    '{"channel":"HBO HD","content_id":"c-1","uri":"dvb://318.1.5"}',
    "11-21 00:00:01.002  1234  1251 W VAR     : [VIDEO] onRenderStateChanged() VideoFreeze {\"duration_ms\":1520}",
    "11-21 00:00:02.500   987   990 E AndroidRuntime: FATAL EXCEPTION: main",
]


def write_gz(path, lines, raw_tail=b""):
    path.parent.mkdir(parents=True, exist_ok=True)
    data = ("\n".join(lines) + "\n").encode() + raw_tail
    with gzip.GzipFile(path, "wb", mtime=0) as fh:
        fh.write(data)
    return path


def quiet(*_):
    pass


def ingest(spark, catalog, conf, path, **kw):
    return run_ingest(spark, catalog, conf, str(path), progress=quiet, **kw)


def test_logcat_and_var_fields(spark, catalog, conf, tmp_path):
    write_gz(tmp_path / "in" / "2026-11-20" / f"{DEV}_20261120_00.log.gz", LOGCAT)
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["lines_loaded"] == 4 and counts["files_new"] == 1
    rows = {r.line_no: r for r in catalog.read("log_lines").collect()}
    assert sorted(rows) == [1, 2, 3, 4]
    first, var, freeze, crash = rows[1], rows[2], rows[3], rows[4]
    assert first.device_id == DEV and first.pid == 1234 and first.tid == 1250
    assert first.level == "INFO" and first.tag == "ActivityManager"
    assert str(first.ts) == "2026-11-20 23:59:58.100000" and str(first.date) == "2026-11-20"
    assert str(freeze.date) == "2026-11-21"  # partition follows the event time, not the file
    assert var.var_category == "PLAYER" and var.var_function == "changeContent"
    assert var.var_event_type == "CHANGE_CONTENT" and json.loads(var.var_data)["channel"] == "HBO HD"
    assert freeze.var_event_type == "VideoFreeze" and freeze.level == "WARN"
    assert crash.var_event_type is None and crash.level == "ERROR" and crash.message == "FATAL EXCEPTION: main"
    assert len({r.line_hash for r in rows.values()}) == 4


def test_rerun_and_renamed_copy_add_nothing_new_file_appends(spark, catalog, conf, tmp_path):
    src = write_gz(tmp_path / "in" / f"{DEV}_20261120_00.log.gz", LOGCAT)
    ingest(spark, catalog, conf, tmp_path / "in")
    assert catalog.read("log_lines").count() == 4
    again = ingest(spark, catalog, conf, tmp_path / "in")
    assert again["files_skipped_known"] == 1 and catalog.read("log_lines").count() == 4
    shutil.copy(src, tmp_path / "in" / f"{DEV}_20261120_00-redelivered.log.gz")
    dup = ingest(spark, catalog, conf, tmp_path / "in")
    assert dup["files_duplicate"] == 1 and catalog.read("log_lines").count() == 4
    write_gz(tmp_path / "in" / f"{DEV}_20261121_00.log.gz", [LOGCAT[0].replace("11-20", "11-21")])
    new = ingest(spark, catalog, conf, tmp_path / "in")
    assert new["files_new"] == 1 and catalog.read("log_lines").count() == 5
    manifest = {r.path.rsplit("/", 1)[1]: r for r in catalog.read("ingest_manifest").collect()}
    assert manifest[f"{DEV}_20261120_00-redelivered.log.gz"].status == "duplicate"
    assert manifest[f"{DEV}_20261120_00-redelivered.log.gz"].duplicate_of.endswith(f"{DEV}_20261120_00.log.gz")
    assert catalog.read("ingest_manifest").count() == 3  # one row per file version, none for skipped files
    assert catalog.read("run_log").where("stage = 'ingest' AND status = 'succeeded'").count() == 4
    assert catalog.read("run_log").where("stage = 'ingest'").count() == 4     # one row per run


class ManifestWriteFails(Exception):
    pass


def test_a_load_that_died_before_its_manifest_is_rolled_back_not_doubled(spark, catalog, conf, tmp_path):
    """Bronze written, manifest not (a full disk): the run removes its own rows; the next one loads again."""
    from logalyzer.catalog import Catalog

    class FailingManifest(Catalog):
        def append(self, name, df):
            if name == "ingest_manifest":
                raise ManifestWriteFails("disk full")
            super().append(name, df)

    other = write_gz(tmp_path / "a" / f"{DEV}_20261120_00.log.gz", LOGCAT)      # same dates as the failing file
    ingest(spark, catalog, conf, other)
    bad = LOGCAT + ["garbage line"]
    failing = write_gz(tmp_path / "b" / "R0000000007_20261120_00.log.gz", bad)
    with pytest.raises(ManifestWriteFails):
        ingest(spark, FailingManifest(spark, conf), conf, failing)
    assert catalog.read("log_lines").count() == 4 and not catalog.exists("quarantine")   # undone by the run

    again = ingest(spark, catalog, conf, failing)
    assert again["files_new"] == 1 and again["lines_loaded"] == 4
    lines = catalog.read("log_lines")
    assert lines.count() == 8                                            # not 12
    assert lines.where(F.col("device_id") == DEV).count() == 4           # the other run's rows kept
    assert catalog.read("quarantine").count() == 1
    statuses = {r.status for r in catalog.read("run_log").where("stage = 'ingest'").collect()}
    assert {"succeeded", "failed"} == statuses
    assert ingest(spark, catalog, conf, failing)["files_skipped_known"] == 1
    assert catalog.read("log_lines").count() == 8


def test_corrupt_truncated_and_empty_files_are_recorded_and_batch_goes_on(spark, catalog, conf, tmp_path):
    good = write_gz(tmp_path / "in" / f"{DEV}_20261120_00.log.gz", LOGCAT)
    full = good.read_bytes()
    write_gz(tmp_path / "in" / "big.log.gz", LOGCAT * 200)
    big = (tmp_path / "in" / "big.log.gz").read_bytes()
    (tmp_path / "in" / "truncated.log.gz").write_bytes(big[: len(big) // 2])
    (tmp_path / "in" / "garbage.log.gz").write_bytes(full[:10] + b"\x00not deflate data at all" * 5)
    (tmp_path / "in" / "empty.log").write_bytes(b"")
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["status"] == "succeeded"
    assert counts["files_corrupt"] == 2 and counts["files_empty"] == 1 and counts["files_new"] == 2
    assert catalog.read("log_lines").count() == 4 + 800
    manifest = {r.path.rsplit("/", 1)[1]: r for r in catalog.read("ingest_manifest").collect()}
    assert manifest["truncated.log.gz"].status == "corrupt" and "truncated" in manifest["truncated.log.gz"].error
    assert manifest["garbage.log.gz"].status == "corrupt" and "corrupt gzip" in manifest["garbage.log.gz"].error
    assert manifest["empty.log"].status == "empty"
    # the same corrupt file is not re-examined on the next run; --strict turns corruption into failure
    (tmp_path / "in2").mkdir()
    (tmp_path / "in2" / "truncated2.log.gz").write_bytes(big[: len(big) // 3])
    strict = ingest(spark, catalog, conf, tmp_path / "in2", strict=True)
    assert strict["status"] == "failed_strict"


def test_bad_lines_go_to_quarantine_with_bytes_preserved(spark, catalog, conf, tmp_path):
    conf["ingest"]["max_line_length"] = 200
    bad_utf8 = b"11-20 10:00:00.000  1234  1250 I Tvinput : caf\xe9 \xff\xfe channel\n"
    lines = [LOGCAT[0], "##### garbage with no header", "99-99 99:99:99.999  1234  1250 I Tag: bad time",
             "11-20 10:00:01.000  1234  1250 I Tag: " + "x" * 300, "", LOGCAT[3]]
    write_gz(tmp_path / "in" / f"{DEV}_20261120_00.log.gz", lines, raw_tail=bad_utf8)
    counts = ingest(spark, catalog, conf, tmp_path / "in")
    assert counts["lines_read"] == 7 and counts["lines_loaded"] == 2 and counts["lines_blank"] == 1
    assert counts["lines_no_format_match"] == 1 and counts["lines_rescued"] == 1
    assert counts["lines_too_long"] == 1 and counts["lines_invalid_utf8"] == 1
    q = {r.reason: r for r in catalog.read("quarantine").collect()}
    assert set(q) == {"no_format_match", "too_long", "invalid_utf8"}   # an unreadable time is kept, not quarantined
    rescued = catalog.read("log_lines").where("rescued_data IS NOT NULL").collect()
    assert [(r.line_no, r.ts, r.rescued_data) for r in rescued] == [(3, None, lines[2])]
    assert bytes(q["invalid_utf8"].raw) == bad_utf8.rstrip(b"\n")
    assert q["invalid_utf8"].line_no == 7 and q["no_format_match"].line_no == 2
    assert q["too_long"].raw_text.endswith("x" * 300) and q["too_long"].device_id == DEV
    m = catalog.read("ingest_manifest").collect()[0]
    assert (m.lines, m.loaded, m.quarantined, m.blank) == (7, 3, 3, 1)


@pytest.mark.parametrize("layout,line,expected", [
    ("iso", "2026-11-20T14:03:12.345Z ERROR net: down", "2026-11-20 14:03:12.345000"),
    ("iso", "2026-11-20T14:03:12+01:00 INFO net: up", "2026-11-20 13:03:12"),
    ("log4j", "2026-11-20 14:03:12,345 WARN [main] org.x.Y: slow", "2026-11-20 14:03:12.345000"),
    ("<Timestamp> <Level> <Content>", "1763647392 INFO epoch seconds", "2025-11-20 14:03:12"),
    ("<Timestamp> <Level> <Content>", "1763647392123 INFO epoch millis", "2025-11-20 14:03:12.123000"),
    ("syslog", "Jun 14 15:16:01 combo sshd[19939]: check pass", "2026-06-14 15:16:01"),
])
def test_timestamp_formats(spark, catalog, conf, tmp_path, layout, line, expected):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "host_2026-11-20.log").write_text(line + "\n")
    counts = ingest(spark, catalog, conf, tmp_path / "in", fmt=layout)
    assert counts["lines_loaded"] == 1, counts
    assert str(catalog.read("log_lines").collect()[0].ts) == expected


def test_logcat_year_rolls_back_at_new_year(spark, catalog, conf, tmp_path):
    write_gz(tmp_path / "in" / f"{DEV}_20270101_00.log.gz",
             ["12-31 23:59:59.000  1  1 I Tag: old year", "01-01 00:00:01.000  1  1 I Tag: new year"])
    ingest(spark, catalog, conf, tmp_path / "in")
    got = sorted(str(r.ts) for r in catalog.read("log_lines").collect())
    assert got == ["2026-12-31 23:59:59", "2027-01-01 00:00:01"]


def test_missing_input_is_a_clear_error(spark, catalog, conf, tmp_path):
    with pytest.raises(InputNotFoundError, match="input path not found"):
        ingest(spark, catalog, conf, tmp_path / "nope")


def test_loghub_layouts_ingest_without_quarantine(spark, catalog, conf, loghub_dir):
    formats = json.loads((loghub_dir / "formats.json").read_text())
    for name, layout in formats.items():
        if name.startswith("_"):
            continue
        counts = ingest(spark, catalog, conf, loghub_dir / name / f"{name}_2k.log", fmt=layout)
        assert counts["lines_read"] == 2000, name
        assert counts["lines_loaded"] == 2000, (name, counts)
    assert catalog.read("log_lines").where(F.col("ts").isNull()).count() == 0


def test_layout_keeps_its_preset_name_and_typed_fields():
    from logalyzer.ingest.layouts import compile_layout

    layout = compile_layout(r"<Date:\S+> <Pid:\d+> <Content>", name="logcat")
    assert layout.name == "logcat" and layout.fields == ("Date", "Pid", "Content")
    assert layout.regex == r"^(\S+)\s+(\d+)\s+(.*)$"


def test_filter_on_outcome_is_not_pushed_into_the_parse(spark, conf, tmp_path):
    """Pushed down, the filter would inline the whole parse into its condition (parse twice, no codegen)."""
    from logalyzer.ingest.parse import one_partition_per_file
    from logalyzer.ingest.pipeline import not_pushed_down, parse_files

    path = write_gz(tmp_path / f"{DEV}_20261120_00.log.gz", LOGCAT)
    files = [{"path": path.as_uri(), "content_hash": "h"}]

    def filter_conditions(df):
        plan = df._jdf.queryExecution().optimizedPlan().toString()
        # a pushed filter can also land in the file-facts join's condition
        return [ln for ln in plan.splitlines() if "Filter" in ln or "Join" in ln]

    with one_partition_per_file(spark):
        parsed = parse_files(spark, files, conf["ingest"], None, "run-1")
        pushed = filter_conditions(parsed.where(F.col("outcome") == "loaded"))
        kept = not_pushed_down(parsed, "test").where(F.col("outcome") == "loaded")
        assert any("regexp_replace" in ln for ln in pushed)   # what Spark does without the barrier
        assert not any("regexp_replace" in ln for ln in filter_conditions(kept))
        assert kept.count() == 4


def test_message_is_the_untouched_rest_of_the_line(spark, conf):
    """Only the header is rewritten: the message keeps colons, tabs, U+2028 and trailing spaces."""
    import datetime as dt

    from logalyzer.ingest.parse import parse_lines

    head = "11-20 10:00:00.000  1234  1250 I Tag: "
    messages = ["a: b: c", "tab\there", "line\u2028sep", "trailing  ", "", "VAR-like [X] f() E data"]
    rows = [(head + m, "f", i + 1, None, "h", DEV, dt.date(2026, 11, 20)) for i, m in enumerate(messages)]
    rows.append(("11-20 10:00:00.000  1234  1250 I Tag: unit\u001fsep", "f", 99, None, "h", DEV, dt.date(2026, 11, 20)))
    lines = spark.createDataFrame(rows, "value string, source_file string, line_no long, file_modified timestamp, "
                                        "source_hash string, device_id string, file_date date")
    got = {r.line_no: r for r in parse_lines(lines, conf["ingest"]).collect()}
    assert [got[i + 1].message for i in range(len(messages))] == messages
    assert {got[i + 1].outcome for i in range(len(messages))} == {"loaded"}
    assert got[1].tag == "Tag" and got[1].pid == 1234 and got[1].level == "INFO"
    # the field separator itself cannot be parsed around: quarantined, bytes kept (as before)
    assert got[99].outcome == "no_format_match"
