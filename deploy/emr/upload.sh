#!/usr/bin/env bash
# Build the cluster wheel and upload it with conf/, jobs/ and the bootstrap to an S3 prefix.
#   deploy/emr/upload.sh s3://my-bucket/logalyzer
set -euo pipefail
PREFIX=${1:?usage: upload.sh s3://bucket/prefix}
cd "$(dirname "$0")/../.."
rm -rf build/emr-dist && mkdir -p build/emr-dist
LOGALYZER_SKIP_JAVA_CHECK=1 LOGALYZER_CLUSTER_WHEEL=1 python3 -m pip wheel -q --no-deps -w build/emr-dist .
aws s3 sync --delete build/emr-dist "$PREFIX/dist/"
aws s3 sync --delete --exclude '*' --include '*.yml' conf/base "$PREFIX/conf/base/"
aws s3 sync --delete --exclude '*' --include '*.py' jobs "$PREFIX/jobs/"
aws s3 cp deploy/emr/bootstrap.sh "$PREFIX/bootstrap.sh"
aws s3 cp deploy/emr/run-stage.sh "$PREFIX/run-stage.sh"
echo "uploaded; create a cluster with deploy/emr/README.md's command, then add deploy/emr/steps.json"
