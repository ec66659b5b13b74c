"""Column expressions that build ``map<string,int>`` count columns with built-in higher-order functions.

Counts are first aggregated per (group, key) in an ordinary hash aggregation; these helpers then fold
the few (key, count) pairs of each group into one map, so no per-line array is ever collected.
"""
from __future__ import annotations

from pyspark.sql import Column
from pyspark.sql import functions as F

UNKNOWN = "UNKNOWN"


def sum_by_key(pairs: Column, key: str = "k", value: str = "n") -> Column:
    """``array<struct<k:string, n:int>>`` (keys may repeat) -> ``map<string,int>`` of summed values."""
    keys = F.array_sort(F.array_distinct(F.transform(pairs, lambda p: p[key])))
    return F.map_from_arrays(
        keys,
        F.transform(keys, lambda k: F.aggregate(
            F.filter(pairs, lambda p: p[key] == k), F.lit(0), lambda acc, p: acc + p[value].cast("int"))))


def count_values(values: Column) -> Column:
    """``array<string>`` -> ``map<string,int>`` value -> occurrences (for short arrays)."""
    keys = F.array_sort(F.array_distinct(values))
    return F.map_from_arrays(keys, F.transform(keys, lambda k: F.size(F.filter(values, lambda v: v == k))))


def empty_if_null(map_col: Column) -> Column:
    return F.coalesce(map_col, F.create_map().cast("map<string,int>"))
