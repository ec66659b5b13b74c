"""Masking presets: each one on real Spark (Java regex), and the same result in Python."""
from __future__ import annotations

import re

import pytest
from logalyzer.templates.masking import (DEFAULT_MASKS, PRESETS, digit_blind, non_capturing, python_masker,
                                         python_mining_text, resolve_masks)
from logalyzer.templates.pipeline import mask_messages
from logalyzer.templates.settings import TemplateSettings
from logalyzer.templates.tokens import py_lead_key

# (message, masked with the default list)
CASES = [
    ("Connecting to driver: spark://CoarseGrainedScheduler@10.10.34.11:48069",
     "Connecting to driver: spark://<URL>"),
    ("fetch https://cdn.example.com/a/b.m3u8?x=1 failed", "fetch https://<URL> failed"),
    ("session 123e4567-e89b-12d3-a456-426614174000 opened", "session <UUID> opened"),
    ("wlan0 mac 00:1A:2b:3C:4d:5E up", "wlan<NUM> mac <MAC> up"),
    ("[S]:4F:82:10:00 sent", "[S]:<HEX> sent"),
    ("peer fe80::1ff:fe23:4567:890a and 2001:db8:0:0:0:0:2:1 gone", "peer <IP> and <IP> gone"),
    ("Received connection request /10.10.34.11:45307", "Received connection request /<IP>:<NUM>"),
    ("at Fri Jun 17 20:55:07 2005 from host", "at <DATETIME> from host"),
    ("built on 2026-11-20T14:03:12.345Z ok", "built on <DATETIME> ok"),
    ("started at 14:03:12,345", "started at <TIME>"),
    ("open /var/log/messages.1 failed", "open <PATH> failed"),
    ("open C:\\Windows\\System32\\drivers\\x.sys failed", "open <PATH> failed"),
    ("PacketResponder 1 for block blk_-6952295868487656571 terminating",
     "PacketResponder <NUM> for block blk_<NUM> terminating"),
    ("device R0000000042 rebooted", "device <RID> rebooted"),
    ("Created attempt_1445144423722_0020_m_000001_0 ok", "Created attempt_<ID> ok"),
    ("estimated size 12.3 KB, free 1024MB", "estimated size <SIZE>, free <SIZE>"),
    ("took 250ms then 3 s then 1.5 seconds", "took <DUR> then <DUR> then <DUR>"),
    ("reg 0x1F3a and deadbeef01 and cafe", "reg <HEX> and <HEX> and cafe"),
    ("proxy.cse.cuhk.edu.hk:5070 open through proxy www.google.com and mail.qq.com", 
     "<HOST>:<NUM> open through proxy <HOST> and <HOST>"),
    ("connect to db-7.lan:5432 via org.apache.hadoop.ipc.Client and 10.1.2.3:80 (Client.java:123)",
     "connect to <HOST>:<NUM> via org.apache.hadoop.ipc.Client and <IP>:<NUM> (Client.java:<NUM>)"),
    ('acquire tag="View Lock 2", name=\'a b\' "GET /x HTTP/1.1"',
     'acquire tag="<STR>", name=\'<STR>\' "GET /x HTTP/<NUM>"'),
    ("isScreenOn=true, enabled: False (TRUE) trueness", "isScreenOn=<BOOL>, enabled: <BOOL> (<BOOL>) trueness"),
    ("state 42 -7 +3.14 7.2e-05 8.2dB x86 node-246 alt0",
     "state <NUM> <NUM> <NUM> <NUM> <NUM> x<NUM> node-<NUM> alt<NUM>"),
]


def test_every_preset_has_a_case():
    covered = set()
    for msg, _ in CASES:
        for name in DEFAULT_MASKS:
            if re.search(PRESETS[name].regex, msg, re.ASCII):
                covered.add(name)
    assert covered == set(DEFAULT_MASKS)


