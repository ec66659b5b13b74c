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


def _has_year(pattern: str) -> bool:
    return "y" in pattern.replace("'", "")


def parse_timestamp(text: Column, formats: list[str], year: Column) -> Column:
    """``text`` read with the first of ``formats`` that parses; null when none does.

    ``year`` completes year-less formats (see ``roll_back_year`` for the new-year edge).
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
            attempts.append(F.to_timestamp(no_weekday if fmt.startswith("MMM") else cleaned, fmt))
        else:
            text = no_weekday if fmt.startswith("MMM") else cleaned
            attempts.append(F.to_timestamp(F.concat_ws(" ", year.cast("string"), text), "yyyy " + fmt))
    return F.coalesce(*attempts)


def year_less(fmt: str) -> bool:
    return fmt not in ("iso", "epoch") and not _has_year(fmt)


def roll_back_year(ts: Column, file_date: Column) -> Column:
    """A year-less line stamped well after its file's date belongs to the previous year."""
    late = file_date.isNotNull() & (F.to_date(ts) > F.date_add(file_date, 2))
    return F.when(late, ts - F.expr("INTERVAL 1 YEAR")).otherwise(ts)
