"""Event time from header fields, with Spark-native functions only.

Several formats are tried in order with ``coalesce`` (it stops at the first that reads), so a
source whose preset names its own format pays for one parse per line. Year-less formats (logcat,
syslog) take the year from the file's date; a line that lands far after the file date belongs to
the year before (a 31 Dec line in a file dated 1 Jan).
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

_WEEKDAY = r"^(?i)(mon|tue|wed|thu|fri|sat|sun)[a-z]*,?\s+"
_FIXED = {"yyyy": 4, "yy": 2, "MM": 2, "dd": 2, "HH": 2, "mm": 2, "ss": 2}


def _fixed_width(fmt: str):
    """Field positions of an all-numeric, fixed-width pattern (a fraction may end it), else None."""
    fields, literals, pos, i = {}, [], 1, 0
    while i < len(fmt):
        j = i
        while j < len(fmt) and fmt[j] == fmt[i]:
            j += 1
        run = fmt[i:j]
        if run[0] == "S" and j == len(fmt):
            fields["S"] = (pos, len(run))
        elif run in _FIXED:
            fields[run] = (pos, _FIXED[run])
            pos += _FIXED[run]
        elif not run[0].isalpha() and run[0] != "'":
            literals.extend((pos + k, ch) for k, ch in enumerate(run))
            pos += len(run)
        else:
            return None
        i = j
    return fields, literals, pos - 1


def _fast_parse(text: Column, fmt: str, year: Column):
    """``make_timestamp`` from substrings: several times cheaper than a DateTimeFormatter per line."""
    spec = _fixed_width(fmt)
    if spec is None:
        return None
    fields, literals, width = spec

    def num(key):
        p, n = fields[key]
        return F.substring(text, p, n).cast("int")

    y = num("yyyy") if "yyyy" in fields else (num("yy") + 2000 if "yy" in fields else year)
    sec = num("ss").cast("decimal(10,6)") if "ss" in fields else F.lit(0).cast("decimal(10,6)")
    if "S" in fields:
        p, n = fields["S"]
        frac = F.substring(text, p, min(n, 6))
        sec = F.concat(F.substring(text, fields["ss"][0], 2), F.lit("."), frac).cast("decimal(10,6)")
    seps = F.concat(*[F.substring(text, p, 1) for p, _ in literals]) if literals else F.lit("")
    shape_ok = (F.length(text) >= width + (1 if "S" in fields else 0)) & (seps == "".join(c for _, c in literals))
    if "S" not in fields:
        shape_ok = shape_ok & (F.length(text) == width)
    return F.when(shape_ok, F.make_timestamp(y, num("MM"), num("dd"), num("HH") if "HH" in fields else F.lit(0),
                                             num("mm") if "mm" in fields else F.lit(0), sec))


def _has_year(pattern: str) -> bool:
    return "y" in pattern.replace("'", "")


def parse_timestamp(text: Column, formats: list[str], year: Column, file_date: Column) -> Column:
    """``text`` read with the first of ``formats`` that parses; null when none does.

    ``year`` completes year-less formats; ``file_date`` (may be null) rolls those back a year.
    """
    cleaned = F.trim(text)
    no_weekday = F.regexp_replace(cleaned, _WEEKDAY, "")
    attempts = []
    for fmt in formats:
        if fmt == "iso":
            attempts.append(F.when(cleaned.rlike(r"^\d{4}-\d{2}-\d{2}[T ]\d"), cleaned.cast("timestamp")))
        elif fmt == "epoch":
            attempts.append(
                F.when(cleaned.rlike(r"^\d{13}$"), F.timestamp_millis(cleaned.cast("long")))
                .when(cleaned.rlike(r"^\d{9,10}(\.\d+)?$"), F.timestamp_seconds(cleaned.cast("decimal(20,6)"))))
        elif _has_year(fmt):
            fast = _fast_parse(cleaned, fmt, year)
            if fast is not None:
                attempts.append(fast)
            attempts.append(F.to_timestamp(no_weekday if fmt.startswith("MMM") else cleaned, fmt))
        else:
            fast = _fast_parse(cleaned, fmt, year)
            text = no_weekday if fmt.startswith("MMM") else cleaned
            ts = F.to_timestamp(F.concat_ws(" ", year.cast("string"), text), "yyyy " + fmt)
            attempts.append(_roll_back_year(F.coalesce(fast, ts) if fast is not None else ts, file_date))
    return F.coalesce(*attempts)


def _roll_back_year(ts: Column, file_date: Column) -> Column:
    """A year-less line stamped well after its file's date belongs to the previous year."""
    late = file_date.isNotNull() & (F.to_date(ts) > F.date_add(file_date, 2))
    return F.when(late, ts - F.expr("INTERVAL 1 YEAR")).otherwise(ts)
