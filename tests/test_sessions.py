"""Sessions stage: playback sessions, generic sequences, time series, incremental runs (hand-made events)."""
from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest

from logalyzer.sessions import (SessionsConfig, device_timeseries, fixed_window_sessions, id_sessions,
                                playback_sessions, sliding_window_sessions)
from logalyzer.sessions.config import parse_seconds

EVENTS_SCHEMA = (
    "device_id string, ts timestamp, date date, level string, pid int, tid int, tag string, message string, "
    "var_category string, var_function string, var_event_type string, var_data string, "
    "fields map<string,string>, format string, source_file string, source_hash string, line_no long, "
    "line_hash string, run_id string, template_id string, template string, params array<string>")

CATEGORY = {"CHANGE_CONTENT": "PLAYER", "PLAYBACK_START": "PLAYER", "PLAYBACK_STOP": "PLAYER",
            "BlackScreen": "VIDEO", "VideoFreeze": "VIDEO", "VideoResume": "VIDEO", "DisplayDrop": "DISPLAY",
            "HDMI_CONNECT": "HDMI", "HDMI_DISCONNECT": "HDMI", "HDMI_HOTPLUG": "HDMI", "PAUSE": "TRICK",
            "RESUME": "TRICK", "FAST_FORWARD": "TRICK", "REWIND": "TRICK", "SEEK": "TRICK",
            "STANDBY_ENTER": "POWER", "STANDBY_EXIT": "POWER", "BOOT_COMPLETED": "POWER"}
DEV = "R0000000001"


class Log:
    """Builds rows; line numbers count up per file unless given. ``add(ts, "text")`` adds a plain line,
    ``add(ts, "BlackScreen", {...})`` a VAR line."""

    def __init__(self, device: str | None = DEV, file: str = "/logs/R0000000001/a.log"):
        self.device, self.file, self.rows, self._line = device, file, [], {}

    def add(self, ts: str, evt: str | None = None, data: dict | None = None, *, level: str = "INFO",
            tag: str | None = None, msg: str | None = None, file: str | None = None, line_no: int | None = None,
            line_hash: str | None = None, template_id: str | None = None, device: str | None = "same"):
        if evt is not None and evt not in CATEGORY:  # a plain (non-VAR) line: the text is its message
            evt, msg = None, msg if msg is not None else evt
        file = file or self.file
        device = self.device if device == "same" else device
        n = line_no if line_no is not None else self._line.get(file, 0) + 1
        self._line[file] = max(self._line.get(file, 0), n)
        when = dt.datetime.fromisoformat(ts)
        if evt:
            tag = "VAR"
            text = json.dumps(data or {})
            msg = f"[{CATEGORY.get(evt, 'X')}] fn() {evt} {text}"
        tag = tag or "App"
        msg = msg if msg is not None else f"{tag} says something"
        raw = f"{ts} {level} {tag}: {msg}"
        self.rows.append((
            device, when, when.date(), level, 100, 101, tag, msg,
            CATEGORY.get(evt) if evt else None, "fn" if evt else None, evt, json.dumps(data or {}) if evt else None,
            {}, "logcat_threadtime", file, "sha-" + file, n,
            line_hash or hashlib.md5(raw.encode()).hexdigest(), "run-1",
            template_id or ("T_" + (evt or tag)), msg, []))
        return self

    def df(self, spark, *others: "Log", partitions: int | None = None):
        rows = list(self.rows)
        for o in others:
            rows += o.rows
        out = spark.createDataFrame(rows, EVENTS_SCHEMA)
        return out.repartition(partitions) if partitions else out




def dev(n: int) -> str:
    return f"R{n:010d}"


def expected_session_id(device_key: str, row) -> str:
    """The documented id: sha256("device_key|start ts (microseconds)|start line_hash"), 32 hex chars."""
    return hashlib.sha256(f"{device_key}|{row[1]:%Y-%m-%d %H:%M:%S.%f}|{row[17]}".encode()).hexdigest()[:32]


