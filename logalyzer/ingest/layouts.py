"""Header layouts: the loghub ``<Date> <Time> <Level>: <Content>`` notation turned into one Java regex.

A layout names its fields in angle brackets; everything between them is regex text, where a run of
spaces means "any whitespace". ``<Content>`` is the free-text message. Presets (logcat threadtime,
the VAR message layout, ...) live in conf/base/ingest.yml and are written in the same notation.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

# <Name> or <Name:regex>; a typed field (e.g. <Pid:\d+>) matches faster than the default lazy .*?
_FIELD = re.compile(r"<([A-Za-z][A-Za-z0-9_]*(?::[^<>]+)?)>")

# Canonical bronze columns for the field names layouts commonly use (compared case-insensitively).
CANONICAL = {
    "level": "level", "pid": "pid", "tid": "tid", "tag": "tag", "component": "tag",
    "content": "message", "message": "message",
}
TIME_FIELDS = ("datetime", "month", "day", "date", "time", "year")
EPOCH_FIELDS = ("timestamp", "epoch")


@dataclass(frozen=True)
class Layout:
    name: str
    notation: str
    regex: str                 # Java/Python compatible, anchored, one capture group per field
    fields: tuple              # field names in group order

    def group(self, field: str) -> int:
        return self.fields.index(field) + 1


def compile_layout(notation: str, name: str | None = None) -> Layout:
    """``'<Date> <Time> <Level>: <Content>'`` → Layout with regex ``^(.*?)\\s+(.*?)\\s+(.*?):\\s+(.*)$``.

    A field may carry its own regex, ``<Pid:\\d+>``: the loghub notation's fields are all lazy
    ``.*?``, which backtracks at every character; typed fields let presets parse much faster.
    """
    parts = _FIELD.split(notation)
    if len(parts) < 3:
        raise ValueError(f"layout {notation!r} names no <Field>")
    regex, fields = [], []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            # The layout's own parentheses must not capture, or field groups would shift.
            literal = re.sub(r"(?<!\\)\((?!\?)", "(?:", part)
            regex.append(re.sub(" +", r"\\s+", literal))
        else:
            field, _, typed = part.partition(":")
            if field in fields:
                raise ValueError(f"layout {notation!r} names <{field}> twice")
            fields.append(field)
            regex.append("(" + re.sub(r"(?<!\\)\((?!\?)", "(?:", typed) + ")" if typed else "(.*?)")
    if not parts[-1] and regex[-2] == "(.*?)":
        # A layout ending in its last field: make that field greedy. Same match (it runs to the
        # end either way), but no end-of-line test at every character of the message.
        regex[-2] = "(.*)"  # regex[-1] is the empty literal after it
    pattern = "^" + "".join(regex) + "$"
    re.compile(pattern)  # a clear error here beats a Java stack trace later
    return Layout(name=name or notation, notation=notation, regex=pattern, fields=tuple(fields))


def resolve_layouts(fmt, presets: dict) -> list[Layout]:
    """A preset name, a layout string, or a list of either (tried in order) → compiled layouts."""
    items = fmt if isinstance(fmt, (list, tuple)) else [fmt]
    layouts = []
    for item in items:
        if item in presets:
            layouts.append(compile_layout(presets[item]["layout"], name=item))
        elif isinstance(item, str) and "<" in item:
            layouts.append(compile_layout(item))
        else:
            raise ValueError(f"unknown format {item!r}: use a preset ({', '.join(sorted(presets))}) "
                             "or a layout such as '<Date> <Time> <Level>: <Content>'")
    return layouts
