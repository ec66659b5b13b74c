"""Layered configuration: conf/base (shipped defaults) < conf/local (never committed) < --set overrides.

Every YAML file in a layer is merged into one dict (so each stage keeps its own file, e.g.
conf/base/ingest.yml). Secrets never live in files: a value written as ``${env:NAME}`` or
``${env:NAME:-default}`` is read from the environment when the configuration is loaded; an unset
NAME without a default is an error (never a silent empty password).

conf/base is also the schema: a key set in another layer or by ``--set`` must exist there (the
sections in OPEN_SECTIONS take keys of the user's choosing) and have a value of the same type, and
no key may be set by two base files. All of it is checked here, before Spark starts.
"""
from __future__ import annotations

import copy
import difflib
import os
import re
from pathlib import Path
from typing import Any, Iterable

import yaml

from logalyzer.errors import ConfigError

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)(?::-(.*?))?\}")
REPO_ROOT = Path(__file__).resolve().parent.parent


def find_conf_dir(conf_dir: str | None = None) -> Path:
    """The conf/ folder: an explicit one, $LOGALYZER_CONF_DIR, ./conf, or the one beside the package."""
    candidates = [conf_dir, os.environ.get("LOGALYZER_CONF_DIR"), "conf", str(REPO_ROOT / "conf")]
    for cand in candidates:
        if cand and (Path(cand) / "base").is_dir():
            return Path(cand)
    raise ConfigError(
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


# Sections whose keys are names the user chooses (a new table, preset, counter, Spark setting), so a
# key missing from conf/base is not a misspelling there. ``*`` stands for any one key.
OPEN_SECTIONS = (
    "tables", "spark.local", "spark.conf", "ingest.formats", "templates.masks.by_format",
    "templates.masks.custom", "sessions.counters", "sessions.line_counters", "sessions.content_fields",
    "publish.jdbc.url_options",
)
# Settings that take more than the type of their shipped default.
EXTRA_TYPES = {"ingest.format": (list,), "sessions.sequence_lines": (list,)}


def _read_yaml(path: Path) -> dict:
    try:
        with open(path, encoding="utf-8") as fh:
            data = yaml.safe_load(fh) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected `key: value` settings at the top, got {type(data).__name__}")
    return data


def _layer_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")) if folder.is_dir() else []


def _leaves(node: dict, prefix: str = ""):
    for key, value in node.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            yield from _leaves(value, dotted)
        else:
            yield dotted


def _read_layer(folder: Path, unique: bool = False) -> dict:
    """Merge the layer's files; with ``unique`` (the base layer) a key set by two files is an error."""
    merged: dict = {}
    where: dict = {}
    for path in _layer_files(folder):
        data = _read_yaml(path)
        if unique:
            for dotted in _leaves(data):
                for other, origin in where.items():
                    if dotted == other or dotted.startswith(other + ".") or other.startswith(dotted + "."):
                        raise ConfigError(f"setting {dotted!r} is set in both {origin} and {path}: "
                                          "keep it in one base file")
                where[dotted] = path
        merged = deep_merge(merged, data)
    return merged


def _is_open(dotted: str) -> bool:
    parts = dotted.split(".")
    for pattern in OPEN_SECTIONS:
        pat = pattern.split(".")
        if len(parts) > len(pat) and all(p in ("*", k) for p, k in zip(pat, parts)):
            return True
    return False


_TYPE_NAMES = {bool: "true or false", int: "a whole number", float: "a number", str: "text", list: "a list",
               dict: "a section of settings"}


def _type_ok(value: Any, expected: tuple) -> bool:
    if isinstance(value, bool):
        return bool in expected
    if isinstance(value, int) and (int in expected or float in expected or str in expected):
        return True
    if isinstance(value, float) and (float in expected or str in expected):
        return True
    return isinstance(value, expected)


def check_against_base(base: dict, layer: dict, source: str, prefix: str = "") -> None:
    """Every key of ``layer`` must exist in ``base`` (or lie in an open section), with a value of its type."""
    for key, value in layer.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if _is_open(dotted):
            continue
        if not isinstance(base, dict) or key not in base:
            siblings = [str(k) for k in base] if isinstance(base, dict) else []
            close = difflib.get_close_matches(str(key), siblings, n=1)
            hint = f"; did you mean {(prefix + '.' if prefix else '') + close[0]!r}?" if close else (
                f"; known here: {', '.join(sorted(siblings))}" if siblings and len(siblings) <= 12 else "")
            raise ConfigError(f"unknown setting {dotted!r} ({source}){hint}")
        default = base[key]
        if default is None or value is None or (isinstance(value, str) and _ENV_REF.search(value)):
            continue
        if isinstance(default, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"setting {dotted!r} is a section ({', '.join(sorted(map(str, default)))}), "
                                  f"not a single value: got {value!r} ({source})")
            check_against_base(default, value, source, dotted)
            continue
        expected = (type(default),) + EXTRA_TYPES.get(dotted, ())
        if float in expected:
            expected += (int,)
        if not _type_ok(value, expected):
            want = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in dict.fromkeys(expected) if t is not int
                               or float not in expected)
            raise ConfigError(f"setting {dotted!r} expects {want}, got {value!r} ({source})")


def _resolve_env(value: Any, dotted: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _resolve_env(v, f"{dotted}.{k}" if dotted else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, dotted) for v in value]
    if isinstance(value, str):
        def repl(m):
            env = os.environ.get(m.group(1))
            if env is not None:
                return env
            if m.group(2) is None:
                raise ConfigError(f"setting {dotted!r} reads the environment variable {m.group(1)}, which is not "
                                  f"set: export {m.group(1)}=..., or give a default as ${{env:{m.group(1)}:-...}}")
            return m.group(2)
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
    base = _read_layer(root / "base", unique=True)
    conf = base
    for path in _layer_files(root / env):
        layer = _read_yaml(path)
        check_against_base(base, layer, f"in {path}")
        conf = deep_merge(conf, layer)
    for item in overrides:
        if "=" not in item or not item.split("=", 1)[0].strip():
            raise ConfigError(f"--set expects KEY=VALUE, e.g. ingest.max_line_length=10000, got {item!r}")
        key, raw = item.split("=", 1)
        try:
            value = yaml.safe_load(raw)
        except yaml.YAMLError:
            value = raw
        single: dict = {}
        set_path(single, key.strip(), value)
        check_against_base(base, single, f"--set {item}")
        set_path(conf, key.strip(), value)
    conf = _resolve_env(conf)
    conf["_conf_dir"] = str(root)
    return conf
