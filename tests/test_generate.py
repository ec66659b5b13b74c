"""Tests for the synthetic fleet generator (logalyzer.generate). No Spark needed; small fleets only."""
import argparse
import csv
import datetime as dt
import gzip
import json
import os
import re
import zlib

import pytest

from logalyzer.generate import THREADTIME_RE, VAR_RE, add_arguments, device_id, generate_fleet, run

TT = re.compile(THREADTIME_RE)
VAR = re.compile(VAR_RE)
NAME = re.compile(r"^(\d{4}-\d{2}-\d{2})/(R\d{10})_(\d{8})_(\d{2})\.log(\.gz)?$")

EVENTS = {  # event type -> (category, data keys)
    "CHANGE_CONTENT": ("PLAYER", {"channel", "content_id", "uri"}),
    "PLAYBACK_START": ("PLAYER", set()), "PLAYBACK_STOP": ("PLAYER", set()),
    "BlackScreen": ("VIDEO", {"duration_ms"}), "VideoFreeze": ("VIDEO", {"duration_ms"}),
    "VideoResume": ("VIDEO", set()), "DisplayDrop": ("DISPLAY", {"duration_ms"}),
    "HDMI_CONNECT": ("HDMI", set()), "HDMI_DISCONNECT": ("HDMI", set()), "HDMI_HOTPLUG": ("HDMI", {"state"}),
    "PAUSE": ("TRICK", set()), "RESUME": ("TRICK", set()), "FAST_FORWARD": ("TRICK", {"speed"}),
    "REWIND": ("TRICK", {"speed"}), "SEEK": ("TRICK", {"position_ms"}),
    "STANDBY_ENTER": ("POWER", set()), "STANDBY_EXIT": ("POWER", set()), "BOOT_COMPLETED": ("POWER", {"boot_reason"}),
}
ANOMALY_START = {"freeze_storm": "VideoFreeze", "black_screen_loop": "CHANGE_CONTENT",
                 "hdmi_flapping": "HDMI_HOTPLUG", "crash_reboot_loop": "FATAL EXCEPTION: main"}

DEVICES, DAYS, LINES = 8, 3, 800        # 24 device-days: 4 anomalies, one of each type


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("fleet"))
    return generate_fleet(out, devices=DEVICES, days=DAYS, seed=7, lines_per_device_day=LINES, workers=1)


def read_bytes(path):
    with open(path, "rb") as fh:
        data = fh.read()
    return gzip.decompress(data) if path.endswith(".gz") else data


def normal_files(summary):
    """(relative path, raw lines) of every readable log file."""
    out = summary["out_dir"]
    bad = set(summary["bad_files"])
    for day in sorted(os.listdir(out)):
        if not os.path.isdir(os.path.join(out, day)):
            continue
        for name in sorted(os.listdir(os.path.join(out, day))):
            rel = day + "/" + name
            if rel not in bad:
                yield rel, read_bytes(os.path.join(out, rel)).split(b"\n")[:-1]


def all_files(root):
    return sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)


def test_same_arguments_give_identical_bytes_serial_or_parallel(tmp_path):
    kw = dict(devices=3, days=2, seed=11, lines_per_device_day=1500)
    a = generate_fleet(str(tmp_path / "a"), workers=1, **kw)
    b = generate_fleet(str(tmp_path / "b"), workers=2, **kw)
    fa, fb = all_files(a["out_dir"]), all_files(b["out_dir"])
    assert fa == fb and len(fa) == a["files"] + 2           # + labels.csv, README.txt
    for rel in fa:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
    assert {k: v for k, v in a.items() if k not in ("out_dir", "labels")} == \
           {k: v for k, v in b.items() if k not in ("out_dir", "labels")}
    c = generate_fleet(str(tmp_path / "c"), workers=1, **dict(kw, seed=12))
    rel = [f for f in fa if f.endswith("_00.log.gz")][0]
    assert (tmp_path / "c" / rel).read_bytes() != (tmp_path / "a" / rel).read_bytes()
    assert c["lines"] > 0


def test_gzip_headers_carry_no_timestamp_or_name(fleet):
    rel = next(r for r, _ in normal_files(fleet) if r.endswith(".gz"))
    with open(os.path.join(fleet["out_dir"], rel), "rb") as fh:
        head = fh.read(10)
    assert head[:2] == b"\x1f\x8b" and head[4:8] == b"\0\0\0\0" and head[3] & 0x08 == 0


def test_layout_and_names(fleet):
    out = fleet["out_dir"]
    start = dt.date(2026, 11, 20)
    days = {(start + dt.timedelta(days=i)).isoformat() for i in range(DAYS)}
    assert set(os.listdir(out)) == days | {"labels.csv", "README.txt"}
    with open(os.path.join(out, "README.txt"), encoding="utf-8") as fh:
        assert len(fh.read().strip().split("\n")) == 2
    logs = [f for f in all_files(out) if "/" in f]
    assert len(logs) == fleet["files"]
    seen = set()
    for rel in logs:
        m = NAME.match(rel)
        assert m, rel
        assert m.group(1).replace("-", "") == m.group(3)
        seen.add((m.group(2), m.group(3)))
        if int(m.group(4)) < 2:
            assert rel.endswith(".gz") or rel in fleet["plain_files"]
    assert {d for d, _ in seen} == {device_id(i) for i in range(DEVICES)}
    assert len(seen) == DEVICES * DAYS
    assert device_id(0) == "R0000000001"


