#!/usr/bin/env bash
# An EMR step: `run-stage.sh STAGE [ARGS...]` = spark-submit jobs/STAGE.py ARGS with the bootstrap's
# virtual environment (steps.json). `run-stage.sh --db-secret ID publish ...`: the database comes from
# a Secrets Manager secret holding {"url": ..., "user": ..., "password": ...}, never from a file.
set -euo pipefail
if [ "${1:-}" = --db-secret ]; then LOGALYZER_DB_SECRET_ID=${2:?--db-secret needs a secret id}; shift 2; fi
STAGE=${1:?usage: run-stage.sh STAGE [ARGS...]}
shift
HOME_DIR=/home/hadoop/logalyzer
JOB=$HOME_DIR/jobs/$STAGE.py
[ -f "$JOB" ] || { echo "run-stage.sh: no such stage: $STAGE ($JOB)" >&2; exit 2; }
if [ -n "${LOGALYZER_DB_SECRET_ID:-}" ]; then
  secret=$(aws secretsmanager get-secret-value --secret-id "$LOGALYZER_DB_SECRET_ID" --query SecretString --output text)
  eval "$(/home/hadoop/logalyzer-venv/bin/python -c '
import json, shlex, sys
s = json.loads(sys.argv[1])
for key in ("url", "user", "password"):
    if s.get(key):
        print(f"export LOGALYZER_DB_{key.upper()}={shlex.quote(s[key])}")' "$secret")"
fi
export PYSPARK_PYTHON=/home/hadoop/logalyzer-venv/bin/python PYSPARK_DRIVER_PYTHON=/home/hadoop/logalyzer-venv/bin/python
exec spark-submit --deploy-mode client --conf spark.sql.session.timeZone=UTC "$JOB" "$@" --conf-dir "$HOME_DIR/conf"
