"""``map<string,number>`` count columns from array columns, with built-in functions, in O(n log n).

The array is sorted (``sort_array``, compiled), one pass marks where each run of equal keys starts,
and the run lengths (or the sums of their values) become the map. Each step is its own column:
a lambda that referred to an unmaterialised expression would re-evaluate it for every element
(Spark does not collapse such projections, so the staged columns are computed once per row).
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

UNKNOWN = "UNKNOWN"


def _run_starts(keys_col: str) -> Column:
    """1-based positions where a new key starts in the sorted array column ``keys_col``."""
    s = F.col(keys_col)
    return F.filter(F.sequence(F.lit(1), F.greatest(F.size(s), F.lit(1))),
                    lambda i: (i <= F.size(s)) & ((i == 1) | (F.element_at(s, i) != F.element_at(s, i - 1))))


def _run_end(starts_col: str, keys_col: str, j: Column) -> Column:
    """1-based end (exclusive) of the j-th (0-based) run."""
    return F.coalesce(F.element_at(F.col(starts_col), j + 2), F.size(F.col(keys_col)) + 1)


def with_count_map(df: DataFrame, values_col: str, out_col: str, value_type: str = "int") -> DataFrame:
    """Add ``out_col``: ``map<string,value_type>`` value -> occurrences in the array ``values_col``."""
    s, p = f"{out_col}__sorted", f"{out_col}__starts"
    df = df.withColumn(s, F.sort_array(F.coalesce(F.col(values_col), F.array().cast("array<string>"))))
    df = df.withColumn(p, _run_starts(s))
    return df.withColumn(out_col, F.map_from_arrays(
        F.transform(F.col(p), lambda i: F.element_at(F.col(s), i)),
        F.transform(F.col(p), lambda st, j: (_run_end(p, s, j) - st).cast(value_type)))).drop(s, p)


def with_sum_map(df: DataFrame, pairs_col: str, out_col: str, key: str = "k", value: str = "n",
                 value_type: str = "long") -> DataFrame:
    """Add ``out_col``: ``map<string,value_type>`` from ``array<struct<k, n>>`` (keys may repeat), summing n."""
    s, k, v, p = (f"{out_col}__{x}" for x in ("sorted", "keys", "values", "starts"))
    df = df.withColumn(s, F.sort_array(F.col(pairs_col)))
    df = df.withColumn(k, F.transform(F.col(s), lambda x: x[key])) \
           .withColumn(v, F.transform(F.col(s), lambda x: x[value].cast(value_type)))
    df = df.withColumn(p, _run_starts(k))
    return df.withColumn(out_col, F.map_from_arrays(
        F.transform(F.col(p), lambda i: F.element_at(F.col(k), i)),
        F.transform(F.col(p), lambda st, j: F.aggregate(
            F.slice(F.col(v), st, _run_end(p, k, j) - st), F.lit(0).cast(value_type), lambda a, x: a + x)))
    ).drop(s, k, v, p)


def empty_if_null(map_col: Column, value_type: str = "int") -> Column:
    return F.coalesce(map_col, F.create_map().cast(f"map<string,{value_type}>"))
