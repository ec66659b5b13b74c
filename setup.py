"""LOGalyzer: a Spark batch pipeline for fleet device logs.

Every dependency pin lives here, in one place. The set was checked together on
Python 3.11 + OpenJDK 17 (see docs/dependencies.md for why each pin is what it is).
"""
import os
import shutil
import subprocess
import sys

from setuptools import find_packages, setup


def _check_java():
    """Spark needs a JVM; fail early with the fix rather than deep inside py4j."""
    if os.environ.get("LOGALYZER_SKIP_JAVA_CHECK"):
        return
    java = shutil.which("java") or (
        os.path.join(os.environ["JAVA_HOME"], "bin", "java") if os.environ.get("JAVA_HOME") else None)
    hint = ("LOGalyzer needs Java 17 for Spark. Install it with "
            "`apt-get install openjdk-17-jre-headless` (Debian/Ubuntu) or "
            "`brew install openjdk@17` (macOS), or set JAVA_HOME. "
            "Set LOGALYZER_SKIP_JAVA_CHECK=1 to build a wheel for a cluster that has its own JVM.")
    if not java or not os.path.exists(java):
        sys.exit("error: java not found. " + hint)
    out = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    if not any(f'version "{v}' in out for v in ("17", "11", "21")):
        sys.stderr.write("warning: unexpected Java version (Spark 3.5 wants 17):\n" + out + hint + "\n")


_check_java()

# A wheel for a cluster that brings its own Spark and Delta (Databricks, EMR: see databricks.yml,
# deploy/emr/): requiring them would make pip install a second Spark over the cluster's.
CLUSTER_PROVIDED = ("pyspark", "delta-spark")


def _requirements(reqs):
    if os.environ.get("LOGALYZER_CLUSTER_WHEEL"):
        return [r for r in reqs if not r.startswith(CLUSTER_PROVIDED)]
    return reqs


setup(
    name="logalyzer",
    version="0.1.0",
    description="Fleet log analytics on Spark: ingest, templates, sessions, anomalies, dashboards",
    packages=find_packages(include=["logalyzer", "logalyzer.*"]),
    package_data={"logalyzer": ["log4j2.properties", "publish/migrations/*.sql", "publish/migrations/*.md",
                                "dashboards/source/*.yml", "dashboards/source/*/*.yml"]},
    python_requires=">=3.10,<3.12",
    install_requires=_requirements([
        "pyspark>=3.5.1,<3.6",          # 4.x needs pyarrow>=15, which petastorm cannot use
        "pyarrow==14.0.2",              # petastorm 0.12.1 needs pyarrow.filesystem (gone in 16)
        "numpy>=1.24,<2",               # pyarrow 14 is built against numpy 1.x
        "pandas>=2.2,<2.4",
        "petastorm==0.12.1",            # 0.13.1 pins setuptools<70, torch 2.13 needs >=77
        "torch==2.13.0",                # the CPU wheel; other versions pull GBs of CUDA
        "mlflow>=3,<4",
        "delta-spark>=3.3,<3.4",        # Delta 3.3 is the line for Spark 3.5
        "drain3-improved==0.10.0",      # imports as drain3; drain3 0.9.11 pins cachetools that mlflow cannot share
        "psycopg2-binary>=2.9,<3",
        "pgpq==0.12.0",                 # Arrow batches -> PostgreSQL binary COPY (the publish COPY writer)
        "PyYAML>=6",
        "requests>=2.31",               # `logalyzer dashboards install`: Superset's REST API
        "fastapi>=0.110,<1",            # the field-events service (`logalyzer serve`); mlflow 3 needs it too
        "uvicorn>=0.30,<1",             # its server (plain h11, no extras)
        "pydantic>=2.6,<3",             # strict event validation (extra fields forbidden)
        "scipy>=1.10",                  # t quantiles of the field-event impact intervals; mlflow needs it too
    ]),
    extras_require={"dev": ["pytest>=8", "pytest-timeout",
                            "playwright>=1.40",     # drives Debian's chromium in the dashboards browser test
                            "nbclient>=0.10", "nbformat>=5.9", "ipykernel>=6", "matplotlib>=3.7",  # notebooks in CI
                            "venv-pack>=0.2"]},  # spark-submit.sh on YARN: the packed environment
    entry_points={"console_scripts": ["logalyzer=logalyzer.cli:main"]},
)