def scenarios() -> dict[str, Log]:
    """One device per scenario, so a single Spark job serves most tests."""
    out = {}
    # content change, reboot, idle gap > timeout, gap == timeout
    out["boundaries"] = (Log(dev(1), "/logs/1/a.log")
        .add("2026-11-20 10:00:00", "CHANGE_CONTENT", {"channel": "5", "content_id": "c1", "uri": "dvb://5"})
        .add("2026-11-20 10:05:00", "BlackScreen", {"duration_ms": 1500})
        .add("2026-11-20 10:06:00", "BlackScreen", {"duration_ms": 500})
        .add("2026-11-20 10:07:00", "VideoFreeze", {"duration_ms": 2000})
        .add("2026-11-20 10:08:00", "DisplayDrop", {"duration_ms": 100})
        .add("2026-11-20 10:10:00", "CHANGE_CONTENT", {"channel": "7", "content_id": "c2", "uri": "dvb://7"})
        .add("2026-11-20 10:11:00", "HDMI_HOTPLUG", {"state": 1})
        .add("2026-11-20 10:12:00", "PAUSE").add("2026-11-20 10:12:30", "RESUME")
        .add("2026-11-20 10:13:00", "SEEK", {"position_ms": 5}).add("2026-11-20 10:14:00", "FAST_FORWARD", {"speed": 4})
        .add("2026-11-20 10:20:00", "BOOT_COMPLETED", {"boot_reason": "cold"})
        .add("2026-11-20 10:21:00", "HDMI_CONNECT")
        .add("2026-11-20 11:00:00", "app line")           # 39 min after the previous line: new session
        .add("2026-11-20 11:30:00", "app line"))          # exactly the 30 min timeout: same session
    out["standby"] = (Log(dev(2), "/logs/2/a.log")
        .add("2026-11-20 20:00:00", "CHANGE_CONTENT", {"channel": "1", "content_id": "news"})
        .add("2026-11-20 20:10:00", "STANDBY_ENTER")
        .add("2026-11-20 20:15:00", "ambient line")
        .add("2026-11-20 20:20:00", "STANDBY_EXIT")
        .add("2026-11-20 20:21:00", "VideoFreeze", {"duration_ms": 300}))
    midnight = Log(dev(3), "/logs/3/day1.log")
    midnight.add("2026-11-20 23:50:00", "CHANGE_CONTENT", {"channel": "9", "content_id": "film"})
    midnight.add("2026-11-20 23:59:30", "BlackScreen", {"duration_ms": 40})
    midnight.add("2026-11-21 00:00:10", "app line", file="/logs/3/day2.log")   # next file, no CHANGE_CONTENT
    midnight.add("2026-11-21 00:10:00", "BlackScreen", {"duration_ms": 60}, file="/logs/3/day2.log")
    out["midnight"] = midnight
    out["no_content_first"] = (Log(dev(4), "/logs/4/a.log")
        .add("2026-11-20 08:00:00", "boot noise").add("2026-11-20 08:00:05", "PLAYBACK_START")
        .add("2026-11-20 08:01:00", "CHANGE_CONTENT", {"channel": "3", "content_id": "x"}))
    ordered = (Log(dev(5), "/logs/5/a.log")
        .add("2026-11-20 10:00:00", "CHANGE_CONTENT", {"content_id": "a"})
        .add("2026-11-20 10:05:00", "PAUSE")
        .add("2026-11-20 10:10:00", "CHANGE_CONTENT", {"content_id": "b"})
        .add("2026-11-20 10:15:00", "REWIND", {"speed": 2}))
    shuffled = Log(dev(5), "/logs/5/a.log")   # the same raw lines, written out of time order in the file
    for row_index, line_no in ((3, 1), (0, 2), (2, 3), (1, 4)):
        shuffled.rows.append(ordered.rows[row_index][:16] + (line_no,) + ordered.rows[row_index][17:])
    out["out_of_order"] = shuffled
    dup = (Log(dev(6), "/logs/6/part1.log")
        .add("2026-11-20 10:00:00", "CHANGE_CONTENT", {"content_id": "a"})
        .add("2026-11-20 10:01:00", "BlackScreen", {"duration_ms": 700})
        .add("2026-11-20 10:02:00", "error line", level="ERROR", tag="Decoder"))
    for row in dup.rows[1:]:   # an overlapping upload repeats two lines (same bytes, same line_hash)
        dup.rows.append(row[:14] + ("/logs/6/part2.log", row[15], row[16] + 100) + row[17:])
    out["duplicates"] = dup
    out["single"] = Log(dev(7), "/logs/7/a.log").add("2026-11-20 12:00:00", "lonely")
    out["anonymous"] = Log(None, "/loghub/Android.log").add("2026-11-20 12:00:00", "x").add("2026-11-20 12:00:01", "y")
    out["errors"] = (Log(dev(8), "/logs/8/a.log")
        .add("2026-11-20 10:00:00", "CHANGE_CONTENT", {"content_id": "a", "channel": "1"})
        .add("2026-11-20 10:00:01", level="ERROR", tag="Decoder", msg="decode failed", template_id="T1")
        .add("2026-11-20 10:00:02", level="ERROR", tag="Decoder", msg="decode failed", template_id="T1")
        .add("2026-11-20 10:00:03", level="WARN", tag="Net", msg="slow", template_id="T2")
        .add("2026-11-20 10:00:04", level="ERROR", tag="AndroidRuntime", msg="FATAL EXCEPTION: main", template_id="T3")
        .add("2026-11-20 10:00:05", level="FATAL", tag="Decoder", msg="abort", template_id="T4"))
    return out


