"""Scoring units in parallel: ``mapInPandas`` around a scorer, one model call per Arrow batch.

The scorer (weights, vocabulary, k or threshold) is shipped to the executors with the function,
so they need no access to the MLflow registry; each task scores its Arrow batches of
``models.score.batch_units`` units with one vectorised call (one torch batch, chunked only to bound
memory). Nothing comes back to the driver: the result is a DataFrame for the stage to write.
"""
from __future__ import annotations

import contextlib

import pandas as pd
from pyspark.sql import DataFrame

from logalyzer.models.features import MODEL_INPUT
from logalyzer.models.units import UNIT_KEYS

SCORE_COLUMNS = "score double, threshold double, flagged boolean, reason string, loss double, loss_weight double"
_KEY_TYPES = ("unit_kind string, unit_id string, key string, device_id string, start_ts timestamp, "
              "end_ts timestamp, date date")


@contextlib.contextmanager
def arrow_batches(spark, units_per_batch: int):
    """Arrow batches of ``units_per_batch`` rows for the actions run inside (restored afterwards)."""
    key = "spark.sql.execution.arrow.maxRecordsPerBatch"
    previous = spark.conf.get(key)
    spark.conf.set(key, str(int(units_per_batch)))
    try:
        yield
    finally:
        spark.conf.set(key, previous)


def score_units(units: DataFrame, scorer) -> DataFrame:
    """``units`` (model input shape, see ``features.model_input``) → unit keys + score columns."""
    def fn(batches):
        import torch

        torch.set_num_threads(1)      # one Spark task per core already
        for pdf in batches:
            out = scorer.score(pdf)
            yield pd.concat([pdf[list(UNIT_KEYS)].reset_index(drop=True), out.reset_index(drop=True)], axis=1)

    return units.select(*UNIT_KEYS, *MODEL_INPUT).mapInPandas(fn, f"{_KEY_TYPES}, {SCORE_COLUMNS}")