def test_lines_match_threadtime(fleet):
    bad = total = ooo = 0
    levels = set()
    for rel, lines in normal_files(fleet):
        md = rel[5:10]
        prev = None
        for raw in lines:
            total += 1
            m = TT.match(raw.decode("utf-8", "replace"))
            if not m:
                bad += 1
                continue
            levels.add(m.group(9))
            assert raw[:5].decode() == md, (rel, raw[:40])
            assert int(m.group(3)) < 24 and int(m.group(4)) < 60 and int(m.group(5)) < 60
            ts = raw[:18]
            if prev is not None and ts < prev:
                ooo += 1
            prev = ts
    assert bad == fleet["malformed_lines"] and 0 < bad < total / 500
    assert total == fleet["readable_lines"]
    assert 0 < ooo <= total * 0.005
    assert levels >= {"D", "I", "W", "E"}


def test_var_lines_parse(fleet):
    counts, n, noise = {}, 0, 0
    for _rel, lines in normal_files(fleet):
        for raw in lines:
            m = TT.match(raw.decode("utf-8", "replace"))
            if not m:
                continue
            n += 1
            if m.group(10) != "VAR":
                noise += 1
                continue
            v = VAR.match(m.group(11))
            assert v, raw
            cat, fn, et, data = v.groups()
            assert et in EVENTS and EVENTS[et][0] == cat, raw
            d = json.loads(data)
            assert isinstance(d, dict) and set(d) == EVENTS[et][1], raw
            if et == "HDMI_HOTPLUG":
                assert d["state"] in ("in", "out")
            counts[et] = counts.get(et, 0) + 1
    assert sum(counts.values()) == fleet["var_lines"]
    assert set(counts) >= {"CHANGE_CONTENT", "PLAYBACK_START", "PLAYBACK_STOP", "BOOT_COMPLETED",
                           "STANDBY_ENTER", "STANDBY_EXIT", "VideoFreeze", "BlackScreen", "HDMI_CONNECT"}
    assert 0.6 < noise / n < 0.95


def test_every_device_day_boots_and_some_files_continue_a_session(fleet):
    boots, first = {}, []
    for rel, lines in normal_files(fleet):
        key = NAME.match(rel).group(2, 3)
        first_var = None
        for raw in lines:
            if b" VAR     : " in raw:
                et = VAR.match(raw.decode("utf-8").split(" VAR     : ", 1)[1]).group(3)
                first_var = first_var or et
                if et == "BOOT_COMPLETED":
                    boots[key] = boots.get(key, 0) + 1
        first.append(first_var)
    assert len(boots) == DEVICES * DAYS
    assert sum(1 for f in first if f not in ("CHANGE_CONTENT", "BOOT_COMPLETED")) >= len(first) // 4