@pytest.fixture(scope="module")
def fleet(spark):
    logs = scenarios()
    everything = Log(None)
    for log in logs.values():
        everything.rows += log.rows
    df = everything.df(spark, partitions=3)   # rows scattered over partitions: input order means nothing
    return logs, df


@pytest.fixture(scope="module")
def sessions(fleet, base_conf):
    logs, df = fleet
    by_device: dict[str, list[dict]] = {}
    for r in playback_sessions(df, base_conf).collect():
        by_device.setdefault(r["device_key"], []).append(r.asDict())
    for rows in by_device.values():
        rows.sort(key=lambda r: r["start_ts"])
    return by_device


def test_boundaries_content_boot_and_idle_gap(sessions):
    rows = sessions[dev(1)]
    assert [r["start_reason"] for r in rows] == ["CHANGE_CONTENT", "CHANGE_CONTENT", "BOOT_COMPLETED", "IDLE"]
    s1, s2, s3, s4 = rows
    assert (s1["content_id"], s1["channel"], s1["uri"]) == ("c1", "5", "dvb://5")
    assert (s2["content_id"], s2["channel"]) == ("c2", "7")
    assert s3["content_id"] is None and s4["content_id"] is None
    assert (s1["black_screens"], s1["black_screens_ms"], s1["video_freezes"], s1["video_freezes_ms"]) == (2, 2000, 1, 2000)
    assert (s1["display_drops"], s1["display_drops_ms"], s1["n_lines"], s1["duration_s"]) == (1, 100, 5, 480.0)
    assert (s2["hdmi_hotplugs"], s2["pauses"], s2["resumes"], s2["seeks"], s2["fast_forwards"], s2["trick_events"]) \
        == (1, 1, 1, 1, 1, 4)
    assert (s3["boots"], s3["hdmi_connects"], s3["hdmi_events"], s3["n_lines"]) == (1, 1, 1, 2)
    assert (s4["n_lines"], s4["duration_s"], s4["n_var_events"]) == (2, 1800.0, 0)
    assert len({r["session_id"] for r in rows}) == 4


def test_standby_in_the_middle(sessions):
    s1, standby, s2 = sessions[dev(2)]
    assert (s1["standby_enters"], s1["standby_exits"], s1["n_lines"], s1["content_id"]) == (1, 0, 2, "news")
    assert s1["end_ts"].isoformat() == "2026-11-20T20:10:00"   # time in standby does not stretch it
    assert (standby["start_reason"], standby["n_lines"], standby["content_id"]) == ("AFTER_STANDBY_ENTER", 1, None)
    assert (s2["start_reason"], s2["standby_exits"], s2["video_freezes"], s2["content_id"]) == ("STANDBY_EXIT", 1, 1, None)
    assert s2["start_ts"].isoformat() == "2026-11-20T20:20:00"


