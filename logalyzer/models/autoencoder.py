"""Autoencoder over per-unit features: reconstruction error says how unlike the training units a unit is.

Features (``Featurizer.features``): the template count vector over the vocabulary (with an
out-of-vocabulary bucket) and the unit's metrics (VAR counters and durations, line and error
counts, duration), each as a sign-preserving log1p, then standardised with the training units'
mean and standard deviation (stored with the model). The **score** is the mean of the
``score_features`` largest squared reconstruction errors of the unit: a mean over every feature
shrinks as the vocabulary grows, so one badly reconstructed feature among a thousand templates
would vanish, while a fault shows in a few features at once. The **threshold** is a percentile of
the validation units' scores (``threshold_percentile``; ``threshold_from``); the reason
of a flagged unit names the features with the largest error, with the value seen and the value the
model expected. Training minimises, and the champion comparison uses, the plain mean squared error
(``loss``).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from logalyzer.models.features import Featurizer

DETECTOR = "autoencoder"


def _torch():
    import torch

    return torch


def make_net(n_features: int, hidden: tuple):
    """``n_features`` → hidden... → bottleneck → ...hidden → ``n_features``, ReLU between layers."""
    nn = _torch().nn
    sizes = [n_features, *hidden, *reversed(hidden[:-1]), n_features]
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


# -- training rows (Spark) -------------------------------------------------------------------------
def feature_rows(units: DataFrame, featurizer: Featurizer) -> DataFrame:
    """Units → ``unit_id, features`` (array<float> of ``featurizer.n_features``)."""
    def fn(batches):
        for pdf in batches:
            x = featurizer.features(pdf)
            yield pd.DataFrame({"unit_id": pdf["unit_id"], "features": list(x)})

    cols = ["unit_id", "template_seq", "count_keys", "count_values", "metric_names", "metric_values"]
    return units.select(*cols).mapInPandas(fn, "unit_id string, features array<float>")


def feature_stats(rows: DataFrame, n_features: int, min_scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and scale over ``rows`` (one aggregation; n_features values back).

    The scale is the standard deviation, but at least ``min_scale``: a feature that is almost
    always 0 (a rare template, a rare event) has a tiny deviation, and dividing by it made one
    occurrence weigh as much as a storm. Features are log1p values, so the default of 1 reads
    "an e-fold change counts as one unit".
    """
    stats = (rows.select(F.posexplode("features").alias("i", "x")).groupBy("i")
             .agg(F.avg("x").alias("mean"), F.stddev_pop("x").alias("std")).collect())
    mean = np.zeros(n_features, dtype=np.float32)
    std = np.ones(n_features, dtype=np.float32)
    for r in stats:
        mean[r["i"]] = r["mean"] or 0.0
        std[r["i"]] = max(float(r["std"] or 0.0), min_scale, 1e-6)
    return mean, std


def make_loss(mean: np.ndarray, std: np.ndarray):
    torch = _torch()
    mean_t, std_t = torch.as_tensor(mean), torch.as_tensor(std)

    def loss(model, batch, device):
        x = (batch["features"].to(device=device, dtype=torch.float32) - mean_t.to(device)) / std_t.to(device)
        err = ((model(x) - x) ** 2).mean(1)
        return err.sum(), float(len(err))

    return loss


# -- scoring ---------------------------------------------------------------------------------------
def top_mean(sq: np.ndarray, k: int) -> np.ndarray:
    """Per row, the mean of its ``k`` largest values (every value when ``k`` is 0 or not smaller)."""
    if not sq.shape[1]:
        return np.zeros(len(sq))
    if k <= 0 or k >= sq.shape[1]:
        return sq.mean(1).astype(np.float64)
    return np.partition(sq, sq.shape[1] - k, axis=1)[:, -k:].mean(1).astype(np.float64)


class AutoencoderScorer:
    """The trained net, its featurizer, normalisation and threshold: scores a pandas batch of units."""

    detector = DETECTOR

    def __init__(self, net, featurizer: Featurizer, meta: dict, mean: np.ndarray, std: np.ndarray):
        self.net = net
        self.featurizer = featurizer
        self.meta = dict(meta)          # n_features, hidden, threshold, reason_features
        self.mean, self.std = np.asarray(mean, dtype=np.float32), np.asarray(std, dtype=np.float32)

    @property
    def threshold(self) -> float:
        t = self.meta.get("threshold")
        return float(t) if t is not None else float("nan")

    def with_aliases(self, aliases: dict) -> "AutoencoderScorer":
        self.featurizer = self.featurizer.with_aliases(aliases)
        return self

    def __getstate__(self):
        return {"state": {k: v.cpu() for k, v in self.net.state_dict().items()}, "featurizer": self.featurizer,
                "meta": self.meta, "mean": self.mean, "std": self.std}

    def __setstate__(self, d):
        self.meta = d["meta"]
        self.net = make_net(self.meta["n_features"], tuple(self.meta["hidden"]))
        self.net.load_state_dict(d["state"])
        self.net.eval()
        self.featurizer, self.mean, self.std = d["featurizer"], d["mean"], d["std"]

    def reconstruct(self, raw: np.ndarray) -> np.ndarray:
        """Standardised features → their reconstruction (same space)."""
        torch = _torch()
        device = next(self.net.parameters()).device
        self.net.eval()
        with torch.no_grad():
            return self.net(torch.as_tensor(raw, dtype=torch.float32, device=device)).cpu().numpy()

    def score(self, pdf: pd.DataFrame) -> pd.DataFrame:
        raw = self.featurizer.features(pdf)
        x = (raw - self.mean) / self.std
        y = self.reconstruct(x) if len(x) else x
        sq = (y - x) ** 2
        mse = sq.mean(1).astype(np.float64) if sq.shape[1] else np.zeros(len(x))
        err = top_mean(sq, int(self.meta.get("score_features") or 0))   # models before it: the mean
        t = self.meta.get("threshold")
        flagged = err > t if t is not None else np.zeros(len(x), dtype=bool)
        reasons = [None] * len(x)
        if flagged.any():
            names = self.featurizer.feature_names()
            expected = y * self.std + self.mean
            top = int(self.meta.get("reason_features", 3))
            for u in np.flatnonzero(flagged):
                worst = np.argsort(-sq[u], kind="stable")[:top]
                reasons[u] = "; ".join(self._describe(names[i], raw[u, i], expected[u, i]) for i in worst)
        return pd.DataFrame({"score": err, "threshold": np.full(len(x), self.threshold), "flagged": flagged,
                             "reason": reasons, "loss": mse, "loss_weight": np.ones(len(x))})

    def _describe(self, name: str, seen: float, expected: float) -> str:
        # features are slog1p values: show them back in the units the operator knows
        back = lambda v: float(np.sign(v) * np.expm1(abs(v)))   # noqa: E731
        if name.startswith("template "):
            tid = name[len("template "):]
            text = ""
            if tid != "<OOV>":
                t = self.featurizer.vocab.text(self.featurizer.lut.get(tid, -1)) or ""
                text = f" \"{(t[:57] + '...') if len(t) > 60 else t}\""
            else:
                tid = "outside the vocabulary"
            return f"template {tid}{text}: {back(seen):,.0f} lines (expected ~{max(back(expected), 0):,.1f})"
        return f"{name}: {back(seen):,.6g} (expected ~{back(expected):,.3g})"
