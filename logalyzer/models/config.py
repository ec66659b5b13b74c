"""The `models:` section of the configuration (conf/base/models.yml), parsed and checked once.

``ModelsConfig.of(conf)`` takes the full configuration dict (it also needs ``project.work_dir`` for
the default MLflow store and petastorm cache), so every stage and test reads the same defaults.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

UNIT_KINDS = ("session", "id", "fixed", "sliding")
DETECTORS = ("deeplog", "autoencoder")


@dataclass(frozen=True)
class DeepLogConfig:
    history: int = 10
    embedding: int = 32
    hidden: int = 64
    layers: int = 2
    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 0.003
    max_flagged_share: float = 0.0
    max_k: int = 100
    min_steps: int = 1000


@dataclass(frozen=True)
class AutoencoderConfig:
    hidden: tuple[int, ...] = (64, 16)
    epochs: int = 60
    batch_size: int = 256
    learning_rate: float = 0.002
    threshold_percentile: float = 100.0
    threshold_from: str = "validation"    # `validation`: the held-out units; `training`: every unit of the period
    score_features: int = 5               # the score is the mean of the largest this many errors; 0: all
    reason_features: int = 3
    min_scale: float = 1.0
    min_steps: int = 1000


@dataclass(frozen=True)
class MlflowConfig:
    tracking_uri: str = ""
    registry_uri: str = ""
    experiment: str = "logalyzer"
    model_prefix: str = "logalyzer"
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    default_store: bool = True          # tracking_uri came from project.work_dir, not from conf
    artifact_location: str | None = None

    def model_name(self, detector: str, unit_kind: str) -> str:
        return f"{self.model_prefix}-{detector}-{unit_kind}"


@dataclass(frozen=True)
class ModelsConfig:
    units: tuple[str, ...] = ("session",)
    detectors: tuple[str, ...] = DETECTORS
    seed: int = 42
    device: str = "auto"
    threads: int = 0
    validation_share: float = 0.2
    min_train_units: int = 20
    vocab_max_size: int = 5000
    vocab_min_count: int = 1
    metrics: tuple[str, ...] | None = None        # None: every numeric unit column but `exclude`
    metrics_exclude: tuple[str, ...] = ()
    counts_from: str = "sequence"                  # sequence | all (features.COUNT_SOURCES)
    deeplog: DeepLogConfig = field(default_factory=DeepLogConfig)
    autoencoder: AutoencoderConfig = field(default_factory=AutoencoderConfig)
    mlflow: MlflowConfig = field(default_factory=MlflowConfig)
    score_alias: str = "champion"
    batch_units: int = 512
    max_windows_per_forward: int = 16384
    min_detectors: int = 1
    petastorm_cache_dir: str = ""
    work_dir: str = "work"

    @classmethod
    def of(cls, conf) -> "ModelsConfig":
        if isinstance(conf, ModelsConfig):
            return conf
        conf = conf or {}
        m = conf.get("models") or {}
        work_dir = os.path.abspath(str((conf.get("project") or {}).get("work_dir") or "work"))
        units = _names(m.get("units", ["session"]), UNIT_KINDS, "models.units")
        detectors = _names(m.get("detectors", list(DETECTORS)), DETECTORS, "models.detectors")
        vocab, feats = m.get("vocabulary") or {}, m.get("features") or {}
        dl, ae, ml, sc = (m.get(k) or {} for k in ("deeplog", "autoencoder", "mlflow", "score"))
        share = float(m.get("validation_share", 0.2))
        if not 0 < share < 1:
            raise ValueError(f"models.validation_share must lie between 0 and 1, got {share!r}")
        metrics = feats.get("metrics", "auto")
        deeplog = DeepLogConfig(**{k: type(getattr(DeepLogConfig, k))(v) for k, v in dl.items()
                                   if k in DeepLogConfig.__dataclass_fields__})
        if deeplog.history < 1 or deeplog.max_k < 1 or not 0 <= deeplog.max_flagged_share < 1:
            raise ValueError("models.deeplog: history and max_k must be >= 1, max_flagged_share in [0, 1)")
        ae_kw = {k: v for k, v in ae.items() if k in AutoencoderConfig.__dataclass_fields__}
        if "hidden" in ae_kw:
            ae_kw["hidden"] = tuple(int(x) for x in ae_kw["hidden"])
        autoencoder = AutoencoderConfig(**{k: (v if k == "hidden" else type(getattr(AutoencoderConfig, k))(v))
                                           for k, v in ae_kw.items()})
        if not autoencoder.hidden or not 0 < autoencoder.threshold_percentile <= 100:
            raise ValueError("models.autoencoder: hidden needs at least one layer, threshold_percentile in (0, 100]")
        _names(autoencoder.threshold_from, ("training", "validation"), "models.autoencoder.threshold_from")
        if autoencoder.score_features < 0:
            raise ValueError("models.autoencoder.score_features must be >= 0 (0: the mean over every feature)")
        tracking = ml.get("tracking_uri") or ""
        default_store = not tracking
        if default_store:
            tracking = "sqlite:///" + os.path.join(work_dir, "mlflow.db")
        mlflow_cfg = MlflowConfig(
            tracking_uri=str(tracking), registry_uri=str(ml.get("registry_uri") or tracking),
            experiment=str(ml.get("experiment") or "logalyzer"), model_prefix=str(ml.get("model_prefix") or "logalyzer"),
            champion_alias=str(ml.get("champion_alias") or "champion"),
            challenger_alias=str(ml.get("challenger_alias") or "challenger"), default_store=default_store,
            artifact_location=("file://" + os.path.join(work_dir, "mlartifacts")) if default_store else None)
        return cls(
            units=units, detectors=detectors, seed=int(m.get("seed", 42)), device=str(m.get("device", "auto")),
            threads=int(m.get("threads") or 0), validation_share=share,
            min_train_units=int(m.get("min_train_units", 20)),
            vocab_max_size=int(vocab.get("max_size", 5000)), vocab_min_count=int(vocab.get("min_count", 1)),
            metrics=None if metrics in (None, "auto") else tuple(str(x) for x in metrics),
            metrics_exclude=tuple(str(x) for x in feats.get("exclude") or ()),
            counts_from=_names(feats.get("counts", "sequence"), ("sequence", "all"), "models.features.counts")[0],
            deeplog=deeplog, autoencoder=autoencoder, mlflow=mlflow_cfg,
            score_alias=str(sc.get("alias") or mlflow_cfg.champion_alias),
            batch_units=int(sc.get("batch_units", 512)),
            max_windows_per_forward=int(sc.get("max_windows_per_forward", 16384)),
            min_detectors=int(sc.get("min_detectors", 1)),
            petastorm_cache_dir=str(m.get("petastorm_cache_dir") or ("file://" + os.path.join(work_dir, "petastorm"))),
            work_dir=work_dir,
        )


def _names(value, allowed: tuple, what: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or ())
    bad = [v for v in items if v not in allowed]
    if bad or not items:
        raise ValueError(f"{what}: {', '.join(map(repr, bad)) or 'nothing'} given; choose from {', '.join(allowed)}")
    return tuple(dict.fromkeys(items))