def test_session_across_midnight_and_two_files(sessions):
    (s,) = sessions[dev(3)]
    assert (str(s["date"]), s["content_id"], s["n_lines"], s["n_files"]) == ("2026-11-20", "film", 4, 2)
    assert s["source_files"] == ["/logs/3/day1.log", "/logs/3/day2.log"]
    assert (s["black_screens"], s["black_screens_ms"], s["duration_s"]) == (2, 100, 1200.0)


def test_no_change_content_at_the_start_of_a_file(sessions):
    s1, s2 = sessions[dev(4)]
    assert (s1["start_reason"], s1["content_id"], s1["n_lines"], s1["playback_starts"]) == ("IDLE", None, 2, 1)
    assert (s2["start_reason"], s2["content_id"], s2["content_changes"]) == ("CHANGE_CONTENT", "x", 1)


def test_out_of_order_lines_are_ordered_by_time_and_ids_are_stable(fleet, sessions):
    logs, _ = fleet
    rows = sessions[dev(5)]
    assert [(r["content_id"], r["pauses"], r["rewinds"], r["n_lines"]) for r in rows] == [("a", 1, 0, 2), ("b", 0, 1, 2)]
    starts = sorted((r for r in logs["out_of_order"].rows if r[10] == "CHANGE_CONTENT"), key=lambda r: r[1])
    # the id depends only on the session's first line, never on file order, partitioning or run
    assert [r["session_id"] for r in rows] == [expected_session_id(dev(5), row) for row in starts]


def test_duplicate_lines_count_once(sessions):
    (s,) = sessions[dev(6)]
    assert (s["n_lines"], s["black_screens"], s["black_screens_ms"], s["error_lines"]) == (3, 1, 700, 1)
    assert s["errors_by_tag"] == {"Decoder": 1} and s["source_files"] == ["/logs/6/part1.log"]


def test_device_with_a_single_line_and_lines_without_device(sessions):
    (one,) = sessions[dev(7)]
    assert (one["device_id"], one["n_lines"], one["duration_s"], one["start_reason"], str(one["date"])) == (
        dev(7), 1, 0.0, "IDLE", "2026-11-20")
    (anon,) = sessions["file:/loghub/Android.log"]   # no device id: grouped per source file
    assert (anon["device_id"], anon["n_lines"], anon["duration_s"]) == (None, 2, 1.0)


def test_errors_levels_templates_crashes_and_json_summary(sessions):
    (s,) = sessions[dev(8)]
    assert s["errors_by_tag"] == {"AndroidRuntime": 1, "Decoder": 3}
    assert s["level_counts"] == {"ERROR": 3, "FATAL": 1, "INFO": 1, "WARN": 1}
    assert (s["error_lines"], s["crashes"], s["distinct_templates"]) == (4, 1, 5)
    summary = json.loads(s["summary"])
    assert summary["session_id"] == s["session_id"] and summary["errors_by_tag"] == {"AndroidRuntime": 1, "Decoder": 3}
    assert summary["content_id"] == "a" and summary["crashes"] == 1 and summary["start_ts"].startswith("2026-11-20T10:00:00")


def test_counters_and_idle_timeout_come_from_conf(spark, base_conf):
    cfg = {"sessions": dict(base_conf["sessions"], idle_timeout_s=60,
                            counters={"glitches": {"events": ["BlackScreen", "VideoFreeze"], "duration_field": "duration_ms"}})}
    log = (Log().add("2026-11-20 10:00:00", "BlackScreen", {"duration_ms": 5})
           .add("2026-11-20 10:00:30", "VideoFreeze", {"duration_ms": 7})
           .add("2026-11-20 10:02:00", "VideoFreeze", {"duration_ms": 1}))
    rows = sorted(playback_sessions(log.df(spark), cfg).collect(), key=lambda r: r["start_ts"])
    assert [(r["glitches"], r["glitches_ms"], r["start_reason"]) for r in rows] == [(2, 12, "IDLE"), (1, 1, "IDLE")]
    assert "black_screens" not in rows[0].asDict()


