r"""Lines → parsed columns, Spark-native: one regex per layout, no Python UDF on this path.

Each layout is applied with a single ``regexp_replace`` that rewrites a matching line's header
into its fields, each after a separator (then one ``split``), so a line costs one regex match
however many fields the layout has; the message, the last field, is left as it is. Lines are read
one file per task, which gives exact per-file line numbers from ``monotonically_increasing_id``
without a shuffle. Every line gets an ``outcome``: ``loaded``, ``rescued`` (loaded with a null
``ts`` and its text in ``rescued_data``: the layout matched but its timestamp could not be read),
``blank``, or the quarantine reason (``too_long``, ``invalid_utf8``, ``no_format_match``).
Lines end at ``\n`` only (a ``\r\n`` ending loses its ``\r``; a lone ``\r`` stays in the line), so
the line count of a file's bytes is the row count of its file.
"""
from __future__ import annotations

import contextlib

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from logalyzer.ingest.layouts import CANONICAL, EPOCH_FIELDS, TIME_FIELDS, Layout, compile_layout, resolve_layouts
from logalyzer.ingest.timestamps import parse_timestamp, roll_back_year, year_less

_SEP = "\u001f"        # before each field of a rewritten line
QUARANTINE_REASONS = ("too_long", "invalid_utf8", "no_format_match")
KEPT = ("loaded", "rescued")  # outcomes that become log_lines rows
_LEVELS = {"V": "VERBOSE", "D": "DEBUG", "I": "INFO", "W": "WARN", "WARNING": "WARN", "E": "ERROR",
           "ERR": "ERROR", "F": "FATAL", "A": "FATAL", "CRITICAL": "FATAL", "CRIT": "FATAL"}


@contextlib.contextmanager
def one_partition_per_file(spark: SparkSession):
    """Make every input file exactly one scan partition (one task per file, in line order)."""
    huge = str(1 << 40)
    keys = ("spark.sql.files.maxPartitionBytes", "spark.sql.files.openCostInBytes")
    previous = {k: spark.conf.get(k) for k in keys}
    for k in keys:
        spark.conf.set(k, huge)
    try:
        yield
    finally:
        for k, v in previous.items():
            spark.conf.set(k, v)


_OPEN_TAIL = "(.*)$"


def _open_tail(layout: Layout) -> bool:
    """Whether the layout's last field runs to the end of the line (``<Content>`` last, untyped)."""
    return layout.regex.endswith(_OPEN_TAIL) and len(layout.fields) > 1


def _java_regex(layout: Layout) -> str:
    # DOTALL and \z: a stray \r or U+2028 inside a message must not end the match early.
    if _open_tail(layout):
        # Only the header is matched and rewritten; the last field is the untouched rest of the
        # line, so the message is not copied through the regex and the split.
        return "(?s)" + layout.regex[:-len(_OPEN_TAIL)]
    return "(?s)" + layout.regex[:-1] + r"\z"


def rewrite(text: Column, layout: Layout) -> Column:
    """``text`` rewritten to a separator before each field; unchanged if the layout does not match.

    With an open tail (see ``_open_tail``) the last field is not a group: it stays in place after
    the last separator. A text that holds the separator itself gets null (no match): its fields
    could not be told apart.
    """
    n = len(layout.fields) - 1 if _open_tail(layout) else len(layout.fields)
    replacement = "".join(f"{_SEP}${i + 1}" for i in range(n)) + (_SEP if _open_tail(layout) else "")
    return F.when(~text.contains(_SEP), F.regexp_replace(text, _java_regex(layout), replacement))


def with_fields(df: DataFrame, text: Column, layout: Layout, out: str) -> DataFrame:
    """``df`` plus ``out``: the layout's fields of ``text`` (array, in field order), null if no match.

    A matched text splits into one empty string plus its fields; an unmatched one (it holds no
    separator) into itself alone. The split runs in its own projection, so Spark evaluates it once
    per line rather than once per use, and no substring (a character walk over the line) is needed.
    """
    n = len(layout.fields)
    parts = f"{out}__split"
    df = df.select("*", F.split(rewrite(text, layout), _SEP, -1).alias(parts))
    matched = F.size(parts) == n + 1
    return df.select("*", F.when(matched, F.slice(parts, 2, n)).alias(out)).drop(parts)


def normalise_level(level: Column) -> Column:
    upper = F.upper(F.trim(level))
    mapping = F.create_map(*[F.lit(x) for kv in _LEVELS.items() for x in kv])
    return F.coalesce(F.element_at(mapping, upper), F.when(upper != "", upper))


