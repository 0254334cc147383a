#!/usr/bin/env bash
# tests/bench/run.sh BUILD_DIR (make bench: build/release)
#
# Starts crm-identity, crm-pipeline and crm-gateway from BUILD_DIR on free
# local ports with a temporary data dir, waits until they answer, runs
# bench_gateway, then bench_pipeline, then starts crm-activities and runs
# bench_activities, then starts crm-notifications and runs
# bench_notifications (each with its floors and our figures in one run) and
# always stops what it started. crm-activities starts only then, so that the
# first two measure what they always did (activities would otherwise write a
# tracking message for every lead bench_pipeline makes, on the same cores);
# it catches up on pipeline's events before bench_activities measures.
# crm-notifications starts last for the same reason and catches up on
# pipeline's and activities' events before bench_notifications measures; the
# gateway is given its endpoints from the start (it connects when it comes).
#
# A second identity + gateway pair, whose admin password is hashed with the
# cheapest argon2id (1 pass, 8 KiB), shows what Login costs besides the hash.
#
# Environment:
#   BENCH_CLIENTS        in-flight requests to sweep     (1,16,64)
#   BENCH_SECONDS        measured window per run         (2)
#   BENCH_WARMUP         warm-up before each window      (0.5)
#   BENCH_REPS           runs per configuration (median) (3)
#   BENCH_LOGIN_SECONDS  window of each Login run        (3)
#   BENCH_LEADS          opportunities before the pipeline's reads (100000)
#   BENCH_ONLY           gateway, pipeline, activities, notifications, merge,
#                        import or planned: run that one alone (notifications:
#                        with activities running; merge: with both); planned
#                        (bench_planned: ListMyActivities in a store of 100,000
#                        planned activities) runs only when asked, its store
#                        taking a minute or two to make
#   BENCH_MERGE_PAIRS    pairs of leads merged a run (100)
#   BENCH_IMPORT_ROWS    lead rows each import run sends      (100000)
#   BENCH_ENTRIES        chatter entries before ListMessages  (10000)
#   BENCH_TRACK_RATE     UpdateLead changes a second, tracking (1000)
#   BENCH_TRACK_SECONDS  duration of each tracking run       (5)
#   BENCH_NOTIFY_RATE    UpdateLead changes a second, notifications (1000)
#   BENCH_NOTIFY_SECONDS duration of each notifications run  (5)
#   BENCH_SSE            SSE streams held open on the gateway (1000)
#   BENCH_NOTIFY_DUMP=F  bench_notifications writes every measured change's
#                        reply and entries' times to F
#   BENCH_NOISE_SECONDS  bench_cpu_noise first, alone     (5; 0 skips it)
#   BENCH_STRICT=1       exit 3 when a target is missed
#   BENCH_PERF=DIR       perf record -g the services for the whole run into DIR
#   CRM_LOG_LEVEL        the services' log level          (warn)
#   CRM_RATE_PER_SESSION the gateway's per-session limit  (1000000000: never trips)
#   CRM_PWHASH_PER_ADDRESS identity's hashes per client address (1000: never trips)
#   CRM_HTTP_PER_ADDRESS the gateway's HTTP connections per address (100000: likewise)
set -euo pipefail

B=${1:-build/release}
bench=$B/tests/bench/bench_gateway
bench_pl=$B/tests/bench/bench_pipeline
bench_act=$B/tests/bench/bench_activities
bench_ntf=$B/tests/bench/bench_notifications
bench_noise=$B/tests/bench/bench_cpu_noise
bench_merge=$B/tests/bench/bench_merge
bench_imp=$B/tests/bench/bench_import
bench_planned=$B/tests/bench/bench_planned
only=${BENCH_ONLY:-}
case "$only" in ""|gateway|pipeline|activities|notifications|merge|import|planned) ;;
  *) echo "run.sh: BENCH_ONLY=$only: want gateway, pipeline, activities, notifications, merge, import or planned" >&2; exit 2;;
esac
for p in "$B/crm-identity" "$B/crm-pipeline" "$B/crm-activities" "$B/crm-notifications" "$B/crm-gateway" \
  "$B/crmctl" "$bench" "$bench_pl" "$bench_act" "$bench_ntf" "$bench_noise" "$bench_merge" "$bench_imp" "$bench_planned"; do
  [ -x "$p" ] || { echo "run.sh: $p is missing (make bench builds it)" >&2; exit 1; }
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/crm-bench.XXXXXX")
pids=()
perf_pids=()