def test_id_sessions_order_and_count_vector(spark, base_conf):
    hdfs = Log(device=None, file="/loghub/HDFS.log")
    hdfs.add("2026-11-20 10:00:02", msg="Receiving block blk_-42 src", template_id="E5")
    hdfs.add("2026-11-20 10:00:01", msg="Allocate blk_-42 for file", template_id="E22")
    hdfs.add("2026-11-20 10:00:02", msg="Receiving block blk_7 src", template_id="E5")
    hdfs.add("2026-11-20 10:00:02", msg="Received block blk_-42 of size 5", template_id="E9")
    hdfs.add("2026-11-20 10:00:03", msg="no block here", template_id="E1")
    node2 = Log(device=None, file="/loghub/HDFS_node2.log")
    node2.add("2026-11-20 10:00:05", msg="Deleting blk_-42", template_id="E11")
    rows = {r["key"]: r for r in id_sessions(hdfs.df(spark, node2), base_conf).collect()}
    assert set(rows) == {"blk_-42", "blk_7"}
    assert rows["blk_-42"]["template_seq"] == ["E22", "E5", "E9", "E11"]   # by ts, then file and line
    assert rows["blk_-42"]["template_counts"] == {"E22": 1, "E5": 1, "E9": 1, "E11": 1}
    assert (rows["blk_7"]["template_seq"], rows["blk_7"]["n_lines"], rows["blk_7"]["kind"]) == (["E5"], 1, "id")


def test_a_line_naming_several_identifiers_belongs_to_each(spark, base_conf):
    hdfs = Log(device=None, file="/loghub/HDFS.log")
    hdfs.add("2026-11-20 10:00:01", msg="Allocate blk_1 for file", template_id="E1")
    hdfs.add("2026-11-20 10:00:02", msg="ask to delete blk_1 blk_2 blk_1", template_id="E2")
    hdfs.add("2026-11-20 10:00:03", msg="Deleted blk_2", template_id="E3")
    rows = {r["key"]: r for r in id_sessions(hdfs.df(spark), base_conf).collect()}
    assert rows["blk_1"]["template_seq"] == ["E1", "E2"]      # named twice in one line: counted once
    assert rows["blk_2"]["template_seq"] == ["E2", "E3"]


def test_sequences_carry_the_session_counters(spark, base_conf):
    log = (Log().add("2026-11-20 10:01:00", "VideoFreeze", {"duration_ms": 700})
           .add("2026-11-20 10:02:00", "VideoFreeze", {"duration_ms": 300})
           .add("2026-11-20 10:03:00", "decode failed", level="ERROR", tag="Decoder"))
    (row,) = fixed_window_sessions(log.df(spark), base_conf).collect()
    assert (row["video_freezes"], row["video_freezes_ms"], row["error_lines"], row["n_var_events"]) == (2, 1000, 1, 2)
    assert row["event_counts"] == {"VideoFreeze": 2} and row["errors_by_tag"] == {"Decoder": 1}


def test_playback_sessions_keep_the_ordered_template_sequence(sessions):
    first = sessions[dev(5)][0]       # lines written out of time order in the file: sorted by ts
    assert first["template_seq"] == ["T_CHANGE_CONTENT", "T_PAUSE"]
    assert first["template_counts"] == {"T_CHANGE_CONTENT": 1, "T_PAUSE": 1}
    dup = sessions[dev(6)][0]          # a duplicated line is in the sequence once; only VAR lines by default
    assert dup["template_seq"] == ["T_CHANGE_CONTENT", "T_BlackScreen"]
    assert dup["template_counts"] == {"T_CHANGE_CONTENT": 1, "T_BlackScreen": 1, "T_Decoder": 1}
    assert "template_seq" not in json.loads(dup["summary"])


def test_which_lines_make_the_session_sequence_comes_from_conf(spark, base_conf):
    log = (Log().add("2026-11-20 10:00:00", "CHANGE_CONTENT", {"content_id": "a"})
           .add("2026-11-20 10:00:01", "decode failed", level="ERROR", tag="Decoder")
           .add("2026-11-20 10:00:02", "chatter", tag="Net"))
    for lines, expected in (("all", ["T_CHANGE_CONTENT", "T_Decoder", "T_Net"]),
                            ("var_event_type IS NOT NULL OR level = 'ERROR'", ["T_CHANGE_CONTENT", "T_Decoder"])):
        cfg = {"sessions": dict(base_conf["sessions"], sequence_lines=lines)}
        (row,) = playback_sessions(log.df(spark), cfg).collect()
        assert row["template_seq"] == expected


