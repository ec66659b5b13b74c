"""Lake columns against PostgreSQL columns: the drift check, and values in the form each writer sends.

The migrations own the PostgreSQL schema; the lake's schema follows configuration (a new counter in
conf/base/sessions.yml is a new column). Before anything is written, every lake column must have a
PostgreSQL column of a compatible type, or publish stops with an error naming the column. Columns
only PostgreSQL has are left NULL when nullable (a counter switched off in conf), an error otherwise.

Conversions are Spark built-ins, done before the writer sees the rows: maps and structs become JSON
text (`to_json`) for `jsonb` columns; for the COPY writer, arrays become PostgreSQL array literals and
binary becomes `\\x` hex, so its Python side only streams Arrow batches as CSV.
"""
from __future__ import annotations

from dataclasses import dataclass

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql import types as T

from logalyzer.publish.connection import PublishError


class SchemaDriftError(PublishError):
    pass


@dataclass(frozen=True)
class PgColumn:
    name: str
    type: str            # format_type(): text, integer, bigint, jsonb, text[], timestamp with time zone, ...
    not_null: bool
    has_default: bool


def pg_columns(conn, schema: str, table: str) -> list[PgColumn]:
    with conn.cursor() as cur:
        cur.execute("""SELECT a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, a.atthasdef
                       FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
                       JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped
                       ORDER BY a.attnum""", (schema, table))
        return [PgColumn(*row) for row in cur.fetchall()]


_INTS = {T.ByteType: 1, T.ShortType: 2, T.IntegerType: 4, T.LongType: 8}
_PG_INTS = {"smallint": 2, "integer": 4, "bigint": 8}
_JSON = ("jsonb", "json")


def _base(pg_type: str) -> str:
    t = pg_type.split("(")[0].strip()
    return {"character varying": "text", "character": "text", "timestamp without time zone": "timestamp",
            "timestamp with time zone": "timestamptz", "double precision": "double", "real": "double"}.get(t, t)


def compatible(spark_type: T.DataType, pg_type: str) -> bool:
    """Whether lake values of ``spark_type`` go into a PostgreSQL ``pg_type`` column without loss."""
    pg = pg_type.strip()
    if pg.endswith("[]"):
        return isinstance(spark_type, T.ArrayType) and not isinstance(
            spark_type.elementType, (T.ArrayType, T.MapType, T.StructType)) and compatible(
            spark_type.elementType, pg[:-2])
    base = _base(pg)
    if base in _JSON:
        return isinstance(spark_type, (T.MapType, T.StructType, T.ArrayType, T.StringType))
    if type(spark_type) in _INTS:
        return (base in _PG_INTS and _PG_INTS[base] >= _INTS[type(spark_type)]) or base in ("numeric", "double")
    if isinstance(spark_type, (T.DoubleType, T.FloatType)):
        return base in ("double", "numeric")
    if isinstance(spark_type, T.DecimalType):
        return base in ("numeric", "double")
    same = {T.StringType: ("text",), T.BooleanType: ("boolean",), T.DateType: ("date",),
            T.TimestampType: ("timestamptz", "timestamp"), T.TimestampNTZType: ("timestamp", "timestamptz"),
            T.BinaryType: ("bytea",)}
    return base in same.get(type(spark_type), ())


def check_columns(table: str, qualified: str, lake: T.StructType, pg: list[PgColumn]) -> list[str]:
    """The columns to write (lake order), or SchemaDriftError naming every column that drifted."""
    if not pg:
        raise SchemaDriftError(f"PostgreSQL table {qualified} does not exist: run `logalyzer db upgrade` "
                               "(or add a migration that creates it)")
    by_name = {c.name: c for c in pg}
    problems = []
    for f in lake.fields:
        col = by_name.get(f.name)
        if col is None:
            problems.append(f"lake column {table}.{f.name} ({f.dataType.simpleString()}) has no column in "
                            f"{qualified}")
        elif not compatible(f.dataType, col.type):
            problems.append(f"column {table}.{f.name} is {f.dataType.simpleString()} in the lake but "
                            f"{col.type} in {qualified}")
    lake_names = {f.name for f in lake.fields}
    for col in pg:
        if col.name not in lake_names and col.not_null and not col.has_default:
            problems.append(f"column {qualified}.{col.name} is NOT NULL but the lake table {table} has no such column")
    if problems:
        raise SchemaDriftError("the lake table and PostgreSQL drifted apart (the migrations define the "
                               "PostgreSQL side; add a migration in logalyzer/publish/migrations/): "
                               + "; ".join(problems))
    return [f.name for f in lake.fields]