bench_pid=
# shellcheck disable=SC2317  # called by the EXIT trap
stop() {
  local pid
  [ -z "$bench_pid" ] || { kill -TERM "$bench_pid" 2>/dev/null; wait "$bench_pid" 2>/dev/null; } || true
  for pid in "${perf_pids[@]}"; do kill -INT "$pid" 2>/dev/null || true; done
  for pid in "${perf_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$tmp"
}
trap stop EXIT
trap 'exit 130' INT TERM

logs() {
  local f
  for f in "$tmp"/*.log; do echo "--- $f" >&2; tail -20 "$f" >&2; done
}

# start NAME PROGRAM ARGS...: in the background, its log in $tmp/NAME.log
start() {
  local name=$1
  shift
  "$@" >"$tmp/$name.log" 2>&1 &
  pids+=($!)
}

read -r id_rpc id_ev id_rep gw_zmq gw_http c_rpc c_ev c_rep c_zmq c_http nobody pl_rpc pl_ev pl_rep \
  act_rpc act_ev act_rep ntf_rpc ntf_stream <<<"$("$bench" --free-ports 19)"
export CRM_ADMIN_PASSWORD="bench-$$-$RANDOM$RANDOM"
export CRM_LOG_LEVEL=${CRM_LOG_LEVEL:-warn}
# all clients share one session: the gateway's per-session limit is set so
# high that its bucket is still kept but never empties (we measure capacity)
export CRM_RATE_PER_SESSION=${CRM_RATE_PER_SESSION:-1000000000}
# every client comes from 127.0.0.1: identity's share of its hashing threads
# per client address is lifted likewise (we measure capacity, not fairness)
export CRM_PWHASH_PER_ADDRESS=${CRM_PWHASH_PER_ADDRESS:-1000}
# and so are the gateway's connections per address (bench_notifications holds
# 1,000 SSE streams from here)
export CRM_HTTP_PER_ADDRESS=${CRM_HTTP_PER_ADDRESS:-100000}
# the cheap pair has no pipeline nor activities: point its gateway at a port
# nobody listens on rather than at a developer's running service (the
# services themselves are given their endpoints as flags, which win)
export CRM_PIPELINE_RPC=tcp://127.0.0.1:$nobody
export CRM_ACTIVITIES_RPC=tcp://127.0.0.1:$nobody
export CRM_NOTIFICATIONS_RPC=tcp://127.0.0.1:$nobody
export CRM_NOTIFICATIONS_STREAM=tcp://127.0.0.1:$nobody
L=tcp://127.0.0.1
# bench_notifications holds 1,000 streams open on the gateway: each is a
# file descriptor there and here
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

# the machine's own steadiness first, with nothing of ours running: the
# floor that the p99 figures below are read against
if [ "${BENCH_NOISE_SECONDS:-5}" != 0 ]; then
  "$bench_noise" --seconds "${BENCH_NOISE_SECONDS:-5}" --quiet || true
fi

start identity "$B/crm-identity" --data-dir "$tmp/identity" \
  --rpc "$L:$id_rpc" --events "$L:$id_ev" --replay "$L:$id_rep"
identity_pid=${pids[-1]}
start pipeline "$B/crm-pipeline" --data-dir "$tmp/pipeline" \
  --rpc "$L:$pl_rpc" --events "$L:$pl_ev" --replay "$L:$pl_rep" \
  --identity-events "$L:$id_ev" --identity-replay "$L:$id_rep"
pipeline_pid=${pids[-1]}
start gateway "$B/crm-gateway" --zmq "$L:$gw_zmq" --http-port "$gw_http" \
  --identity-rpc "$L:$id_rpc" --identity-events "$L:$id_ev" --pipeline-rpc "$L:$pl_rpc" \
  --activities-rpc "$L:$act_rpc" --notifications-rpc "$L:$ntf_rpc" --notifications-stream "$L:$ntf_stream"
gateway_pid=${pids[-1]}
start identity-cheap "$B/crm-identity" --data-dir "$tmp/identity-cheap" \
  --rpc "$L:$c_rpc" --events "$L:$c_ev" --replay "$L:$c_rep" --pwhash-ops 1 --pwhash-mem-kib 8
start gateway-cheap "$B/crm-gateway" --zmq "$L:$c_zmq" --http-port "$c_http" \
  --identity-rpc "$L:$c_rpc" --identity-events "$L:$c_ev"

if ! { "$bench" --wait-ready "$L:$gw_zmq" 30 identity && "$bench" --wait-ready "$L:$c_zmq" 30 identity &&
  "$bench" --wait-ready "$L:$gw_zmq" 30 pipeline; }; then
  logs
  exit 1
fi

# perf_record NAME PID: the service's profile for the rest of the run
perf_record() {
  [ -n "${BENCH_PERF:-}" ] || return 0
  mkdir -p "$BENCH_PERF"
  perf record -q -e cpu-clock -g -p "$2" -o "$BENCH_PERF/$1.data" 2>"$tmp/perf-$1.log" &
  perf_pids+=($!)
}
perf_record identity "$identity_pid"
perf_record gateway "$gateway_pid"
perf_record pipeline "$pipeline_pid"

# each in the background, so that a signal to this script is handled at once;
# a failed request (1) outweighs a missed target (3)
rc=0
run_bench() {
  local r=0
  "$@" &
  bench_pid=$!
  wait "$bench_pid" || r=$?
  bench_pid=
  if [ "$r" != 0 ] && { [ "$rc" = 0 ] || [ "$rc" = 3 ]; }; then rc=$r; fi
}
if [ -z "$only" ] || [ "$only" = gateway ]; then
  run_bench "$bench" --zmq "$L:$gw_zmq" --http "127.0.0.1:$gw_http" --password "$CRM_ADMIN_PASSWORD" \
    --cheap-zmq "$L:$c_zmq" --identity-pid "$identity_pid" --gateway-pid "$gateway_pid" --tmp "$tmp" \
    --clients "${BENCH_CLIENTS:-1,16,64}" --seconds "${BENCH_SECONDS:-2}" \
    --warmup "${BENCH_WARMUP:-0.5}" --reps "${BENCH_REPS:-3}" \
    --login-seconds "${BENCH_LOGIN_SECONDS:-3}" ${BENCH_STRICT:+--strict}
fi
if [ -z "$only" ] || [ "$only" = pipeline ]; then
  run_bench "$bench_pl" --zmq "$L:$gw_zmq" --password "$CRM_ADMIN_PASSWORD" \
    --pipeline-pid "$pipeline_pid" --gateway-pid "$gateway_pid" --tmp "$tmp" \
    --leads "${BENCH_LEADS:-100000}" --seconds "${BENCH_SECONDS:-2}" \
    --warmup "${BENCH_WARMUP:-0.5}" --reps "${BENCH_REPS:-3}" ${BENCH_STRICT:+--strict}
fi
if [ -z "$only" ] || [ "$only" = activities ] || [ "$only" = notifications ] || [ "$only" = merge ] || [ "$only" = planned ]; then
  act_started=$(date +%s%6N)
  start activities "$B/crm-activities" --data-dir "$tmp/activities" \
    --rpc "$L:$act_rpc" --events "$L:$act_ev" --replay "$L:$act_rep" \
    --identity-events "$L:$id_ev" --identity-replay "$L:$id_rep" \
    --pipeline-events "$L:$pl_ev" --pipeline-replay "$L:$pl_rep"
  activities_pid=${pids[-1]}
  if ! "$bench" --wait-ready "$L:$gw_zmq" 30 activities; then
    logs
    exit 1
  fi
  perf_record activities "$activities_pid"
fi
if [ -z "$only" ] || [ "$only" = activities ]; then
  run_bench "$bench_act" --zmq "$L:$gw_zmq" --password "$CRM_ADMIN_PASSWORD" \
    --activities-events "$L:$act_ev" --activities-pid "$activities_pid" --gateway-pid "$gateway_pid" \
    --activities-started "$act_started" \
    --tmp "$tmp" --entries "${BENCH_ENTRIES:-10000}" --track-rate "${BENCH_TRACK_RATE:-1000}" \
    --track-seconds "${BENCH_TRACK_SECONDS:-5}" --seconds "${BENCH_SECONDS:-2}" \
    --warmup "${BENCH_WARMUP:-0.5}" --reps "${BENCH_REPS:-3}" ${BENCH_STRICT:+--strict}
fi
if [ "$only" = planned ]; then
  run_bench "$bench_planned" --zmq "$L:$gw_zmq" --password "$CRM_ADMIN_PASSWORD" --activities-pid "$activities_pid" \
    --tmp "$tmp" --users "${BENCH_PLANNED_USERS:-100}" --leads "${BENCH_PLANNED_LEADS:-10000}" \
    --mine "${BENCH_PLANNED_MINE:-1000}" --activities "${BENCH_PLANNED_ACTIVITIES:-100000}" \
    --seconds "${BENCH_SECONDS:-2}" --warmup "${BENCH_WARMUP:-0.5}" --reps "${BENCH_REPS:-3}"
fi
if [ -z "$only" ] || [ "$only" = notifications ] || [ "$only" = merge ]; then
  ntf_started=$(date +%s%6N)
  start notifications "$B/crm-notifications" --data-dir "$tmp/notifications" \
    --rpc "$L:$ntf_rpc" --stream "$L:$ntf_stream" \
    --identity-events "$L:$id_ev" --identity-replay "$L:$id_rep" \
    --pipeline-events "$L:$pl_ev" --pipeline-replay "$L:$pl_rep" \
    --activities-events "$L:$act_ev" --activities-replay "$L:$act_rep"
  notifications_pid=${pids[-1]}
  if ! "$bench" --wait-ready "$L:$gw_zmq" 30 notifications; then
    logs
    exit 1
  fi
  perf_record notifications "$notifications_pid"
fi
if [ -z "$only" ] || [ "$only" = notifications ]; then
  run_bench "$bench_ntf" --zmq "$L:$gw_zmq" --http "127.0.0.1:$gw_http" --password "$CRM_ADMIN_PASSWORD" \
    --crmctl "$B/crmctl" --stream "$L:$ntf_stream" --gateway-pid "$gateway_pid" \
    --notifications-pid "$notifications_pid" --pipeline-pid "$pipeline_pid" --activities-pid "$activities_pid" \
    --notifications-started "$ntf_started" --tmp "$tmp" \
    --rate "${BENCH_NOTIFY_RATE:-1000}" --seconds "${BENCH_NOTIFY_SECONDS:-5}" --sse "${BENCH_SSE:-1000}" \
    --warmup "${BENCH_WARMUP:-0.5}" --reps "${BENCH_REPS:-3}" ${BENCH_STRICT:+--strict} \
    ${BENCH_NOTIFY_DUMP:+--dump "$BENCH_NOTIFY_DUMP"}
fi
# merges after the others: the leads it makes and merges change no figure above
if [ -z "$only" ] || [ "$only" = merge ]; then
  run_bench "$bench_merge" --zmq "$L:$gw_zmq" --password "$CRM_ADMIN_PASSWORD" \
    --pairs "${BENCH_MERGE_PAIRS:-100}" --reps "${BENCH_REPS:-3}"
fi

# CSV import after the merges: each run on a fresh pipeline store, so pipeline is
# restarted on a new data dir before each; activities and notifications are
# stopped first (they would apply every imported lead's events on the same
# two cores, which the figure is not about)
if [ -z "$only" ] || [ "$only" = import ]; then
  # stop_service PID: TERM, wait, and out of the list checked at the end
  stop_service() {
    local pid=$1 keep=() p
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    for p in "${pids[@]}"; do [ "$p" = "$pid" ] || keep+=("$p"); done
    pids=("${keep[@]}")
  }
  [ -z "${notifications_pid:-}" ] || stop_service "$notifications_pid"
  [ -z "${activities_pid:-}" ] || stop_service "$activities_pid"
  for run in $(seq "${BENCH_REPS:-3}"); do
    stop_service "$pipeline_pid"
    start pipeline-import-$run "$B/crm-pipeline" --data-dir "$tmp/pipeline-import-$run" \
      --rpc "$L:$pl_rpc" --events "$L:$pl_ev" --replay "$L:$pl_rep" \
      --identity-events "$L:$id_ev" --identity-replay "$L:$id_rep"
    pipeline_pid=${pids[-1]}
    if ! "$bench" --wait-ready "$L:$gw_zmq" 30 pipeline; then
      logs
      exit 1
    fi
    run_bench "$bench_imp" --zmq "$L:$gw_zmq" --password "$CRM_ADMIN_PASSWORD" --results "$tmp/import.results" \
      --rows "${BENCH_IMPORT_ROWS:-100000}" --seconds "${BENCH_SECONDS:-2}" --warmup "${BENCH_WARMUP:-0.5}"
  done
  run_bench "$bench_imp" --report "$tmp/import.results"
fi

for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "run.sh: service pid $pid died during the benchmark" >&2; rc=1; }
done
[ "$rc" = 0 ] || [ "$rc" = 3 ] || logs
exit "$rc"