def test_fixed_and_sliding_windows_per_device_or_source(spark, base_conf):
    log = (Log().add("2026-11-20 10:07:00", "a", template_id="A").add("2026-11-20 10:03:00", "b", template_id="B")
           .add("2026-11-20 10:07:00", "a again", template_id="A").add("2026-11-20 11:01:00", "c", template_id="C"))
    anon = Log(device=None, file="/loghub/x.log").add("2026-11-20 10:00:00", "z", template_id="Z")
    fixed = {(r["key"], r["window_start"].isoformat()): r
             for r in fixed_window_sessions(log.df(spark, anon), base_conf).collect()}   # 1 hour
    assert set(fixed) == {(DEV, "2026-11-20T10:00:00"), (DEV, "2026-11-20T11:00:00"),
                          ("file:/loghub/x.log", "2026-11-20T10:00:00")}
    first = fixed[(DEV, "2026-11-20T10:00:00")]
    assert first["template_seq"] == ["B", "A", "A"] and first["template_counts"] == {"A": 2, "B": 1}
    assert (first["window_end"].isoformat(), first["kind"], first["device_id"]) == ("2026-11-20T11:00:00", "fixed", DEV)
    sliding = {r["window_start"].isoformat(): r["template_seq"]
               for r in sliding_window_sessions(log.df(spark), base_conf).collect()}   # 10 min every 5 min
    assert sliding == {"2026-11-20T09:55:00": ["B"], "2026-11-20T10:00:00": ["B", "A", "A"],
                       "2026-11-20T10:05:00": ["A", "A"], "2026-11-20T10:55:00": ["C"], "2026-11-20T11:00:00": ["C"]}


def test_device_timeseries_buckets(spark, base_conf):
    log = (Log().add("2026-11-20 10:00:10", "CHANGE_CONTENT", {"content_id": "a"})
           .add("2026-11-20 10:04:59", "BlackScreen", {"duration_ms": 9})
           .add("2026-11-20 10:05:00", "e", level="ERROR").add("2026-11-20 10:06:00", "e2", level="ERROR"))
    rows = sorted(device_timeseries(log.df(spark), base_conf).collect(), key=lambda r: r["bucket_start"])
    assert [(r["bucket_start"].isoformat(), r["n_lines"], r["error_lines"]) for r in rows] == [
        ("2026-11-20T10:00:00", 2, 0), ("2026-11-20T10:05:00", 2, 2)]
    assert rows[0]["event_counts"] == {"BlackScreen": 1, "CHANGE_CONTENT": 1}
    assert rows[0]["black_screens_ms"] == 9 and rows[1]["level_counts"] == {"ERROR": 2}
    assert rows[1]["bucket_end"].isoformat() == "2026-11-20T10:10:00" and str(rows[1]["date"]) == "2026-11-20"


def test_config_checks(base_conf):
    assert parse_seconds("5 minutes") == 300 and parse_seconds("1h") == 3600 and parse_seconds(90) == 90
    cfg = SessionsConfig.of(base_conf)
    assert cfg.bucket_s == 300 and cfg.idle_timeout_s == 1800 and cfg.counters[0].name == "content_changes"
    assert SessionsConfig.of({"sessions": {"timeseries": {"bucket": "1 day"}}}).bucket_s == 86400
    with pytest.raises(ValueError, match="divide the day"):
        SessionsConfig.of({"sessions": {"timeseries": {"bucket": "7 minutes"}}})
    with pytest.raises(ValueError, match="slide must divide"):
        SessionsConfig.of({"sessions": {"sequences": {"sliding": {"size": "10 minutes", "slide": "3 minutes"}}}})
    with pytest.raises(ValueError, match="duration"):
        parse_seconds("soon")


