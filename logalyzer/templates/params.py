r"""Parameters: the original values behind a template's placeholders, extracted by Spark.

Each template becomes one anchored regex over the *original* message: literal text quoted, every
placeholder a capture group, whitespace runs between tokens. A placeholder that fills a whole
token captures that token (``\S+``-like), one inside a token (``blk_<NUM>``, ``<IP>:<NUM>``) the
shortest run up to the next literal, one whose mask can span spaces (dates, ``12 KB``) the
shortest text, and ``<TRUNCATED>`` the rest of the message. Spark applies it with a single
``regexp_replace`` that rewrites a matching message to its groups, each after a separator (the trick
ingest uses for header layouts), then ``split``: one regex match per line, no Python. If it does
not match (e.g. a value cut at ``max_chars``), a loose variant (every placeholder ``.+?``) is tried;
failing both, ``params`` is empty. The regexes read the same in Java and Python (tests check both).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.templates.ids import EMPTY_TEMPLATE, UNPARSED_TEMPLATE
from logalyzer.templates.tokens import PARAM, TRUNCATED, WHITESPACE

SEPARATOR = "\u001f"
_END = r"(?![\s\S])"
_PLACEHOLDER = re.compile(r"<\*>|<[A-Z][A-Z_]*>")
MAX_LOOSE_GROUPS = 40      # a loose regex with more lazy groups could backtrack for long


@dataclass(frozen=True)
class ParamRegex:
    n: int                      # number of parameters
    strict: str | None
    loose: str | None
    replacement: str | None     # for regexp_replace: <sep> $1 <sep> $2 ...


def quote(literal: str) -> str:
    """Escape ASCII punctuation (valid in Java and Python; letters and non-ASCII stay as they are)."""
    return re.sub(r"([\x00-\x2f\x3a-\x40\x5b-\x60\x7b-\x7f])", r"\\\1", literal)


def _separator(extra_delimiters) -> str:
    parts = [WHITESPACE] + [quote(d) for d in extra_delimiters if d]
    return "(?:" + "|".join(parts) + ")"


def spans_space(regex: str) -> bool:
    """Whether a mask's matches may contain whitespace: ``\\s`` or a space outside a negated class, or a
    negated class that does not exclude whitespace (``[^"]*``)."""
    negated = re.findall(r"\[\^(?:\\.|[^\]])*\]", regex)
    if any("\\s" not in c and " " not in c for c in negated):
        return True
    plain = re.sub(r"\[\^(?:\\.|[^\]])*\]", "", regex)
    return "\\s" in plain or " " in plain


def param_regex(template: str, shapes: dict[str, list[str]], extra_delimiters=()) -> ParamRegex:
    """``template`` → regexes that capture its parameters from the original message.

    ``shapes`` maps each mask placeholder to the regexes of the masks that produce it.
    """
    if template in (EMPTY_TEMPLATE, UNPARSED_TEMPLATE):
        return ParamRegex(0, None, None, None)
    sep = _separator(extra_delimiters)
    # the strict regex uses Java's fast ASCII \s / \S; the loose one the full whitespace set
    sep_fast = "(?:" + "|".join(["\\s"] + [quote(d) for d in extra_delimiters if d]) + ")"
    spacy = {ph for ph, rxs in shapes.items() if any(spans_space(r) for r in rxs)}
    tokens = template.split(" ")
    truncated = tokens[-1] == TRUNCATED
    if truncated:
        tokens = tokens[:-1]
    strict_tokens, loose_tokens, n = [], [], 0
    for tok in tokens:
        strict, loose, pos = [], [], 0
        for m in _PLACEHOLDER.finditer(tok):
            name = m.group(0)
            if name != PARAM and name not in shapes:
                continue                              # a literal that merely looks like <THIS>
            strict.append(quote(tok[pos:m.start()]))
            loose.append(quote(tok[pos:m.start()]))
            if name in spacy:
                strict.append("([\\s\\S]+?)")
            elif m.start() == 0 and m.end() == len(tok):
                strict.append("(\\S+)")
            else:
                strict.append("(\\S+?)")
            loose.append("([\\s\\S]+?)")
            pos = m.end()
            n += 1
        strict.append(quote(tok[pos:]))
        loose.append(quote(tok[pos:]))
        strict_tokens.append("".join(strict))
        loose_tokens.append("".join(loose))
    def tail(s):
        return f"{s}*([\\s\\S]*)" if truncated else f"{s}*"

    n += 1 if truncated else 0
    if n == 0:
        return ParamRegex(0, None, None, None)
    strict_rx = f"^{sep_fast}*" + f"{sep_fast}+".join(strict_tokens) + tail(sep_fast) + _END
    loose_rx = (f"^{sep}*" + f"{sep}+".join(loose_tokens) + tail(sep) + _END) if n <= MAX_LOOSE_GROUPS else None
    replacement = "".join(f"{SEPARATOR}${i}" for i in range(1, n + 1))
    return ParamRegex(n, strict_rx, loose_rx, replacement)


def with_params(df: DataFrame, message: str, n: str, strict: str, loose: str, replacement: str,
                out: str = "params") -> DataFrame:
    """``df`` plus ``out`` (``array<string>``): parameter values by the strict regex, else the loose
    one, else empty. Each regex and the split run in their own projection, so Spark evaluates each
    once per row.

    A rewritten message is a separator before each value, so it splits into ``n + 1`` parts (the
    first empty); a message with the separator in it is not rewritten (its values could not be
    told apart) and gets empty ``params``.
    """
    msg = F.coalesce(F.col(message), F.lit(""))
    empty = F.array().cast("array<string>")
    usable = (F.col(n) > 0) & ~msg.contains(SEPARATOR)
    df = df.select("*", F.when(usable, F.regexp_replace(msg, F.col(strict), F.col(replacement))).alias("_rw1"))
    hit1 = F.col("_rw1").startswith(SEPARATOR)
    df = df.select("*", F.when(usable & ~hit1 & F.col(loose).isNotNull(),
                               F.regexp_replace(msg, F.col(loose), F.col(replacement))).alias("_rw2"))
    rw = F.when(hit1, F.col("_rw1")).when(F.col("_rw2").startswith(SEPARATOR), F.col("_rw2"))
    df = df.select("*", F.split(rw, SEPARATOR, -1).alias("_parts"))
    ok = F.col("_parts").isNotNull() & (F.size("_parts") == F.col(n) + 1)
    return df.select("*", F.when(ok, F.slice("_parts", 2, F.col(n))).otherwise(empty).alias(out)).drop(
        "_rw1", "_rw2", "_parts")


def py_params(message: str, pr: ParamRegex) -> list | None:
    """The same extraction in Python (tests): None when neither regex matches."""
    for rx in (pr.strict, pr.loose):
        if rx is None:
            continue
        m = re.match(rx, message, re.ASCII | re.S) if pr.n else None
        if m:
            return list(m.groups())
    return [] if pr.n == 0 else None
