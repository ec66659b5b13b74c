#!/usr/bin/env bash
# Run a stage with spark-submit, shipping the logalyzer package to the executors.
#   ./spark-submit.sh ingest data/fleet            (local[*] by default)
#   SPARK_MASTER=yarn ./spark-submit.sh templates  (EMR; on Databricks use a job with the wheel)
set -euo pipefail
cd "$(dirname "$0")"
stage=${1:?usage: ./spark-submit.sh STAGE [ARGS...]   (stages: ingest, templates, sessions, publish)}
shift
PY=${PYTHON:-$(pwd)/.venv/bin/python}
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$PY} PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$PY}
SUBMIT=${SPARK_SUBMIT:-$("$PY" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit"))')}
zip_file=$(mktemp -d)/logalyzer.zip
(zip -qr "$zip_file" logalyzer -x '*__pycache__*' 2>/dev/null) || "$PY" -c "import shutil,sys; shutil.make_archive(sys.argv[1][:-4], 'zip', '.', 'logalyzer')" "$zip_file"
jars=()
[ -f /usr/share/java/postgresql.jar ] && jars=(--jars /usr/share/java/postgresql.jar)
log4j="-Dlog4j2.configurationFile=file:$(pwd)/logalyzer/log4j2.properties"
exec "$SUBMIT" --master "${SPARK_MASTER:-local[*]}" --driver-memory "${DRIVER_MEMORY:-4g}" \
  --driver-java-options "$log4j" --conf "spark.executor.extraJavaOptions=$log4j" \
  --conf spark.sql.session.timeZone=UTC "${jars[@]}" --py-files "$zip_file" "jobs/$stage.py" "$@"
