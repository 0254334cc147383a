#!/usr/bin/env bash
# tests/bench/run.sh BUILD_DIR (make bench: build/release)
#
# Starts crm-identity and crm-gateway from BUILD_DIR on free local ports with
# a temporary data dir, waits until they answer, runs bench_gateway (floors
# and our figures in one run) and always stops what it started.
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
#   BENCH_STRICT=1       exit 3 when a target is missed
#   BENCH_PERF=DIR       perf record -g both services for the whole run into DIR
#   CRM_LOG_LEVEL        the services' log level          (warn)
#   CRM_RATE_PER_SESSION the gateway's per-session limit  (1000000000: never trips)
set -euo pipefail

B=${1:-build/release}
bench=$B/tests/bench/bench_gateway
for p in "$B/crm-identity" "$B/crm-gateway" "$bench"; do
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

read -r id_rpc id_ev id_rep gw_zmq gw_http c_rpc c_ev c_rep c_zmq c_http nobody \
  <<<"$("$bench" --free-ports 11)"
export CRM_ADMIN_PASSWORD="bench-$$-$RANDOM$RANDOM"
export CRM_LOG_LEVEL=${CRM_LOG_LEVEL:-warn}
# all clients share one session: the gateway's per-session limit is set so
# high that its bucket is still kept but never empties (we measure capacity)
export CRM_RATE_PER_SESSION=${CRM_RATE_PER_SESSION:-1000000000}
# backends other than identity are not started: point the gateways at a port
# nobody listens on rather than at a developer's running service
export CRM_PIPELINE_RPC=tcp://127.0.0.1:$nobody
L=tcp://127.0.0.1

start identity "$B/crm-identity" --data-dir "$tmp/identity" \
  --rpc "$L:$id_rpc" --events "$L:$id_ev" --replay "$L:$id_rep"
start gateway "$B/crm-gateway" --zmq "$L:$gw_zmq" --http-port "$gw_http" \
  --identity-rpc "$L:$id_rpc" --identity-events "$L:$id_ev"
start identity-cheap "$B/crm-identity" --data-dir "$tmp/identity-cheap" \
  --rpc "$L:$c_rpc" --events "$L:$c_ev" --replay "$L:$c_rep" --pwhash-ops 1 --pwhash-mem-kib 8
start gateway-cheap "$B/crm-gateway" --zmq "$L:$c_zmq" --http-port "$c_http" \
  --identity-rpc "$L:$c_rpc" --identity-events "$L:$c_ev"

for ep in "$L:$gw_zmq" "$L:$c_zmq"; do
  "$bench" --wait-ready "$ep" 30 || { logs; exit 1; }
done

if [ -n "${BENCH_PERF:-}" ]; then
  mkdir -p "$BENCH_PERF"
  perf record -q -e cpu-clock -g -p "${pids[0]}" -o "$BENCH_PERF/identity.data" 2>"$tmp/perf-identity.log" &
  perf_pids+=($!)
  perf record -q -e cpu-clock -g -p "${pids[1]}" -o "$BENCH_PERF/gateway.data" 2>"$tmp/perf-gateway.log" &
  perf_pids+=($!)
fi

# in the background, so that a signal to this script is handled at once
rc=0
"$bench" --zmq "$L:$gw_zmq" --http "127.0.0.1:$gw_http" --password "$CRM_ADMIN_PASSWORD" \
  --cheap-zmq "$L:$c_zmq" --identity-pid "${pids[0]}" --gateway-pid "${pids[1]}" --tmp "$tmp" \
  --clients "${BENCH_CLIENTS:-1,16,64}" --seconds "${BENCH_SECONDS:-2}" \
  --warmup "${BENCH_WARMUP:-0.5}" --reps "${BENCH_REPS:-3}" \
  --login-seconds "${BENCH_LOGIN_SECONDS:-3}" ${BENCH_STRICT:+--strict} &
bench_pid=$!
wait "$bench_pid" || rc=$?
bench_pid=

for pid in "${pids[@]}"; do
  kill -0 "$pid" 2>/dev/null || { echo "run.sh: service pid $pid died during the benchmark" >&2; rc=1; }
done
[ "$rc" = 0 ] || [ "$rc" = 3 ] || logs
exit "$rc"