def _layout_columns(parts: Column, layout: Layout) -> dict:
    """The canonical columns of one layout from its fields array, plus the raw time texts."""
    by_name = {name: F.trim(parts.getItem(i)) for i, name in enumerate(layout.fields)}
    canon, extra = {}, []
    for name, col in by_name.items():
        low = name.lower()
        if low in CANONICAL and CANONICAL[low] not in canon:
            canon[CANONICAL[low]] = parts.getItem(layout.fields.index(name)) if low in ("content", "message") else col
        elif low not in TIME_FIELDS and low not in EPOCH_FIELDS:
            extra.append((name, col))
    time_cols = [by_name[n] for n in layout.fields if n.lower() in TIME_FIELDS]
    epoch_cols = [by_name[n] for n in layout.fields if n.lower() in EPOCH_FIELDS]
    none = F.lit(None).cast("string")
    return {
        "level": normalise_level(canon["level"]) if "level" in canon else none,
        "pid": canon["pid"].cast("int") if "pid" in canon else F.lit(None).cast("int"),
        "tid": canon["tid"].cast("int") if "tid" in canon else F.lit(None).cast("int"),
        "tag": canon.get("tag", none),
        "message": canon.get("message", none),
        "fields": (F.map_from_arrays(F.array(*[F.lit(n) for n, _ in extra]), F.array(*[c for _, c in extra]))
                   if extra else F.create_map().cast("map<string,string>")),
        "format": F.lit(layout.name),
        "_time_text": F.concat_ws(" ", *time_cols) if time_cols else none,
        "_epoch_text": epoch_cols[0] if epoch_cols else none,
    }


def _formats_for(layout: Layout, ingest_conf: dict) -> list[str]:
    """``timestamp_format`` (conf or ``--timestamp-format``), else a preset's own formats, else the general list.

    Every format adds generated code to the per-line loop: past ~10, Spark's 64 KB method limit
    sends the stage to its slow interpreted path, so presets name exactly what they need.
    """
    named = ingest_conf.get("timestamp_format")
    if named:
        return [named] if isinstance(named, str) else list(named)
    own = ((ingest_conf.get("formats") or {}).get(layout.name) or {}).get("timestamp_formats")
    return list(own or ingest_conf.get("timestamp_formats") or [])


def parse_lines(lines: DataFrame, ingest_conf: dict, fmt=None) -> DataFrame:
    """Raw lines with their file's facts → parsed columns + ``outcome``.

    Input columns: ``value`` (one raw line), ``source_file``, ``line_no``, ``file_modified`` (from
    ``read_lines``) and ``source_hash``, ``device_id``, ``file_date`` (from ``with_file_facts``).

    Built in stages (rewrite → split → fields → timestamp) so each regex runs once per line and
    the generated code stays small: Spark keeps an expression used several times in its own
    projection rather than inlining it into every use.
    """
    presets = ingest_conf.get("formats") or {}
    layouts = resolve_layouts(fmt or ingest_conf.get("format", "logcat"), presets)
    value = F.col("value")
    max_len = int(ingest_conf.get("max_line_length", 65536))
    default_year = ingest_conf.get("default_year")
    year = F.coalesce(F.year(F.col("_file_date")),
                      F.lit(default_year).cast("int") if default_year else F.lit(None).cast("int"),
                      F.year(F.col("file_modified")))

    df = lines.select("*", value.cast("binary").alias("raw"), F.col("file_date").alias("_file_date"))
    df = df.select("*", (F.octet_length("raw") > max_len).alias("_too_long"),
                   (F.encode(value, "UTF-8") != F.col("raw")).alias("_bad_utf8"))
    for i, lay in enumerate(layouts):
        df = with_fields(df, F.when(~F.col("_too_long"), value), lay, f"_parts{i}")
    layout_no = F.coalesce(*[F.when(F.col(f"_parts{i}").isNotNull(), F.lit(i)) for i in range(len(layouts))])
    df = df.select("*", layout_no.alias("_layout"))
    per_layout = [_layout_columns(F.col(f"_parts{i}"), lay) for i, lay in enumerate(layouts)]
    picked = {}
    for name in per_layout[0]:
        expr = None
        for i in reversed(range(len(layouts))):  # first layout wins
            expr = F.when(F.col("_layout") == i, per_layout[i][name]) if expr is None else \
                F.when(F.col("_layout") == i, per_layout[i][name]).otherwise(expr)
        picked[name] = expr.alias(name)
    df = df.select("value", "raw", "source_file", "source_hash", "device_id", "line_no", "_file_date", "_too_long", "_bad_utf8", "_layout",
                   "file_modified", *picked.values())
    ts = None
    for i in reversed(range(len(layouts))):
        formats = _formats_for(layouts[i], ingest_conf)
        parsed = parse_timestamp(F.col("_time_text"), formats, year)
        if any(f.lower() in EPOCH_FIELDS for f in layouts[i].fields):
            parsed = F.coalesce(parsed, parse_timestamp(F.col("_epoch_text"), ["epoch", "iso"], year))
        ts = F.when(F.col("_layout") == i, parsed) if ts is None else F.when(F.col("_layout") == i, parsed).otherwise(ts)
    df = df.select("*", ts.alias("_ts"))
    # A year-less preset (logcat) stamped well after its file's date belongs to the year before;
    # done in its own projection so the parse above is generated once, not three times.
    rolls = [i for i, lay in enumerate(layouts) if year_less((_formats_for(lay, ingest_conf) or ["iso"])[0])]
    rolled = roll_back_year(F.col("_ts"), F.col("_file_date"))
    ts = F.when(F.col("_layout").isin(*rolls), rolled).otherwise(F.col("_ts")) if rolls else F.col("_ts")
    df = df.select("*", ts.alias("ts"))
    # A line whose header matched but whose time text could not be read is kept (ts null), like
    # Auto Loader's _rescued_data: losing a whole file over an unknown time format is worse.
    unreadable_time = F.col("ts").isNull() & (F.coalesce(F.col("_time_text"), F.col("_epoch_text"), F.lit("")) != "")
    outcome = (F.when(F.col("_too_long"), "too_long")
               .when(F.col("_bad_utf8"), "invalid_utf8")
               .when(F.trim(value) == "", "blank")
               .when(F.col("_layout").isNull(), "no_format_match")
               .when(unreadable_time, "rescued")
               .otherwise("loaded"))
    # Rows without a time still land in a date partition: their file's date, else its modification day.
    date = F.coalesce(F.to_date("ts"), F.col("_file_date"), F.to_date("file_modified"))
    df = df.select(
        "device_id", "ts", date.alias("date"), "level", "pid", "tid", "tag", "message",
        "fields", "format", "source_file", "source_hash", "line_no", F.md5(F.col("raw")).alias("line_hash"),
        "raw", outcome.alias("outcome"),
        F.when(outcome == "rescued", value).alias("rescued_data"),
    )
    return add_var_fields(df, ingest_conf.get("var") or {})


