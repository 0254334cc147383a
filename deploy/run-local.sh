#!/usr/bin/env bash
# make run: every service on this machine, data under $CRM_DATA_DIR (./data),
# local endpoints; Ctrl-C stops them all cleanly. Running it again on the same
# data keeps everything.
set -euo pipefail
bin=${1:-build/release}
data=${CRM_DATA_DIR:-./data}
http_port=${CRM_HTTP_PORT:-8080}
zmq_port=${CRM_ZMQ_PORT:-5555}
mkdir -p "$data/logs"

export CRM_IDENTITY_RPC=${CRM_IDENTITY_RPC:-ipc://$(realpath "$data")/identity.rpc}
export CRM_IDENTITY_EVENTS=${CRM_IDENTITY_EVENTS:-ipc://$(realpath "$data")/identity.events}
export CRM_IDENTITY_REPLAY=${CRM_IDENTITY_REPLAY:-ipc://$(realpath "$data")/identity.replay}
export CRM_PIPELINE_RPC=${CRM_PIPELINE_RPC:-ipc://$(realpath "$data")/pipeline.rpc}
export CRM_PIPELINE_EVENTS=${CRM_PIPELINE_EVENTS:-ipc://$(realpath "$data")/pipeline.events}
export CRM_PIPELINE_REPLAY=${CRM_PIPELINE_REPLAY:-ipc://$(realpath "$data")/pipeline.replay}
export CRM_ACTIVITIES_RPC=${CRM_ACTIVITIES_RPC:-ipc://$(realpath "$data")/activities.rpc}
export CRM_ACTIVITIES_EVENTS=${CRM_ACTIVITIES_EVENTS:-ipc://$(realpath "$data")/activities.events}
export CRM_ACTIVITIES_REPLAY=${CRM_ACTIVITIES_REPLAY:-ipc://$(realpath "$data")/activities.replay}
export CRM_NOTIFICATIONS_RPC=${CRM_NOTIFICATIONS_RPC:-ipc://$(realpath "$data")/notifications.rpc}
# the live stream (PUB): the gateway's GET /v1/stream and `crmctl tail` subscribe to it
export CRM_NOTIFICATIONS_STREAM=${CRM_NOTIFICATIONS_STREAM:-ipc://$(realpath "$data")/notifications.stream}

pids=()
stop() {
    trap - INT TERM EXIT
    echo
    echo "stopping…"
    for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill -TERM "${pids[i]}" 2>/dev/null || true; done
    wait 2>/dev/null || true
    echo "stopped; data kept in $data"
    exit 0
}
trap stop INT TERM EXIT

first_start=0
[ -e "$data/identity/data.mdb" ] || first_start=1

"$bin/crm-identity" --data-dir "$data/identity" >"$data/logs/identity.out" 2>"$data/logs/identity.log" &
pids+=($!)
"$bin/crm-pipeline" --data-dir "$data/pipeline" 2>"$data/logs/pipeline.log" &
pids+=($!)
"$bin/crm-activities" --data-dir "$data/activities" 2>"$data/logs/activities.log" &
pids+=($!)
"$bin/crm-notifications" --data-dir "$data/notifications" 2>"$data/logs/notifications.log" &
pids+=($!)
# the web app make built (CRM_WEB_DIR= for none)
export CRM_WEB_DIR=${CRM_WEB_DIR-build/web}
"$bin/crm-gateway" --zmq "tcp://127.0.0.1:$zmq_port" --http-port "$http_port" 2>"$data/logs/gateway.log" &
pids+=($!)

# ready when the gateway reaches every service
for _ in $(seq 1 100); do
    if CRM_ENDPOINT="tcp://127.0.0.1:$zmq_port" "$bin/crmctl" health identity >/dev/null 2>&1 &&
       CRM_ENDPOINT="tcp://127.0.0.1:$zmq_port" "$bin/crmctl" health pipeline >/dev/null 2>&1 &&
       CRM_ENDPOINT="tcp://127.0.0.1:$zmq_port" "$bin/crmctl" health activities >/dev/null 2>&1 &&
       CRM_ENDPOINT="tcp://127.0.0.1:$zmq_port" "$bin/crmctl" health notifications >/dev/null 2>&1; then break; fi
    for p in "${pids[@]}"; do
        kill -0 "$p" 2>/dev/null || { echo "a service failed to start; see $data/logs/"; tail -5 "$data"/logs/*.log; exit 1; }
    done
    sleep 0.1
done

echo "CRM is running"
[ -n "$CRM_WEB_DIR" ] && echo "  web app:        http://127.0.0.1:$http_port/  (sign in as admin, below)"
echo "  HTTP (Twirp):   http://127.0.0.1:$http_port/twirp/<package>.<Service>/<Method>"
echo "  ZeroMQ door:    tcp://127.0.0.1:$zmq_port"
echo "  health/metrics: http://127.0.0.1:$http_port/healthz  /metrics"
echo "  notifications:  curl -N -H \"Authorization: Bearer \$TOKEN\" http://127.0.0.1:$http_port/v1/stream  (Server-Sent Events)"
echo "  live stream:    CRM_NOTIFICATIONS_STREAM=$CRM_NOTIFICATIONS_STREAM $bin/crmctl tail [--user ID] [--doc lead/ID]"
echo "  data and logs:  $data"
if [ "$first_start" = 1 ]; then
    if [ -n "${CRM_ADMIN_PASSWORD:-}" ]; then
        echo "  administrator:  login admin, password from CRM_ADMIN_PASSWORD"
    else
        echo "  administrator:  login admin, password $(cat "$data/identity/admin-password")"
        echo "                  (kept in $data/identity/admin-password, readable by you only; change it, then delete the file)"
    fi
else
    if [ -r "$data/identity/admin-password" ]; then
        echo "  administrator:  login admin, password in $data/identity/admin-password"
    else
        echo "  administrator:  login admin, with the password set at the first start"
    fi
fi
echo "  try:            CRM_ENDPOINT=tcp://127.0.0.1:$zmq_port $bin/crmctl login admin"
echo "Ctrl-C stops everything."
wait -n "${pids[@]}" || true
echo "a service stopped; see $data/logs/"