def _no_nul(col: Column) -> Column:
    # PostgreSQL text cannot hold U+0000; strip it only where present (instr is a byte search)
    return F.when(F.instr(col, "\u0000") > 0, F.translate(col, "\u0000", "")).otherwise(col)


def _array_literal(col: Column, element: T.DataType) -> Column:
    """A PostgreSQL array literal (``{"a","b",NULL}``) from a Spark array, with built-ins only."""
    if isinstance(element, T.StringType):
        quoted = F.transform(col, lambda x: F.when(x.isNull(), F.lit("NULL")).otherwise(
            F.concat(F.lit('"'), F.regexp_replace(F.regexp_replace(_no_nul(x), r"\\", r"\\\\"), '"', r'\\"'),
                     F.lit('"'))))
    elif isinstance(element, (T.DateType, T.TimestampType, T.TimestampNTZType)):
        quoted = F.transform(col, lambda x: F.when(x.isNull(), F.lit("NULL")).otherwise(
            F.concat(F.lit('"'), F.date_format(x, "yyyy-MM-dd HH:mm:ss.SSSSSSXXX")
                     if not isinstance(element, T.DateType) else x.cast("string"), F.lit('"'))))
    else:
        quoted = F.transform(col, lambda x: F.coalesce(x.cast("string"), F.lit("NULL")))
    return F.concat(F.lit("{"), F.array_join(quoted, ","), F.lit("}"))


_PG_SPARK = {"smallint": T.ShortType(), "integer": T.IntegerType(), "bigint": T.LongType(),
             "double": T.DoubleType(), "real": T.FloatType()}


def _exact(col: Column, spark_type: T.DataType, pg_type: str) -> Column:
    """``col`` cast to the Spark type whose binary form is exactly the PostgreSQL column's (binary COPY)."""
    if pg_type.endswith("[]") and isinstance(spark_type, T.ArrayType):
        element = _PG_SPARK.get(_base(pg_type[:-2]))
        if element is not None and element != spark_type.elementType:
            return col.cast(T.ArrayType(element))
        return col
    wanted = _PG_SPARK.get(_base(pg_type))
    return col.cast(wanted) if wanted is not None and wanted != spark_type else col


MODES = ("jdbc", "csv", "binary")


def prepare(df: DataFrame, columns: list[str], pg: list[PgColumn], mode: str = "jdbc") -> DataFrame:
    """``df`` reduced to ``columns``, values converted for the target column types (Spark built-ins only).

    ``mode``: what the writer sends. `jdbc` (and the fingerprint): JSON text for jsonb, arrays as
    arrays; `csv`: arrays as PostgreSQL array literals and bytea as hex text too; `binary`: numbers
    cast to the exact width of their PostgreSQL column.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    types = {c.name: c.type for c in pg}
    out = []
    for f in df.schema.fields:
        if f.name not in columns:
            continue
        c = F.col(f"`{f.name}`")
        pg_type = types[f.name]
        if _base(pg_type) in _JSON and not isinstance(f.dataType, T.StringType):
            c = F.to_json(c)
        elif isinstance(f.dataType, T.StringType):
            c = _no_nul(c)
        elif isinstance(f.dataType, T.ArrayType) and mode == "csv":
            c = _array_literal(c, f.dataType.elementType)
        elif isinstance(f.dataType, T.BinaryType) and mode == "csv":
            c = F.concat(F.lit("\\x"), F.lower(F.hex(c)))
        elif mode == "binary":
            c = _exact(c, f.dataType, pg_type)
        out.append(c.alias(f.name))
    return df.select(*out)


def jsonb_columns(columns: list[str], pg: list[PgColumn]) -> list[str]:
    types = {c.name: c.type for c in pg}
    return [c for c in columns if _base(types[c]) in _JSON]