def test_presets_in_spark_match_python(spark, conf):
    df = spark.createDataFrame([(i, m) for i, (m, _) in enumerate(CASES)], "i int, message string")
    got = [r.masked for r in mask_messages(df, conf).orderBy("i").collect()]
    py = python_mining_text(TemplateSettings.of(conf))
    for (msg, want), jvm in zip(CASES, got):
        assert jvm == want, msg
        assert py(msg) == want, msg
    # digit-blind: messages that differ only in digit values mask alike, so the stage masks once per key
    assert digit_blind(resolve_masks(DEFAULT_MASKS))
    mask = python_masker(resolve_masks(DEFAULT_MASKS))
    for msg, _ in CASES:
        assert mask(msg) == mask(msg.translate(str.maketrans("0123456789", "5555555555"))), msg
    assert not digit_blind(resolve_masks(["port", "digits"], [("port", "port 80", "<PORT>")]))


def test_per_format_masks_and_custom_preset(spark, conf):
    conf = {**conf, "templates": {**conf["templates"], "masks": {
        "default": ["number", "digits"],
        "by_format": {"vendor": ["session_id", "number", "digits"]},
        "custom": {"session_id": {"regex": r"sess=([a-z]+)", "placeholder": "<SESSION>"}}}}}
    df = spark.createDataFrame([(1, "sess=abc n=5", "vendor"), (2, "sess=abc n=5", "logcat")],
                               "i int, message string, format string")
    got = [r.masked for r in mask_messages(df, conf).orderBy("i").collect()]
    assert got == ["<SESSION> n=<NUM>", "sess=abc n=<NUM>"]
    py = python_mining_text(TemplateSettings.of(conf))
    assert [py("sess=abc n=5", "vendor"), py("sess=abc n=5", "logcat")] == got
    # capturing groups in a user regex are made non-capturing (parameter extraction counts groups)
    assert non_capturing(r"sess=([a-z]+)(?:x)[(]") == r"sess=(?:[a-z]+)(?:x)[(]"


def test_bad_preset_names_and_placeholders_are_clear_errors():
    with pytest.raises(ValueError, match="unknown mask preset"):
        resolve_masks(["nope"])
    with pytest.raises(ValueError, match="placeholder"):
        resolve_masks(["x"], [("x", "a", "<X1>")])


def test_mining_text_whitespace_truncation_and_key(spark):
    settings = TemplateSettings.of({"templates": {"max_tokens": 3, "max_chars": 40}})
    msgs = ["  a\u00a0 b\tc  ", "one two three four five", "x" * 50, "", None, "7 apples fell", "solo"]
    df = spark.createDataFrame(list(enumerate(msgs)), "i int, message string")
    rows = mask_messages(df, settings).orderBy("i").collect()
    assert [r.masked for r in rows] == ["a b c", "one two three <TRUNCATED>", "x" * 40 + " <TRUNCATED>", "", "",
                                        "<NUM> apples fell", "solo"]
    assert [r.token_count for r in rows] == [3, 4, 2, 0, 0, 3, 1]
    assert [r.lead for r in rows] == ["a", "one", "x" * 40, "", "", "<NUM>", ""]
    text = python_mining_text(settings)
    for m, r in zip(msgs, rows):
        assert text(m) == r.masked and py_lead_key(text(m)) == r.lead
    # a leading token with a digit goes to drain3's <*> branch
    assert py_lead_key("x9 y z") == "<*>"


def test_shipped_default_list_is_the_preset_order(base_conf):
    assert tuple(base_conf["templates"]["masks"]["default"]) == DEFAULT_MASKS


def test_per_line_masks_only_move_the_cost(spark, conf):
    df = spark.createDataFrame([(i, m) for i, (m, _) in enumerate(CASES)], "i int, message string")
    for where in ({"per_line": 6}, {"per_line": 3}):
        moved = {**conf, "templates": {**conf["templates"], "masks": {**conf["templates"]["masks"], **where}}}
        assert [r.masked for r in mask_messages(df, moved).orderBy("i").collect()] == [want for _, want in CASES]
