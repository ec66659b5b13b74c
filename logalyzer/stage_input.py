"""A stage's input table, or None when it exists but holds no rows (the stage then has nothing to do).

A missing table still raises the catalog's error, which names the stage to run first. An empty one
is not an error: an ingest that loaded no line leaves ``log_lines`` with no data file (a partitioned
Parquet write of no rows writes none), which Spark cannot even infer a schema from.
"""
from __future__ import annotations

from pyspark.errors import AnalysisException
from pyspark.sql import DataFrame


def read_input(catalog, name: str) -> DataFrame | None:
    """``catalog.read(name)``, or None when the table exists but holds no rows."""
    try:
        df = catalog.read(name)
    except AnalysisException as exc:
        if "UNABLE_TO_INFER_SCHEMA" in str(exc) and catalog.exists(name):
            return None
        raise
    return None if df.isEmpty() else df


def upstream_is_empty(catalog, name: str) -> bool:
    """Whether ``name`` exists and holds no rows (e.g. ``log_lines`` after an ingest that loaded nothing)."""
    return catalog.exists(name) and read_input(catalog, name) is None
