"""The MLflow model: a pyfunc around a trained scorer, so any MLflow tool can load and call it.

The scorer (``DeepLogScorer`` or ``AutoencoderScorer``: net weights, featurizer with its
vocabulary, k or threshold) is one artifact, ``scorer.pt``. ``predict`` takes units in the model
input shape (``features.MODEL_INPUT``, arrays only) and returns score, threshold, flagged and
reason per unit, so ``mlflow.pyfunc.spark_udf`` works too; LOGalyzer's own scoring job unwraps the
scorer and calls it once per Arrow batch (``scoring.py``).
"""
from __future__ import annotations

import mlflow.pyfunc
from mlflow.models import ModelSignature
from mlflow.types.schema import Array, ColSpec, Schema

OUTPUT_COLUMNS = ("score", "threshold", "flagged", "reason")
SIGNATURE = ModelSignature(
    inputs=Schema([ColSpec(Array("string"), "template_seq"), ColSpec(Array("string"), "count_keys"),
                   ColSpec(Array("long"), "count_values"), ColSpec(Array("string"), "metric_names"),
                   ColSpec(Array("double"), "metric_values")]),
    outputs=Schema([ColSpec("double", "score"), ColSpec("double", "threshold"), ColSpec("boolean", "flagged"),
                    ColSpec("string", "reason", required=False)]))


class DetectorModel(mlflow.pyfunc.PythonModel):
    """Loads ``scorer.pt`` and scores a pandas frame of units."""

    def load_context(self, context):
        import torch

        # our own pickle, written by logalyzer.models.registry.log_detector
        self.scorer = torch.load(context.artifacts["scorer"], weights_only=False, map_location="cpu")

    def predict(self, context, model_input, params=None):
        return self.scorer.score(model_input)[list(OUTPUT_COLUMNS)]
