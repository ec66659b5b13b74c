"""MLflow tracking and Model Registry: where models are logged, registered, promoted and loaded from.

Default store: a SQLite database and an artifact folder in ``project.work_dir``; any tracking URI
from conf (an MLflow server, ``databricks``) works the same. The store is checked before any
training starts, so an unreachable server is one clear error and nothing is half-registered.

Promotion: a new version gets the alias ``champion`` only when it is at least as good as the
current champion on the validation metric, measured on the same validation units (lower is better:
DeepLog's mean negative log-likelihood per position, the Autoencoder's mean reconstruction error);
otherwise it gets ``challenger`` and the version's tags say why.
"""
from __future__ import annotations

import contextlib
import logging
import os
import re
import tempfile
import warnings

from logalyzer.models.config import ModelsConfig

log = logging.getLogger(__name__)
SCORER_ARTIFACT = "scorer.pt"


class RegistryError(RuntimeError):
    """The tracking store or a model in it cannot be used; the message says which and what to do."""


def redact(uri: str) -> str:
    """A URI without credentials (user:password@ or a token in the query), for messages."""
    uri = re.sub(r"//[^/@]*@", "//***@", str(uri))
    return re.sub(r"(?i)(token|password|secret)=[^&]*", r"\1=***", uri)


@contextlib.contextmanager
def _quick_http():
    """A reachability check should fail in seconds, not after MLflow's minutes of retries."""
    keys = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "10"}
    old = {k: os.environ.get(k) for k in keys}
    os.environ.update(keys)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def configure(cfg: ModelsConfig):
    """Point MLflow at the configured store, check it answers, make sure the experiment exists.

    Returns an ``MlflowClient``; raises ``RegistryError`` naming the (redacted) URI otherwise.
    """
    import mlflow
    from mlflow import MlflowClient

    m = cfg.mlflow
    if m.default_store:
        os.makedirs(cfg.work_dir, exist_ok=True)
    for noisy in ("mlflow", "alembic", "mlflow.store.db.utils"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    mlflow.set_tracking_uri(m.tracking_uri)
    mlflow.set_registry_uri(m.registry_uri)
    client = MlflowClient(tracking_uri=m.tracking_uri, registry_uri=m.registry_uri)
    try:
        with _quick_http():
            experiment = client.get_experiment_by_name(m.experiment)
            if experiment is None:
                client.create_experiment(m.experiment, artifact_location=m.artifact_location)
            client.search_registered_models(max_results=1)
    except Exception as exc:  # any transport or store error: one clear line, the cause kept for --verbose
        raise RegistryError(f"MLflow tracking store at {redact(m.tracking_uri)} cannot be used: "
                            f"{type(exc).__name__}: {_first_line(exc)}") from exc
    mlflow.set_experiment(m.experiment)
    return client


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return redact(text[0])[:300] if text else ""


def _requirements() -> list[str]:
    import mlflow
    import numpy
    import pandas
    import torch

    from logalyzer import __version__

    return [f"logalyzer=={__version__}", f"torch=={torch.__version__.split('+')[0]}", f"mlflow=={mlflow.__version__}",
            f"numpy=={numpy.__version__}", f"pandas=={pandas.__version__}"]


def log_detector(scorer, name: str):
    """Log ``scorer`` as a pyfunc model in the active run and register it as a new version of ``name``."""
    import mlflow
    import torch

    from logalyzer.models.pyfunc import SIGNATURE, DetectorModel

    with tempfile.TemporaryDirectory() as tmp, warnings.catch_warnings():
        # MLflow suggests type hints, an input example and models-from-code: the signature is explicit
        # and the model class is importable, so none applies here
        warnings.simplefilter("ignore", UserWarning)
        logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)
        path = os.path.join(tmp, SCORER_ARTIFACT)
        torch.save(scorer, path)
        info = mlflow.pyfunc.log_model(name="model", python_model=DetectorModel(), artifacts={"scorer": path},
                                       signature=SIGNATURE, registered_model_name=name,
                                       pip_requirements=_requirements())
    return info


def champion(client, name: str, alias: str):
    """The version ``name@alias``, or None when the model or the alias does not exist."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(name, alias)
    except MlflowException:
        return None


def load_scorer(cfg: ModelsConfig, name: str, alias: str):
    """(scorer, version) of ``models:/name@alias``; a clear ``RegistryError`` when there is none."""
    import mlflow

    client = configure(cfg)
    version = champion(client, name, alias)
    if version is None:
        known = [v.version for v in client.search_model_versions(f"name='{name}'")] if _exists(client, name) else []
        hint = (f"model {name!r} has versions {', '.join(sorted(known, key=int))} but none is {alias!r}: "
                f"set the alias in the MLflow UI or run `logalyzer train`" if known
                else f"no model {name!r}: run `logalyzer train` first")
        raise RegistryError(f"no model version {name}@{alias} in the registry at "
                            f"{redact(cfg.mlflow.registry_uri)}: {hint}")
    model = mlflow.pyfunc.load_model(f"models:/{name}@{alias}")
    return model.unwrap_python_model().scorer, version


def _exists(client, name: str) -> bool:
    from mlflow.exceptions import MlflowException

    try:
        client.get_registered_model(name)
        return True
    except MlflowException:
        return False


def promote(client, cfg: ModelsConfig, name: str, version: str, metric: float,
            champion_metric: float | None, champion_version: str | None) -> tuple[str, str]:
    """Give ``version`` the champion alias when it is at least as good, else the challenger alias."""
    m = cfg.mlflow
    if champion_version is None:
        alias, why = m.champion_alias, "first version with a validation metric: it becomes the champion"
    elif champion_metric is None or metric <= champion_metric:
        alias = m.champion_alias
        why = (f"validation metric {metric:.6g} <= champion v{champion_version}'s {champion_metric:.6g} "
               "on the same validation units" if champion_metric is not None
               else f"champion v{champion_version} could not be evaluated on the validation units")
    else:
        alias = m.challenger_alias
        why = (f"validation metric {metric:.6g} is worse than champion v{champion_version}'s "
               f"{champion_metric:.6g} on the same validation units; the champion stays")
    client.set_registered_model_alias(name, alias, version)
    client.set_model_version_tag(name, version, "validation_metric", f"{metric:.6g}")
    client.set_model_version_tag(name, version, "promotion", why)
    return alias, why
