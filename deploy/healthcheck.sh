#!/bin/bash
# crm-healthcheck SERVICE [ENDPOINT]: the container healthcheck of one CRM program,
# needing no other program (installed in the image as /usr/local/bin/crm-healthcheck).
#
#   gateway    GET /healthz on its HTTP door (CRM_HTTP_ADDRESS, CRM_HTTP_PORT), which the
#              gateway answers from its event loop: the loop turns and the door is open.
#   any other  (identity, pipeline, activities, notifications) its RPC endpoint
#              (ENDPOINT, else CRM_<SERVICE>_RPC) accepts a connection. A service binds
#              it only after it has opened its store, loaded its CurveZMQ keys and bound
#              its event endpoints (notifications: its live stream, CRM_NOTIFICATIONS_STREAM),
#              so an open port means a started service; the check costs one TCP handshake
#              (no ZeroMQ greeting is sent, so it never reaches the service's code and is
#              never logged). ipc:// endpoints: the socket file exists.
# The programs have no health mode of their own; `crmctl health SERVICE` asks a
# service through the gateway and is the deeper check once the gateway is up.
set -u
service=${1:?usage: crm-healthcheck SERVICE [ENDPOINT]}
timeout_s=${CRM_HEALTHCHECK_TIMEOUT:-2}

# a bind address as a connect address: wildcards become loopback
local_host() {
    case "$1" in
        '' | '*' | 0.0.0.0) echo 127.0.0.1 ;;
        '[::]' | '::' | '[*]') echo ::1 ;;
        \[*\]) h=${1#[}; echo "${h%]}" ;;
        *) echo "$1" ;;
    esac
}

if [ "$service" = gateway ]; then
    host=$(local_host "${CRM_HTTP_ADDRESS:-127.0.0.1}")
    case "$host" in *:*) host="[$host]" ;; esac
    exec curl -fsS --max-time "$timeout_s" -o /dev/null "http://$host:${CRM_HTTP_PORT:-8080}/healthz"
fi

var="CRM_$(echo "$service" | tr 'a-z-' 'A-Z_')_RPC"
endpoint=${2:-${!var:-}}
if [ -z "$endpoint" ]; then
    echo "crm-healthcheck: no endpoint for $service (set $var or pass it)" >&2
    exit 2
fi
case "$endpoint" in
    ipc://*)
        path=${endpoint#ipc://}
        [ -S "$path" ] && exit 0
        echo "crm-healthcheck: $service: no socket at $path" >&2
        exit 1
        ;;
    tcp://*)
        hostport=${endpoint#tcp://}
        port=${hostport##*:}
        host=$(local_host "${hostport%:*}")
        ;;
    *)
        echo "crm-healthcheck: $service: cannot check endpoint $endpoint" >&2
        exit 2
        ;;
esac
if timeout "$timeout_s" bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$host" "$port" 2>/dev/null; then
    exit 0
fi
echo "crm-healthcheck: $service: nothing accepts connections on $host:$port ($endpoint)" >&2
exit 1
