#!/usr/bin/env bash
# EMR bootstrap action (runs on every node before Spark starts): Python 3.11, a virtual environment
# with the logalyzer wheel and its dependencies, and the configuration folder. Executors then run
# /home/hadoop/logalyzer-venv/bin/python (spark.pyspark.python in configurations.json), so nothing
# has to be shipped per job.
#   Arguments: S3 prefix that holds dist/logalyzer-*.whl and conf/ (uploaded by deploy/emr/upload.sh)
#   e.g. --bootstrap-actions Path=s3://my-bucket/logalyzer/bootstrap.sh,Args=[s3://my-bucket/logalyzer]
set -euo pipefail
PREFIX=${1:?usage: bootstrap.sh s3://bucket/prefix}
VENV=/home/hadoop/logalyzer-venv
HOME_DIR=/home/hadoop/logalyzer

# EMR 7.x is Amazon Linux 2023: its python3 is 3.9, the pipeline wants 3.10 or 3.11.
sudo dnf install -y -q python3.11 python3.11-pip
python3.11 -m venv "$VENV"
mkdir -p "$HOME_DIR/dist"
aws s3 cp --recursive --quiet "$PREFIX/dist/" "$HOME_DIR/dist/"
aws s3 cp --recursive --quiet "$PREFIX/conf/" "$HOME_DIR/conf/"
aws s3 cp --recursive --quiet "$PREFIX/jobs/" "$HOME_DIR/jobs/"
aws s3 cp --quiet "$PREFIX/run-stage.sh" "$HOME_DIR/run-stage.sh"
"$VENV/bin/pip" install -q --upgrade pip
# EMR brings Spark 3.5 and Delta: the wheel was built with LOGALYZER_CLUSTER_WHEEL=1, so it does
# not pull a second pyspark; the executors' Python workers need pyarrow, pandas, drain3, torch.
"$VENV/bin/pip" install -q "$HOME_DIR"/dist/logalyzer-*.whl
