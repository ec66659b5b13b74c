#!/usr/bin/env bash
# Launcher: run chosen pipeline stages through spark-submit, for a list of input folders or dates,
# N independent lakes at a time (the replaced system's launcher ran chosen steps per device group,
# five at a time). `./spark-submit.sh --help` explains every flag; docs/scaling.md says how to size it.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
STAGES=(ingest templates sessions train score publish)   # the order they always run in

usage() {
  cat <<'EOF'
Usage: ./spark-submit.sh [STAGE FLAGS] [OPTIONS] [INPUT ...] [-- SPARK-SUBMIT OPTIONS]

Runs the chosen stages, always in pipeline order, each as its own spark-submit of jobs/<stage>.py
(the same arguments as `logalyzer <stage>`). Stops at the first failing stage with its log's tail
and exit code 1.

Stage flags (pick any subset; none given means all six):
  -i, --ingest         gzip/plain logs under INPUT -> log_lines, quarantine (jobs/ingest.py INPUT)
  -t, --templates      log_lines -> events, templates (jobs/templates.py)
  -s, --sessions       events -> sessions, event_sequences, device_timeseries (jobs/sessions.py)
      --train          train DeepLog + Autoencoder, register them in MLflow (jobs/train.py)
      --score          score units with the champion models (jobs/score.py)
      --publish        gold tables -> PostgreSQL (jobs/publish.py)
  -a, --all            all six stages

What to run them for:
  INPUT ...            input folders, files or globs (local, hdfs://, s3a://): one item each
  -d, --date D[,D...]  dates (YYYY-MM-DD, repeatable): one item each. Passed to `sessions` and `score`
                       as --date; with an INPUT holding {date} (e.g. 's3a://logs/{date}/') each date
                       also gets its own ingest input
      --from D --to D  every date from D to D (inclusive), as --date

Where results go (the placeholder {item} is replaced by the item: the date, or the input's base name):
  -l, --lake ROOT      lake root (default: lake.root of the configuration). With {item} in it, every
                       item is an independent lake, and items run in parallel (see below)
      --set KEY=VALUE  configuration override for every stage (repeatable); may hold {item}, e.g.
                       --set project.work_dir=work/{item} to give each lake its own MLflow store
      --conf-dir DIR   configuration folder (default: ./conf if present, else the one beside this script)
      --env NAME       configuration override layer (default: local)
      --ingest-args A  extra arguments for one stage, as one string: --ingest-args '--format log4j
      --templates-args A             --strict', --templates-args --full, --train-args '--detector
      --sessions-args A              deeplog', --publish-args '--writer jdbc sessions', ...
      --train-args A, --score-args A, --publish-args A

Parallelism:
  -P, --parallel N     items run at most N at a time (default: 5). Only independent lakes run in
                       parallel: with {item} in --lake, each item's stages run one after another in
                       its own lake, N items at once. With one shared lake nothing runs concurrently
                       (two stages writing the same tables would race): ingest reads each item's input
                       in turn, then every later stage runs once for all items, dates passed together;
                       Spark's own parallelism spreads each stage over the cluster.
      --fail-fast      on a failure, also stop the items already running (default: let their current
                       stage finish - each stage commits once, at its end - but start nothing new)

Spark:
  -m, --master URL     spark-submit --master (default: $SPARK_MASTER or local[*])
      --deploy-mode M  client (default) or cluster
      --driver-memory S  (default: $DRIVER_MEMORY or 4g)
  -- OPTIONS ...       everything after -- goes to spark-submit unchanged, e.g.
                       -- --executor-memory 8g --num-executors 20 --conf spark.sql.shuffle.partitions=400
      --venv-archive F on YARN, the packed virtual environment to ship (tar.gz made by venv-pack).
                       Default with --master yarn: build/logalyzer-venv.tar.gz, built once (a fresh
                       virtual environment with `pip install .`, packed by venv-pack) and shipped with
                       --archives F#environment, so executors get drain3, pandas, pyarrow and torch,
                       not only the logalyzer package (which also goes as --py-files, always current)
      --no-venv-archive  do not ship one (the cluster's nodes already have the dependencies)

Other:
      --log-dir DIR    where each stage's output goes (default: logs/launcher-<time>)
  -n, --dry-run        print the spark-submit commands, run nothing
  -h, --help           this help

Environment: PYTHON (the driver's interpreter; default .venv/bin/python, else python3), SPARK_SUBMIT
(default: the one inside the pyspark package), SPARK_MASTER, DRIVER_MEMORY.

Examples:
  ./spark-submit.sh data/fleet                                  # every stage on one folder, local[*]
  ./spark-submit.sh -i -t -s --date 2026-11-20,2026-11-21 's3a://logs/{date}/' -m yarn
  ./spark-submit.sh -i -t -P 5 --lake 'lake/{item}' groups/g1 groups/g2 groups/g3   # 3 lakes at once
  ./spark-submit.sh --score --publish --date 2026-11-21 -- --executor-memory 8g
EOF
}

die() { echo "spark-submit.sh: $*" >&2; echo "Try ./spark-submit.sh --help" >&2; exit 2; }

declare -A want=() stage_args=()
inputs=() dates=() sets=() spark_opts=()
lake="" conf_dir="" env_name="" parallel=5 fail_fast=0 dry_run=0 log_dir="" venv_archive="" no_venv=0
master=${SPARK_MASTER:-local[*]} deploy_mode="" driver_memory=${DRIVER_MEMORY:-4g} from="" to=""

need() { [ $# -ge 2 ] || die "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case "$1" in
    -h|--help) usage; exit 0 ;;
    -i|--ingest) want[ingest]=1 ;;
    -t|--templates) want[templates]=1 ;;
    -s|--sessions) want[sessions]=1 ;;
    --train|--score|--publish) want[${1#--}]=1 ;;
    -a|--all) for s in "${STAGES[@]}"; do want[$s]=1; done ;;
    -d|--date) need "$@"; IFS=, read -ra more <<<"$2"; dates+=("${more[@]}"); shift ;;
    --from) need "$@"; from=$2; shift ;;
    --to) need "$@"; to=$2; shift ;;
    -l|--lake) need "$@"; lake=$2; shift ;;
    --set) need "$@"; sets+=("$2"); shift ;;
    --conf-dir) need "$@"; conf_dir=$2; shift ;;
    --env) need "$@"; env_name=$2; shift ;;
    --ingest-args|--templates-args|--sessions-args|--train-args|--score-args|--publish-args)
      need "$@"; s=${1#--}; stage_args[${s%-args}]=$2; shift ;;
    -P|--parallel) need "$@"; parallel=$2; shift
      [[ $parallel =~ ^[1-9][0-9]*$ ]] || die "--parallel wants a positive number, not '$parallel'" ;;
    --fail-fast) fail_fast=1 ;;
    -m|--master) need "$@"; master=$2; shift ;;
    --deploy-mode) need "$@"; deploy_mode=$2; shift ;;
    --driver-memory) need "$@"; driver_memory=$2; shift ;;
    --venv-archive) need "$@"; venv_archive=$2; shift ;;
    --no-venv-archive) no_venv=1 ;;
    --log-dir) need "$@"; log_dir=$2; shift ;;
    -n|--dry-run) dry_run=1 ;;
    --) shift; spark_opts=("$@"); break ;;
    -*) die "unknown option: $1" ;;
    *) if [[ " ${STAGES[*]} evaluate " == *" $1 "* ]] && [ ! -e "$1" ]; then
         die "'$1' is a stage: select stages with flags, e.g. --$1 (the old form './spark-submit.sh STAGE ARGS' is gone)"
       fi
       inputs+=("$1") ;;
  esac
  shift
