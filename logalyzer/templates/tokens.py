"""The text Drain mines and its partition key, computed Spark-natively.

* **Digit-blind key** (``prekey``): the first ``max_chars`` characters of the message with every
  digit turned into ``0``. With digit-blind masks (masking.py) every
  line of a key has the same masked text, so the regex masks run once per distinct key, not per line.
* **Whitespace**: drain3 splits with Python's ``str.split()``, whose whitespace set is wider than
  Java's ``\\s``. ``WHITESPACE`` lists Python's set in Java/Python regex syntax; every run becomes one
  space, so the mining text is ``" ".join(tokens)`` and Spark and drain3 see the same tokens.
* **Bounded prefix**: only the first ``max_chars`` characters are masked and only the first
  ``max_tokens`` tokens mined; a cut message ends with the ``<TRUNCATED>`` token, whose parameter is
  the rest of the original message (which is kept whole in ``message``).
* **Partition key**: drain3's own first tree levels. Level 1 is the token count; level 2 the leading
  token, where drain3 sends any token containing a digit to its ``<*>`` branch. Messages of one
  token stop at level 1 in drain3's tree, so they all share one key (lead ``""``).
"""
from __future__ import annotations

import re

from pyspark.sql import Column
from pyspark.sql import functions as F

PARAM = "<*>"                 # drain3's wildcard (mask_prefix + "*" + mask_suffix)
TRUNCATED = "<TRUNCATED>"     # last token of a message cut at max_chars / max_tokens
DIGITS = "0123456789"

# Python's str.split() whitespace (str.isspace), written for both Java and Python regex engines.
WHITESPACE = r"[\t\n\x0B\f\r\x1C-\x1F \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000]"
_WS_RUN = WHITESPACE + "+"
_PY_WS = re.compile(_WS_RUN)
_PY_DIGITS = str.maketrans(DIGITS, "0" * 10)


# -- Spark -------------------------------------------------------------------------------------------
def prekey(message: Column, max_chars: int, digit_blind: bool) -> Column:
    """The per-line key: the message prefix, digits turned into 0 when the masks allow it."""
    text = F.coalesce(message, F.lit(""))
    # substring() counts every character first; a text of at most max_chars bytes needs no cut
    prefix = F.when(F.octet_length(text) <= max_chars, text).otherwise(F.substring(text, 1, max_chars))
    return F.regexp_replace(prefix, "[1-9]", "0") if digit_blind else prefix   # faster than translate()


def is_cut(message: Column, max_chars: int) -> Column:
    # length() walks the characters: only worth it when the bytes alone allow a cut
    return F.coalesce((F.octet_length(message) > max_chars) & (F.length(message) > max_chars), F.lit(False))


def _delimiters(col: Column, extra_delimiters) -> Column:
    for d in extra_delimiters:
        col = F.regexp_replace(col, re.escape(d) if d else "(?!)", " ")   # re.escape output is valid Java
    return col


def mining_text(masked: Column, cut: Column, max_tokens: int, extra_delimiters=()) -> Column:
    """Masked message → single-spaced tokens, cut to ``max_tokens`` (+ ``<TRUNCATED>`` if cut)."""
    norm = F.regexp_replace(F.regexp_replace(_delimiters(masked, extra_delimiters), _WS_RUN, " "), "^ | $", "")
    tokens = F.split(norm, " ")
    n = F.when(norm == "", F.lit(0)).otherwise(F.size(tokens))
    head = F.when(n > 0, F.array_join(F.slice(tokens, 1, max_tokens), " "))
    return F.when((n > max_tokens) | cut, F.concat_ws(" ", head, F.lit(TRUNCATED))).otherwise(norm)


def token_count(text: Column) -> Column:
    return F.when(text == "", F.lit(0)).otherwise(F.size(F.split(text, " ")))


def lead_key(text: Column, split_by_lead: bool) -> Column:
    """drain3's level-2 key: the first token, ``<*>`` if it holds a digit; ``""`` for 0/1-token messages.

    Java's ``\\p{Nd}`` stands for Python's ``str.isdigit``; they differ only on rare non-decimal digit
    characters (superscripts), which then form a key of their own (still correct, just not merged).
    """
    if not split_by_lead:
        return F.lit("")
    first = F.substring_index(text, " ", 1)
    return (F.when(token_count(text) <= 1, F.lit(""))
            .when(first.rlike(r"\p{Nd}"), F.lit(PARAM))
            .otherwise(first))


# -- the same in plain Python (tests, the python benchmark engine, the single-process reference) ---
def py_prekey(message: str | None, max_chars: int, digit_blind: bool) -> str:
    prefix = (message or "")[:max_chars]
    return prefix.translate(_PY_DIGITS) if digit_blind else prefix


def py_mining_text(masked: str, cut: bool, max_tokens: int, extra_delimiters=()) -> str:
    for d in extra_delimiters:
        masked = masked.replace(d, " ")
    tokens = [t for t in _PY_WS.sub(" ", masked).split(" ") if t]
    if len(tokens) > max_tokens or cut:
        return " ".join(tokens[:max_tokens] + [TRUNCATED])
    return " ".join(tokens)


def py_lead_key(text: str, split_by_lead: bool = True) -> str:
    tokens = text.split()
    if not split_by_lead or len(tokens) <= 1:
        return ""
    return PARAM if any(ch.isdigit() for ch in tokens[0]) else tokens[0]