def test_plans_use_no_python_udfs(fleet, base_conf):
    _, df = fleet
    for out in (playback_sessions(df, base_conf), id_sessions(df, base_conf), fixed_window_sessions(df, base_conf),
                sliding_window_sessions(df, base_conf), device_timeseries(df, base_conf)):
        plan = out._jdf.queryExecution().optimizedPlan().toString()   # Python UDFs show as *EvalPython nodes
        assert "EvalPython" not in plan and "PythonUDF" not in plan
    # one shuffle (by device) feeds the duplicate window, the session windows and the aggregation
    physical = playback_sessions(df, base_conf)._jdf.queryExecution().executedPlan().toString()
    assert physical.count("Exchange hashpartitioning") == 1


def test_incremental_plan_reads_around_the_dates():
    from logalyzer.sessions.pipeline import plan_dates

    plan = plan_dates(["2026-11-21"], SessionsConfig())
    assert [str(d) for d in plan["session_dates"]] == ["2026-11-20", "2026-11-21"]
    assert [str(d) for d in plan["read_dates"]] == ["2026-11-19", "2026-11-20", "2026-11-21", "2026-11-22"]


def _three_days(spark):
    """Two devices over three days: sessions across both midnights, an id across one, a duplicate."""
    a = Log(dev(1), "/logs/1/d1.log")
    a.add("2026-11-20 23:40:00", "CHANGE_CONTENT", {"content_id": "late"}).add("2026-11-20 23:58:00", "BlackScreen", {"duration_ms": 3})
    a.add("2026-11-21 00:05:00", "BlackScreen", {"duration_ms": 4}, file="/logs/1/d2.log")
    a.add("2026-11-21 09:00:00", "CHANGE_CONTENT", {"content_id": "morning"}, file="/logs/1/d2.log")
    a.add("2026-11-21 23:55:00", "CHANGE_CONTENT", {"content_id": "night"}, file="/logs/1/d2.log")
    a.add("2026-11-21 23:59:59", msg="job blk_1 start", file="/logs/1/d2.log", template_id="J1")
    a.add("2026-11-22 00:03:00", "VideoFreeze", {"duration_ms": 8}, file="/logs/1/d3.log")
    a.add("2026-11-22 00:04:00", msg="job blk_1 done", file="/logs/1/d3.log", template_id="J2")
    b = Log(dev(2), "/logs/2/d1.log")
    b.add("2026-11-20 10:00:00", "lonely").add("2026-11-21 10:00:00", "STANDBY_EXIT")
    b.rows.append(b.rows[-1][:14] + ("/logs/2/dup.log",) + b.rows[-1][15:])   # re-uploaded line
    return a.df(spark, b)


def _snapshot(catalog):
    s = sorted((r["session_id"], str(r["date"]), r["content_id"], r["n_lines"], r["black_screens"], r["video_freezes"])
               for r in catalog.read("sessions").collect())
    q = sorted((r["kind"], r["key"], str(r["window_start"]), tuple(r["template_seq"]))
               for r in catalog.read("event_sequences").collect())
    t = sorted((r["device_key"], str(r["bucket_start"]), r["n_lines"]) for r in catalog.read("device_timeseries").collect())
    return s, q, t


def test_run_sessions_full_then_one_day_again_is_identical(spark, catalog, conf):
    from logalyzer.sessions import run_sessions

    catalog.append("events", _three_days(spark))
    counts = run_sessions(spark, catalog, conf, progress=lambda _msg: None)
    assert (counts["lines_read"], counts["lines"], counts["duplicates_dropped"], counts["devices"]) == (11, 10, 1, 2)
    assert counts["sessions"] == 5 and counts["event_sequences"]["id"] == 1
    full = _snapshot(catalog)
    assert [(d, c, n) for _, d, c, n, _, _ in full[0]].count(("2026-11-20", "late", 3)) == 1
    assert ("id", "blk_1", "None", ("J1", "J2")) in full[1]
    # reprocess only the middle day: the sessions across both of its midnights stay whole, once
    again = run_sessions(spark, catalog, conf, progress=lambda _msg: None, dates=["2026-11-21"])
    assert again["mode"] == "incremental" and again["session_dates"] == ["2026-11-20", "2026-11-21"]
    assert _snapshot(catalog) == full
