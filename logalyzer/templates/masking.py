"""Masking presets: variable values (numbers, ids, addresses, ...) replaced by named placeholders.

Masks run before mining, with Spark-native ``regexp_replace`` (``mask_stages``), so a log's millions
of lines shrink to a few distinct masked messages. Every preset is one regex written in the subset that Java (Spark)
and Python's ``re`` (with ``re.ASCII``) read the same way: explicit character classes instead of
``\\w``/``\\d``/``\\b``, fixed-width look-behinds, no capturing groups (a placeholder's regex is reused
to extract the original value, see ``params.py``). Order matters: specific shapes (URLs, UUIDs,
dates) come before the generic number mask that would otherwise eat their parts.

Masks never look at *which* digit is where (only ``[0-9]`` classes; ``0x1f`` is matched as ``[0-9]x``),
and the last preset, ``digits``, turns any digit run the others left into ``<NUM>``. So a message's
masked text does not depend on its digit values: the pipeline masks each distinct *digit-blind
key* (the message with every digit turned into ``0``, see ``prekey``) once instead of every line,
which is what makes masking cheap at fleet scale. ``digit_blind`` checks a mask list for this; a
list that fails it (a custom regex with a literal ``7``, say) is applied line by line instead.

A placeholder is ``<NAME>`` with upper-case letters only: no digits, so drain3 does not take it
for a variable itself, and never ``<*>``, which drain3 keeps for its own wildcards.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Iterable

from pyspark.sql import Column
from pyspark.sql import functions as F

_PLACEHOLDER = re.compile(r"^<[A-Z][A-Z_]*>$")

B = r"(?<![A-Za-z0-9])"          # not glued to a letter or digit on the left
E = r"(?![A-Za-z0-9])"           # ... nor on the right
H = "[0-9A-Fa-f]"
_MON = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)[a-z]*\.?"
_DOW = r"(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun)[a-z]*,?"
_TIME = r"[0-9]{1,2}:[0-9]{2}(?::[0-9]{2}(?:[.,][0-9]+)?)?"


_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
# generic and common country top-level domains, and the usual private suffixes
_TLD_NAMES = ("com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "uk", "de", "fr", "nl",
              "eu", "us", "ca", "au", "jp", "cn", "hk", "tw", "kr", "sg", "ru", "br", "local", "localdomain", "lan",
              "internal", "arpa", "tv", "me", "app", "dev", "ai")
_TLD = "|".join(_TLD_NAMES)
# file:line (Client.java:123) is a source position, not host:port
_SOURCE_EXT = "java|scala|kt|py|c|cc|cpp|cxx|h|hpp|go|rs|js|ts|rb|php|pl|cs|swift|m"


DIGIT = "<digit>"     # a guard: the text holds some digit
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Mask:
    name: str
    regex: str          # Java regex (and Python re.ASCII)
    placeholder: str    # e.g. <NUM>
    guard: tuple = ()   # one of these must hold or the regex is skipped: a literal the text contains, DIGIT,
                        # or (literal, n): the text holds the literal at least n times


# name -> (regex, placeholder), in the order the default list applies them.
PRESETS: dict[str, Mask] = {m.name: m for m in (
    # a quoted value of a key (tag="View Lock", name='x y'): data, and its words would change the token count
    Mask("quoted_value", r"(?<==\")[^\"]*(?=\")|(?<==')[^']*(?=')", "<STR>", ("=\"", "='")),
    Mask("url", r"(?<=://)[^\s\[\](){}<>\"',]+", "<URL>", ("://",)),      # scheme:// kept, the rest masked
    Mask("uuid", B + H + "{8}-" + H + "{4}-" + H + "{4}-" + H + "{4}-" + H + "{12}" + E, "<UUID>", (("-", 4),)),
    # host names: a dotted name ending in a common top-level domain (proxy.cse.cuhk.edu.hk, www.google.com),
    # or any dotted name with a letter in its last label right before :port (host.lan:5070). Class names
    # (org.apache.hadoop.Foo) end in neither, IPv4 addresses have no letter: both stay for later masks;
    # a source position (Client.java:123) is not a host.
    Mask("host", r"(?<![A-Za-z0-9_.@-])(?:" + _LABEL + r"\.)+(?:(?:" + _TLD + r")(?![A-Za-z0-9_-]|\.[A-Za-z0-9])"
         r"|(?!(?:" + _SOURCE_EXT + r"):)(?=[0-9-]*[A-Za-z])[A-Za-z0-9-]+(?=:[0-9]+(?![0-9A-Za-z.:])))", "<HOST>",
         tuple("." + t for t in _TLD_NAMES) + (":",)),
    Mask("mac", r"(?<![0-9A-Fa-f:-])(?:" + H + "{2}[:-]){5}" + H + r"{2}(?![0-9A-Fa-f:-])", "<MAC>",
         ((":", 5), ("-", 5))),
    # colon-separated hex bytes (CEC frames, keys): 4+ bytes, or 3+ with a hex letter (so 10:30:00 stays a time)
    Mask("hex_bytes", r"(?<![0-9A-Fa-f])(?:(?:" + H + "{2}:){3,}" + H + "{2}|(?=[0-9:]*[A-Fa-f])(?:" + H + "{2}:){2,}"
         + H + r"{2})(?![0-9A-Fa-f:])", "<HEX>", ((":", 2),)),
    Mask("ipv6", r"(?<![0-9A-Fa-f:.])(?:(?:" + H + "{1,4}:){7}" + H + "{1,4}|(?:" + H + "{1,4}:){1,7}:(?:"
         + H + "{1,4}(?::" + H + "{1,4}){0,6})?|::" + H + "{1,4}(?::" + H + r"{1,4}){0,6})(?![0-9A-Fa-f:])",
         "<IP>", ("::", (":", 7))),
    Mask("datetime", B + "(?:" + _DOW + r"\s+)?" + _MON + r"\s+[0-9]{1,2},?(?:\s+" + _TIME + r")?(?:\s+[0-9]{4})?" + E,
         "<DATETIME>", _MONTHS),                                   # Fri Jun 17 20:55:07 2005, Jun 14 15:16:01
    Mask("iso_datetime", B + r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ]" + _TIME + r"(?:Z|[+-][0-9]{2}:?[0-9]{2})?)?" + E,
         "<DATETIME>", (("-", 2),)),
    Mask("time", r"(?<![A-Za-z0-9.:])" + _TIME + E, "<TIME>", (":",)),     # not the tail of 10.1.2.3:80
    Mask("ipv4", r"(?<![0-9.])(?:[0-9]{1,3}\.){3}[0-9]{1,3}(?!\.?[0-9])", "<IP>", ((".", 3),)),  # :port -> :<NUM>
    Mask("path", r"(?<![A-Za-z0-9_.~/:<>-])(?:~|\.{1,2})?(?:/[A-Za-z0-9_.@%+=,~-]+){2,}/?", "<PATH>", (("/", 2),)),
    Mask("windows_path", B + r"[A-Za-z]:\\(?:[^\\\s:*?\"<>|]+\\)*[^\\\s:*?\"<>|]*", "<PATH>", (":\\",)),
    Mask("blk_id", r"(?<=blk_)-?[0-9]+" + E, "<NUM>", ("blk_",)),           # HDFS block ids: blk_<NUM>
    Mask("receiver_id", B + r"R[0-9]{10}" + E, "<RID>", ("R",)),
    Mask("prefixed_id", r"(?<=[A-Za-z]_)-?[A-Za-z0-9_]*[0-9][A-Za-z0-9_]*", "<ID>", ("_",)),  # attempt_1445_0020
    Mask("bool", r"(?<![A-Za-z0-9_])(?:true|false|True|False|TRUE|FALSE)(?![A-Za-z0-9_])", "<BOOL>",
         ("true", "false", "True", "False", "TRUE", "FALSE")),
    Mask("size", B + r"[-+]?[0-9]+(?:\.[0-9]+)?\s?(?:[kKMGTP]i?[Bb]|bytes?|B)" + E, "<SIZE>", ("B", "b")),
    Mask("duration", B + r"[-+]?[0-9]+(?:\.[0-9]+)?\s?"
         r"(?:ns|us|µs|ms|s|sec|secs|seconds?|mins?|minutes?|h|hrs?|hours?|days?)" + E, "<DUR>"),
    Mask("hex", B + r"(?:[0-9][xX]" + H + "+|(?=" + H + "*[0-9])(?=" + H + "*[A-Fa-f])" + H + "{6,})" + E, "<HEX>",
         (DIGIT,)),
    # a number, with exponent, or glued to a short unit (8.2dB, 59.94Hz, 12%, 64k): one value
    Mask("number", B + r"[-+]?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?(?:[A-Za-z]{1,3}(?![A-Za-z0-9])|%)?" + E, "<NUM>",
         (DIGIT,)),
    Mask("digits", r"[0-9]+", "<NUM>", (DIGIT,)),                           # what is left: wlan0 -> wlan<NUM>
)}

DEFAULT_MASKS = ("quoted_value", "url", "uuid", "host", "mac", "hex_bytes", "ipv6", "hex", "datetime", "iso_datetime", "time", "ipv4", "path",
                 "windows_path", "blk_id", "receiver_id", "prefixed_id", "bool", "size", "duration", "number", "digits")
PER_LINE_MASKS = 8      # the default list up to `hex` (ids that vary in letters too) could run per line, see pipeline


def check_mask(mask: Mask) -> Mask:
    if not _PLACEHOLDER.match(mask.placeholder):
        raise ValueError(f"mask {mask.name!r}: placeholder {mask.placeholder!r} must look like <NAME> "
                         "(upper-case letters and _, no digits)")
    return Mask(mask.name, non_capturing(mask.regex), mask.placeholder, mask.guard)


def non_capturing(regex: str) -> str:
    """``regex`` with every capturing ``(`` made ``(?:`` (escapes and character classes respected)."""
    out, i, in_class = [], 0, False
    while i < len(regex):
        ch = regex[i]
        if ch == "\\":
            out.append(regex[i:i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
            if regex[i + 1:i + 2] == "]":   # "[]...]": a literal ] first
                out.append("[]")
                i += 2
                continue
        elif ch == "(" and regex[i + 1:i + 2] != "?":
            out.append("(?:")
            i += 1
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def digit_blind(masks: Iterable[Mask]) -> bool:
    """True if ``masks`` give the same masked text for messages that differ only in digit values.

    Holds when no regex names a particular digit (``[0-9]`` classes, ``{m,n}`` counts and escapes
    aside) and the list ends with a mask that turns every remaining digit run into a
    placeholder (``digits``).
    """
    masks = list(masks)
    if not masks or re.fullmatch(r"\[0-9\]\+|\\d\+", masks[-1].regex) is None:
        return False
    for m in masks:
        rx = re.sub(r"\\[xu]\{?[0-9A-Fa-f]+\}?|\\.", "", m.regex)   # escapes
        rx = re.sub(r"\{[0-9,]*\}|\[[^\]]*0-9[^\]]*\]", "", rx)          # counts, classes with 0-9
        if re.search(r"[0-9]", rx) or re.search(r"\[[^\]]*[0-9][^\]]*\]", rx):
            return False
    return True


def resolve_masks(names: Iterable[str], custom: Iterable[tuple] = ()) -> list[Mask]:
    """Preset names (or names from ``templates.masks.custom``) → masks, in the order given."""
    table = dict(PRESETS)
    for name, regex, placeholder, *guard in custom:
        table[name] = Mask(name, regex, placeholder, tuple(guard[0]) if guard else ())
    unknown = [n for n in names if n not in table]
    if unknown:
        raise ValueError(f"unknown mask preset(s) {', '.join(unknown)}; known: {', '.join(table)}")
    return [check_mask(table[n]) for n in names]


def masks_by_format(settings) -> tuple[list[Mask], dict[str, list[Mask]]]:
    """(default masks, {format: masks}) from ``TemplateSettings``."""
    default = resolve_masks(settings.masks_default or DEFAULT_MASKS, settings.custom_masks)
    per = {fmt: resolve_masks(names, settings.custom_masks) for fmt, names in settings.masks_by_format}
    return default, per


def placeholders(masks: Iterable[Mask]) -> dict[str, list[str]]:
    """placeholder → the regexes that produce it (a value's shape, for parameter extraction)."""
    out: dict[str, list[str]] = {}
    for m in masks:
        out.setdefault(m.placeholder, []).append(m.regex)
    return out


def _guard(text: Column, mask: Mask, digit_blind_text: bool) -> Column | None:
    cond = None
    for g in mask.guard:
        if g == DIGIT:
            c = text.contains("0") if digit_blind_text else text.rlike("[0-9]")
        elif isinstance(g, (tuple, list)):
            lit, n = g
            c = (F.length(text) - F.length(F.replace(text, F.lit(lit), F.lit("")))) >= n * len(lit)
        else:
            c = text.contains(g)
        cond = c if cond is None else (cond | c)
    return cond


def mask_stages(df, col: str, masks: Iterable[Mask], only: Column | None = None, digit_blind_text: bool = False):
    """``df`` with column ``col`` masked in place, one projection per mask (rows where ``only`` holds).

    A mask whose guard literal is absent from the text is skipped for that row (a substring test
    instead of a regex scan); each mask is its own projection, so Spark evaluates it once per row.
    ``digit_blind_text``: the text's digits are all ``0`` (a digit-blind key), so "has a digit" is
    ``contains("0")``.
    """
    for m in masks:
        cur = F.col(col)
        cond = _guard(cur, m, digit_blind_text)
        if only is not None:
            cond = only if cond is None else (only & cond)
        new = F.regexp_replace(cur, m.regex, m.placeholder)
        df = df.withColumn(col, new if cond is None else F.when(cond, new).otherwise(cur))
    return df


def python_masker(masks: Iterable[Mask]) -> Callable[[str], str]:
    """The same masking in plain Python (``re.ASCII`` matches Java's ASCII classes): benchmarks, tests."""
    compiled = [(re.compile(m.regex, re.ASCII), m.placeholder.replace("\\", "\\\\")) for m in masks]

    def mask(text: str) -> str:
        for rx, rep in compiled:
            text = rx.sub(rep, text)
        return text

    return mask


def python_mining_text(settings) -> Callable[..., str]:
    """``(message, format=None) -> mining text``: the pipeline's key → mask → tokens path in Python."""
    from logalyzer.templates.tokens import py_mining_text, py_prekey

    default, per = masks_by_format(settings)
    blind = all(digit_blind(ms) for ms in [default, *per.values()])
    maskers = {fmt: python_masker(ms) for fmt, ms in per.items()}
    default_masker = python_masker(default)

    def text(message: str | None, fmt: str | None = None) -> str:
        key = py_prekey(message, settings.max_chars, blind)
        masked = maskers.get(fmt, default_masker)(key)
        cut = len(message or "") > settings.max_chars
        return py_mining_text(masked, cut, settings.max_tokens, settings.drain.extra_delimiters)

    return text