def add_var_fields(df: DataFrame, var_conf: dict) -> DataFrame:
    """Split the message of VAR lines (tag = ``var.tag``) into category, function, event type, data."""
    tag = var_conf.get("tag", "VAR")
    layout = compile_layout(var_conf.get("layout", r"\[<Category>\] <Function>\(\) <EventType> <Data>"), name="var")
    df = with_fields(df, F.when(F.col("tag") == tag, F.col("message")), layout, "_var")
    cols = {"var_category": "Category", "var_function": "Function", "var_event_type": "EventType", "var_data": "Data"}
    for col, field in cols.items():
        item = F.trim(F.col("_var").getItem(layout.fields.index(field))) if field in layout.fields else F.lit(None)
        df = df.withColumn(col, item.cast("string"))
    return df.drop("_var")


def file_facts(path: str, ingest_conf: dict) -> tuple:
    """(device_id, file_date) of one file path: worked out once per file, not once per line."""
    import datetime as dt
    import re

    device = re.search(ingest_conf.get("device_id_pattern") or r"R\d{10}", path)
    date = re.search(ingest_conf["file_date_pattern"], path)
    try:
        file_date = dt.date(*(int(g) for g in date.groups()[:3])) if date else None
    except ValueError:
        file_date = None
    return (device.group(0) if device else None), file_date


def with_file_facts(spark: SparkSession, lines: DataFrame, files: list[dict], ingest_conf: dict) -> DataFrame:
    """Attach each file's content hash, device id, date and lines to skip to its lines (a broadcast join)."""
    facts = spark.createDataFrame(
        [(f["path"], f["content_hash"], *file_facts(f["path"], ingest_conf), f.get("skip_lines") or 0,
          f.get("lines", 1 << 62)) for f in files],
        "source_file string, source_hash string, device_id string, file_date date, skip_lines long, max_line long")
    return lines.join(F.broadcast(facts), on="source_file", how="left")


def read_lines(spark: SparkSession, paths: list[str]) -> DataFrame:
    r"""Raw lines of ``paths`` with file and 1-based line number (call inside ``one_partition_per_file``).

    Lines end at ``\n``: Spark's default also splits at a lone ``\r`` (a progress line such as
    ``10%\r20%``), which shifts every later line number and disagrees with the file's line count.
    """
    value = F.col("value")
    df = spark.read.option("lineSep", "\n").text(paths).select(
        # bytewise (binary substring): a character-wise cut could take an invalid UTF-8 byte with it
        F.when(value.endswith("\r"), F.expr("CAST(substring(CAST(value AS BINARY), 1, octet_length(value) - 1) AS STRING)"))
        .otherwise(value).alias("value"),
        F.col("_metadata.file_path").alias("source_file"),
        F.col("_metadata.file_modification_time").alias("file_modified"),
    )
    # One file per partition, read in order: the id minus the partition's base is the line index.
    line_no = F.monotonically_increasing_id() - F.shiftleft(F.spark_partition_id().cast("long"), 33) + 1
    return df.withColumn("line_no", line_no)