done

[ ${#want[@]} -gt 0 ] || for s in "${STAGES[@]}"; do want[$s]=1; done

PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x "$ROOT/.venv/bin/python" ]; then PY=$ROOT/.venv/bin/python; else PY=$(command -v python3); fi
fi

if [ -n "$from$to" ]; then
  [ -n "$from" ] && [ -n "$to" ] || die "--from and --to go together"
  mapfile -t more < <("$PY" - "$from" "$to" <<'EOF'
import datetime as dt, sys
a, b = (dt.date.fromisoformat(x) for x in sys.argv[1:])
while a <= b:
    print(a); a += dt.timedelta(days=1)
EOF
) || die "--from/--to want YYYY-MM-DD dates"
  dates+=("${more[@]}")
fi
for d in ${dates[@]+"${dates[@]}"}; do
  [[ $d =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}$ ]] || die "not a date: '$d' (expected YYYY-MM-DD)"
done

# -- the items --------------------------------------------------------------------------------------
# An item is what one line of work is for: a date (when the input is a {date} template) or an input.
items=() item_inputs=()
templated_input=0
for inp in ${inputs[@]+"${inputs[@]}"}; do [[ $inp == *"{date}"* ]] && templated_input=1; done
if [ $templated_input = 1 ]; then
  [ ${#inputs[@]} = 1 ] || die "an INPUT with {date} must be the only INPUT"
  [ ${#dates[@]} -gt 0 ] || die "INPUT '${inputs[0]}' holds {date}: give the dates with --date or --from/--to"
  for d in "${dates[@]}"; do items+=("$d"); item_inputs+=("${inputs[0]//\{date\}/$d}"); done
elif [ ${#inputs[@]} -gt 0 ]; then
  for inp in "${inputs[@]}"; do
    name=$(basename "${inp%/}"); name=${name//[^A-Za-z0-9._-]/_}
    items+=("$name"); item_inputs+=("$inp")
  done
elif [ -n "${want[ingest]:-}" ]; then
  die "ingest needs an INPUT (a folder, file or glob)"
elif [[ $lake == *"{item}"* ]]; then
  [ ${#dates[@]} -gt 0 ] || die "--lake holds {item}: give INPUTs or dates to fill it"
  items=("${dates[@]}")
else
  items=("all")
fi
declare -A seen=()
for it in "${items[@]}"; do
  [ -z "${seen[$it]:-}" ] || die "two items are both named '$it': give inputs distinct base names"
  seen[$it]=1
done

items_are_dates=0
[ $templated_input = 1 ] || { [ ${#inputs[@]} = 0 ] && [ ${#dates[@]} -gt 0 ] && [[ $lake == *"{item}"* ]]; } && items_are_dates=1
per_item_lake=0
[[ $lake == *"{item}"* ]] && per_item_lake=1

# -- spark-submit and what it ships -----------------------------------------------------------------
SUBMIT=${SPARK_SUBMIT:-}
if [ -z "$SUBMIT" ]; then
  SUBMIT=$("$PY" -c 'import os, pyspark; print(os.path.join(os.path.dirname(pyspark.__file__), "bin", "spark-submit"))') \
    || die "pyspark not found for $PY: set PYTHON to the project's virtual environment"
fi
export PYSPARK_PYTHON=${PYSPARK_PYTHON:-$PY} PYSPARK_DRIVER_PYTHON=${PYSPARK_DRIVER_PYTHON:-$PY}

run_id=$(date -u +%Y%m%dT%H%M%S)
log_dir=${log_dir:-logs/launcher-$run_id}
build_dir=$ROOT/build
zip_file=$build_dir/logalyzer-$run_id-$$.zip

submit=("$SUBMIT" --master "$master")
[ -n "$deploy_mode" ] && submit+=(--deploy-mode "$deploy_mode")
log4j="-Dlog4j2.configurationFile=file:$ROOT/logalyzer/log4j2.properties"
submit+=(--driver-memory "$driver_memory" --driver-java-options "$log4j"
         --conf spark.sql.session.timeZone=UTC)
[ -f /usr/share/java/postgresql.jar ] && submit+=(--jars /usr/share/java/postgresql.jar)
if [[ $master == yarn* ]] && [ $no_venv = 0 ]; then
  # Executors on YARN have none of our dependencies: ship a packed virtual environment; YARN unpacks
  # it as ./environment in every container, and the Python workers run its interpreter.
  venv_archive=${venv_archive:-$build_dir/logalyzer-venv.tar.gz}
  # spark.pyspark.python (not the PYSPARK_PYTHON variable) wins over this shell's environment.
  if [ "$deploy_mode" = cluster ]; then driver_python=./environment/bin/python; else driver_python=$PY; fi
  submit+=(--archives "$venv_archive#environment"
           --conf spark.pyspark.python=./environment/bin/python
           --conf "spark.pyspark.driver.python=$driver_python")
elif [ -n "$venv_archive" ] && [ $no_venv = 0 ]; then
  submit+=(--archives "$venv_archive#environment" --conf spark.pyspark.python=./environment/bin/python
           --conf "spark.pyspark.driver.python=$PY")
else
  submit+=(--conf "spark.executor.extraJavaOptions=$log4j")
fi
submit+=(--py-files "$zip_file" ${spark_opts[@]+"${spark_opts[@]}"})

# The arguments every stage gets (configuration, lake), with {item} filled in.
common_args() {
  local item=$1 out=()
  [ -n "$conf_dir" ] && out+=(--conf-dir "$conf_dir")
  [ -z "$conf_dir" ] && [ ! -d conf/base ] && out+=(--conf-dir "$ROOT/conf")
  [ -n "$env_name" ] && out+=(--env "$env_name")
  [ -n "$lake" ] && out+=(--lake "${lake//\{item\}/$item}")
  local s
  for s in ${sets[@]+"${sets[@]}"}; do out+=(--set "${s//\{item\}/$item}"); done
  [ ${#out[@]} = 0 ] || printf '%s\0' "${out[@]}"
}

# stage_command STAGE ITEM [INPUT]: the spark-submit argv for one stage, NUL-separated.
stage_command() {
  local stage=$1 item=$2 input=${3:-} cmd=("${submit[@]}" "$ROOT/jobs/$stage.py") extra=() d
  [ "$stage" = ingest ] && cmd+=("$input")
  if [ -n "${stage_args[$stage]:-}" ]; then read -ra extra <<<"${stage_args[$stage]}"; cmd+=("${extra[@]}"); fi
  if [ "$stage" = sessions ] || [ "$stage" = score ]; then
    if [ $per_item_lake = 1 ] && [ $items_are_dates = 1 ]; then
      cmd+=(--date "$item")
    elif [ $per_item_lake = 0 ]; then
      for d in ${dates[@]+"${dates[@]}"}; do cmd+=(--date "$d"); done
    fi
  fi
  mapfile -d '' -t common < <(common_args "$item")
  cmd+=(${common[@]+"${common[@]}"})
  printf '%s\0' "${cmd[@]}"
}

# The plan: lines "ITEM<TAB>STAGE<TAB>INPUT", grouped into lanes; a lane runs its steps in order.
lanes=()     # each lane: newline-separated "item\tstage\tinput" steps
if [ $per_item_lake = 1 ]; then
  for idx in "${!items[@]}"; do
    lane=""
    for s in "${STAGES[@]}"; do
      [ -n "${want[$s]:-}" ] && lane+="${items[$idx]}"$'\t'"$s"$'\t'"${item_inputs[$idx]:-}"$'\n'
    done
    lanes+=("$lane")
  done
else
  lane=""
  for s in "${STAGES[@]}"; do
    [ -n "${want[$s]:-}" ] || continue
    if [ "$s" = ingest ]; then
      for idx in "${!items[@]}"; do lane+="${items[$idx]}"$'\t'ingest$'\t'"${item_inputs[$idx]}"$'\n'; done
    else
      lane+="all"$'\t'"$s"$'\t'$'\n'
    fi
  done
  lanes+=("$lane")
fi

if [ $dry_run = 1 ]; then
  for lane in "${lanes[@]}"; do
    while IFS=$'\t' read -r item stage input; do
      [ -n "$stage" ] || continue
      mapfile -d '' -t cmd < <(stage_command "$stage" "$item" "$input")
      printf '# %s %s\n' "$item" "$stage"
      printf '%q ' "${cmd[@]}"; printf '\n'
    done <<<"$lane"
  done
  exit 0
fi

# -- run --------------------------------------------------------------------------------------------
mkdir -p "$log_dir" "$build_dir"
state=$(mktemp -d)
cleanup() { rm -rf "$state"; rm -f "$zip_file"; }
trap cleanup EXIT
(cd "$ROOT" && zip -qr "$zip_file" logalyzer -x '*__pycache__*' 2>/dev/null) \
  || "$PY" -c "import shutil,sys; shutil.make_archive(sys.argv[1][:-4], 'zip', sys.argv[2], 'logalyzer')" "$zip_file" "$ROOT"

if [[ " ${submit[*]} " == *" --archives "* ]] && [ ! -f "${venv_archive}" ]; then
  [ "$venv_archive" = "$build_dir/logalyzer-venv.tar.gz" ] || die "--venv-archive $venv_archive: no such file"
  echo "packing the Python dependencies for the executors into $venv_archive (once)"
  pack_env=$build_dir/pack-venv
  rm -rf "$pack_env"
  "$PY" -m venv "$pack_env"
  # Without pyspark: the cluster puts its own on the executors' path (LOGALYZER_CLUSTER_WHEEL, setup.py).
  LOGALYZER_SKIP_JAVA_CHECK=1 LOGALYZER_CLUSTER_WHEEL=1 "$pack_env/bin/pip" install -q "$ROOT" venv-pack
  "$pack_env/bin/venv-pack" -q -p "$pack_env" -o "$venv_archive"
fi

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# run_lane N: run lane N's steps in order; stop before a step once any lane has failed.
run_lane() {
  local lane=$1 item stage input start rc
  while IFS=$'\t' read -r item stage input; do
    [ -n "$stage" ] || continue
    if [ -e "$state/failed" ]; then say "[$item] $stage: not started (an earlier step failed)"; return 3; fi
    local log=$log_dir/$item.$stage.log
    mapfile -d '' -t cmd < <(stage_command "$stage" "$item" "$input")
    { printf '%q ' "${cmd[@]}"; printf '\n\n'; } >"$log"
    say "[$item] $stage: started${input:+ on $input} (log: $log)"
    start=$SECONDS
    set +e
    "${cmd[@]}" >>"$log" 2>&1 </dev/null
    rc=$?
    set -e
    if [ $rc != 0 ]; then
      echo "$item $stage $rc" >>"$state/failed"
      say "[$item] $stage: FAILED with exit code $rc after $((SECONDS - start))s; last lines of $log:"
      tail -n 25 "$log" | sed 's/^/    /'
      return 1
    fi
    say "[$item] $stage: done in $((SECONDS - start))s"
    grep -A40 -E '^[a-z]+ summary' "$log" | sed 's/^/    /' || true
  done <<<"${lanes[$lane]}"
}

say "running ${#lanes[@]} lane(s), at most $parallel at a time; stages: $(for s in "${STAGES[@]}"; do [ -n "${want[$s]:-}" ] && printf '%s ' "$s"; done)"
pids=()
for lane_no in "${!lanes[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$parallel" ]; do wait -n || true; done
  [ -e "$state/failed" ] && break
  run_lane "$lane_no" &
  pids+=($!)
done
if [ $fail_fast = 1 ]; then
  # Poll so the first failure can stop the lanes still running.
  while [ "$(jobs -rp | wc -l)" -gt 0 ]; do
    if [ -e "$state/failed" ]; then
      for p in "${pids[@]}"; do pkill -TERM -P "$p" 2>/dev/null || true; done
      break
    fi
    sleep 1
  done
fi
for p in "${pids[@]}"; do wait "$p" || true; done

if [ -e "$state/failed" ]; then
  while read -r item stage rc; do
    echo "spark-submit.sh: FAILED: stage '$stage' for '$item' (exit code $rc); log: $log_dir/$item.$stage.log" >&2
  done <"$state/failed"
  exit 1
fi
say "all done; logs in $log_dir"