def test_labels_consistent(fleet):
    out = fleet["out_dir"]
    with open(fleet["labels"], encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert rows and list(rows[0]) == ["device_id", "anomaly_type", "start_ts", "end_ts", "file"]
    assert len(rows) == fleet["anomalies"]
    assert {r["anomaly_type"] for r in rows} == set(ANOMALY_START)
    devices = {device_id(i) for i in range(DEVICES)}
    for r in rows:
        assert r["device_id"] in devices
        m = NAME.match(r["file"])
        assert m and m.group(2) == r["device_id"] and os.path.exists(os.path.join(out, r["file"]))
        s = dt.datetime.strptime(r["start_ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        e = dt.datetime.strptime(r["end_ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
        assert s < e and s.date() == e.date() == dt.date.fromisoformat(m.group(1))
        assert dt.timedelta(seconds=30) < e - s < dt.timedelta(hours=1)
        # the labelled file has the anomaly's first line at start_ts; the device-day has the whole burst
        stamp = s.strftime("%m-%d %H:%M:%S.") + "%03d" % (s.microsecond // 1000)
        lines = [x.decode("utf-8", "replace") for x in read_bytes(os.path.join(out, r["file"])).split(b"\n")]
        assert any(x.startswith(stamp) and ANOMALY_START[r["anomaly_type"]] in x for x in lines), r
        day_lines = []
        for rel, ls in normal_files(fleet):
            if NAME.match(rel).group(2, 3) == m.group(2, 3):
                day_lines += [x.decode("utf-8", "replace") for x in ls]
        end = e.strftime("%m-%d %H:%M:%S.") + "%03d" % (e.microsecond // 1000)
        inside = [x for x in day_lines if stamp <= x[:18] <= end]
        marker = {"freeze_storm": "VideoFreeze", "black_screen_loop": "BlackScreen",
                  "hdmi_flapping": "HDMI_DISCONNECT", "crash_reboot_loop": "BOOT_COMPLETED"}[r["anomaly_type"]]
        assert sum(marker in x for x in inside) >= 3, r


def test_bad_input(fleet):
    out = fleet["out_dir"]
    bad = fleet["bad_files"]
    corrupt = [b for b in bad if b.endswith(".gz")]
    empty = [b for b in bad if not b.endswith(".gz")]
    assert len(corrupt) == 1 and len(empty) == 1
    assert os.path.getsize(os.path.join(out, empty[0])) == 0
    with open(os.path.join(out, corrupt[0]), "rb") as fh:
        data = fh.read()
    assert data[:2] == b"\x1f\x8b"
    with pytest.raises((EOFError, OSError, zlib.error)):
        gzip.decompress(data)
    with pytest.raises((EOFError, OSError, zlib.error)):
        with gzip.open(os.path.join(out, corrupt[0])) as fh:
            fh.read()
    assert len(fleet["plain_files"]) == 1
    with open(os.path.join(out, fleet["plain_files"][0]), "rb") as fh:
        plain = fh.read()
    assert plain[:2] != b"\x1f\x8b" and TT.match(plain.split(b"\n", 1)[0].decode("utf-8", "replace"))
    non_utf8 = overlong = 0
    for _rel, lines in normal_files(fleet):
        for raw in lines:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                non_utf8 += 1
            overlong += len(raw) > 65536
    assert non_utf8 >= 1 and non_utf8 == fleet["invalid_utf8_lines"]
    assert overlong == fleet["overlong_lines"] == 1


def test_volume_roughly_respected(fleet):
    expected = DEVICES * DAYS * LINES
    assert abs(fleet["readable_lines"] - expected) <= 0.2 * expected
    assert fleet["lines"] == fleet["readable_lines"] + fleet["corrupt_lines"]
    per_day = {}
    for rel, lines in normal_files(fleet):
        key = NAME.match(rel).group(2, 3)
        per_day[key] = per_day.get(key, 0) + len(lines)
    assert all(abs(v - LINES) <= 0.2 * LINES for v in per_day.values()), per_day


def test_no_bad_input(tmp_path):
    s = generate_fleet(str(tmp_path), devices=2, days=1, lines_per_device_day=2000, bad_input=False,
                       files_per_day=3, workers=1)
    assert s["bad_files"] == [] and s["plain_files"] == [] and s["malformed_lines"] == 0
    assert s["files"] == 6
    total = 0
    for rel, lines in normal_files(s):
        assert rel.endswith(".log.gz")
        for raw in lines:
            assert TT.match(raw.decode("utf-8")), raw
        total += len(lines)
    assert total == s["lines"] and abs(total - 4000) <= 800


def test_cli(tmp_path, capsys):
    parser = add_arguments(argparse.ArgumentParser())
    args = parser.parse_args(["--out", str(tmp_path), "--devices", "2", "--lines-per-device-day", "1000",
                              "--files-per-day", "1", "--seed", "3"])
    assert run(args) == 0
    text = capsys.readouterr().out
    assert "2 devices" in text and "labels.csv" in text
    assert os.path.exists(tmp_path / "labels.csv")
    assert len([f for f in all_files(str(tmp_path)) if f.endswith("_00.log.gz")]) in (1, 2)


def test_push_worse_adds_glitches_to_its_devices_only_and_none_changes_nothing(tmp_path):
    """--push: `worse` adds BlackScreen/VideoFreeze after the push on the pushed devices only; `none` leaves
    every log byte-identical; both write the POST /events body."""
    import filecmp

    kw = dict(devices=4, days=1, lines_per_device_day=1500, bad_input=False, anomaly_rate=0)
    base = generate_fleet(str(tmp_path / "base"), **kw)
    none = generate_fleet(str(tmp_path / "none"), pushes=["2026-11-20T06:00:00Z,0-1,none"], **kw)
    worse = generate_fleet(str(tmp_path / "worse"), pushes=["2026-11-20T06:00:00Z,0-1,worse:6"], **kw)
    assert not base["push_files"] and len(none["push_files"]) == 1
    body = json.loads(open(worse["push_files"][0]).read())
    assert body["device_ids"] == [device_id(0), device_id(1)] and body["time"] == "2026-11-20T06:00:00Z"
    day = "2026-11-20"
    for name in os.listdir(tmp_path / "base" / day):
        assert filecmp.cmp(tmp_path / "base" / day / name, tmp_path / "none" / day / name, shallow=False)

    def glitches(root, dev, after_hour=6):
        n = 0
        for name in os.listdir(root / day):
            if name.startswith(device_id(dev)):
                with gzip.open(root / day / name, "rt", encoding="utf-8", errors="replace") as fh:
                    n += sum(1 for ln in fh if ("BlackScreen" in ln or "VideoFreeze" in ln)
                             and int(ln[6:8]) >= after_hour)
        return n

    for dev in (0, 1):
        assert glitches(tmp_path / "worse", dev) > glitches(tmp_path / "base", dev) + 10
    for dev in (2, 3):
        assert glitches(tmp_path / "worse", dev) == glitches(tmp_path / "base", dev)
    with pytest.raises(ValueError, match="outside"):
        generate_fleet(str(tmp_path / "bad"), pushes=["2026-11-20T06:00:00Z,0-9,worse"], **kw)
