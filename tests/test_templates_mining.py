"""Partitioned mining: exact union with one drain3 run, enumerations, state round trip, bad input."""
from __future__ import annotations

import random

from drain3 import TemplateMiner

from logalyzer.templates.ids import EMPTY_TEMPLATE, UNPARSED_TEMPLATE, template_id, template_id_col
from logalyzer.templates.miner import drain_config, mine_group
from logalyzer.templates.mining import mine_distinct, mine_partition
from logalyzer.templates.settings import TemplateSettings
from logalyzer.templates.store import STATE_SCHEMA
from logalyzer.templates.tokens import PARAM, py_lead_key

SETTINGS = TemplateSettings.of({})


def corpus(seed=7):
    """Masked-looking messages with shared shapes, varied lengths and numeric leading tokens."""
    r = random.Random(seed)
    words = ["alpha", "beta", "gamma", "delta", "eps", "zeta", "eta", "theta"]
    out = {}
    for _ in range(400):
        shape = r.randrange(8)
        w = r.choice(words)
        if shape == 0:
            m = f"Connection to {w} closed after <NUM> retries"
        elif shape == 1:
            m = f"{r.choice(['job', 'task'])} <NUM> moved from {r.choice(words)} to {r.choice(words)}"
        elif shape == 2:
            m = f"{r.randrange(99)}x disk {w}{r.randrange(3)} failed"          # leading token with a digit
        elif shape == 3:
            m = f"{w} {r.choice(words)} {r.choice(words)}:{r.choice(words)} ok"
        elif shape == 4:
            m = r.choice(words)                                                # one-token messages
        elif shape == 5:
            m = f"user {w}/{r.randrange(5)} logged in from <IP>"
        elif shape == 6:
            m = " ".join(r.choice(words) for _ in range(r.randrange(2, 7)))
        else:
            m = f"<NUM> {w} x{r.randrange(4)}"
        out[m] = out.get(m, 0) + r.randrange(1, 50)
    return out


def group_order(counts):
    """The pipeline's order: per key, by count descending then text; keys with a digit lead last."""
    keys = {}
    for m in counts:
        keys.setdefault((len(m.split()), py_lead_key(m)), []).append(m)
    for msgs in keys.values():
        msgs.sort(key=lambda m: (-counts[m], m))
    return keys


def test_partitioned_mining_equals_one_drain3_run(spark):
    counts = corpus()
    groups = group_order(counts)
    # one drain3 TemplateMiner over all messages: per token count, plain leading tokens first and the
    # <*> branch last, so drain3 never tries a new leading word against the <*> branch's clusters
    order = [m for key in sorted(groups, key=lambda k: (k[0], k[1] == PARAM, k[1])) for m in groups[key]]
    tm = TemplateMiner(config=drain_config(SETTINGS))
    cid = {m: tm.add_log_message(m)["cluster_id"] for m in order}
    single = {m: tm.drain.id_to_cluster[c].get_template() for m, c in cid.items()}
    # the Spark fan-out
    rows = [(len(m.split()), py_lead_key(m), m, n) for m, n in counts.items()]
    distinct = spark.createDataFrame(rows, "token_count int, lead string, masked string, n long")
    state = spark.createDataFrame([], STATE_SCHEMA)
    mined = mine_distinct(distinct, state, SETTINGS, partitions=3).where("kind = 'msg'").collect()
    partitioned = {r.masked: r.raw_template for r in mined}
    assert partitioned == single
    assert len(set(single.values())) < len(single)      # Drain did generalise something
    assert len(groups) > 10                              # and there were many independent groups
    # the ids Spark and Python compute agree
    tpl = next(iter(single.values()))
    got = spark.createDataFrame([(tpl,)], "t string").select(template_id_col("t").alias("id")).first().id
    assert got == template_id(tpl)


def test_enumerations_stay_constant_until_they_outgrow_the_limit():
    msgs = ["Link error", "Link ok"]   # one token apart: Drain merges them into "Link <*>"
    assert mine_group(msgs, SETTINGS).templates == ["Link error", "Link ok"]
    assert mine_group(msgs, TemplateSettings.of({"templates": {"max_enum_values": 0}})).templates == ["Link <*>"] * 2
    many = [f"user {w} logged in" for w in ["ann", "bob", "cid", "dan", "eve", "fay"]]
    small = TemplateSettings.of({"templates": {"max_enum_values": 3}})
    assert set(mine_group(many, small).templates) == {"user <*> logged in"}
    # upper-case identifiers (states, event types) are code constants: they stay apart up to 10 values
    states = ["NEW", "INITED", "SETUP", "RUNNING", "COMMITTING", "SUCCEEDED"]
    moves = [f"job Transitioned from {a} to {b}" for a, b in zip(states, states[1:])]
    assert mine_group(moves, small).templates == moves
    eleven = [f"job moved to STATE_{chr(65 + i)}X" for i in range(11)]
    assert set(mine_group(eleven, small).templates) == {"job moved to <*>"}
    # a numbered entity is not an enumeration: node7 / node9 -> <*>
    assert set(mine_group(["up on node7 now", "up on node9 now"], SETTINGS).templates) == {"up on <*> now"}


def test_state_round_trip_continues_and_reports_lineage():
    small = TemplateSettings.of({"templates": {"max_enum_values": 2}})
    first = mine_group(["disk sda failed", "disk sdb failed"], small)
    assert first.templates == ["disk sda failed", "disk sdb failed"]
    again = mine_group(["disk sda failed"], small, first.state, first.extra)
    assert again.templates == ["disk sda failed"] and again.lineage == []
    grown = mine_group(["disk sdc failed"], small, first.state, first.extra)
    assert grown.templates == ["disk <*> failed"]
    assert sorted(grown.lineage) == [("disk sda failed", "disk <*> failed"), ("disk sdb failed", "disk <*> failed")]


def test_bad_input_never_raises():
    weird = ["", "<NUM> <HEX> <IP>", "Ошибка соединения 🚀 ñ\u200b", "خطأ في الاتصال",
             "e\u0301te\u0301 <*> <NUM>",
             "x " * 200, "\x00\x01 ctrl", "a" * 5000]
    for text in weird:
        key_texts = [" ".join(text.split())]
        res = mine_group(key_texts, SETTINGS)
        assert len(res.templates) == 1 and res.templates[0]
    assert mine_group([""], SETTINGS).templates == [EMPTY_TEMPLATE]
    import pandas as pd

    # a group whose state is garbage: its lines get <UNPARSED>, the batch goes on
    out = mine_partition(2, "a", pd.DataFrame({"masked": ["a b"], "n": [1]}),
                         pd.DataFrame({"state": ["not a state"], "extra": ["{}"]}), SETTINGS, {})
    assert list(out["template"]) == [UNPARSED_TEMPLATE] and out["error"].iloc[0]
