"""Shared fixtures: one real local SparkSession per test session, and a throw-away lake per test."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.pg_fixtures import pg, pg_server  # noqa: E402,F401  (the PostgreSQL fixtures, for every test module)

LOGHUB = Path(os.environ.get("LOGALYZER_LOGHUB", ROOT.parent / "shared" / "datasets" / "loghub_2k"))


@pytest.fixture(scope="session")
def base_conf():
    from logalyzer.config import load_config

    return load_config(str(ROOT / "conf"), env="__tests_ignore_local__")


@pytest.fixture(scope="session")
def spark(base_conf):
    from logalyzer.spark import build_spark

    conf = dict(base_conf)
    conf["spark"] = dict(conf["spark"], master="local[2]")
    conf["spark"]["local"] = dict(conf["spark"]["local"], **{"spark.sql.shuffle.partitions": 4,
                                                              "spark.driver.memory": "2g"})
    session = build_spark("logalyzer-tests", conf)
    yield session
    session.stop()


@pytest.fixture
def conf(base_conf, tmp_path):
    """The shipped configuration with the lake in a fresh temporary folder."""
    from logalyzer.config import deep_merge

    return deep_merge(base_conf, {"lake": {"root": str(tmp_path / "lake")}})


@pytest.fixture
def catalog(spark, conf):
    from logalyzer.catalog import Catalog

    return Catalog(spark, conf)


@pytest.fixture(scope="session")
def loghub_dir():
    if not (LOGHUB / "formats.json").exists():
        pytest.skip(f"loghub_2k sample datasets not found at {LOGHUB} (set LOGALYZER_LOGHUB)")
    return LOGHUB
