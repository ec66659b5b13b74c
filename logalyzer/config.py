"""Layered configuration: conf/base (shipped defaults) < conf/local (never committed) < --set overrides.

Every YAML file in a layer is merged into one dict (so each stage keeps its own file, e.g.
conf/base/ingest.yml). Secrets never live in files: a value written as ``${env:NAME}`` or
``${env:NAME:-default}`` is read from the environment when the configuration is loaded.
"""
from __future__ import annotations

import copy
import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
REPO_ROOT = Path(__file__).resolve().parent.parent


def find_conf_dir(conf_dir: str | None = None) -> Path:
    """The conf/ folder: an explicit one, $LOGALYZER_CONF_DIR, ./conf, or the one beside the package."""
    candidates = [conf_dir, os.environ.get("LOGALYZER_CONF_DIR"), "conf", str(REPO_ROOT / "conf")]
    for cand in candidates:
        if cand and (Path(cand) / "base").is_dir():
            return Path(cand)
    raise FileNotFoundError(
        "no configuration found: expected conf/base/*.yml under --conf-dir, $LOGALYZER_CONF_DIR, "
        "./conf or %s" % (REPO_ROOT / "conf"))


def deep_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in (override or {}).items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _read_layer(folder: Path) -> dict:
    merged: dict = {}
    if folder.is_dir():
        for path in sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")):
            with open(path, encoding="utf-8") as fh:
                merged = deep_merge(merged, yaml.safe_load(fh) or {})
    return merged


def _resolve_env(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_env(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v) for v in value]
    if isinstance(value, str):
        def repl(m):
            env = os.environ.get(m.group(1))
            return env if env is not None else (m.group(2) or "")
        return _ENV_REF.sub(repl, value)
    return value


def set_path(conf: dict, dotted: str, value: Any) -> None:
    node = conf
    keys = dotted.split(".")
    for key in keys[:-1]:
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def get_path(conf: dict, dotted: str, default: Any = None) -> Any:
    node: Any = conf
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node


def load_config(conf_dir: str | None = None, overrides: Iterable[str] = (), env: str = "local") -> dict:
    """Merge base, then the ``env`` layer, then ``key.path=value`` overrides (values parsed as YAML)."""
    root = find_conf_dir(conf_dir)
    conf = deep_merge(_read_layer(root / "base"), _read_layer(root / env))
    for item in overrides:
        if "=" not in item:
            raise ValueError(f"--set expects key.path=value, got {item!r}")
        key, raw = item.split("=", 1)
        set_path(conf, key.strip(), yaml.safe_load(raw))
    conf = _resolve_env(conf)
    conf["_conf_dir"] = str(root)
    return conf
