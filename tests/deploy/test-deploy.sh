#!/usr/bin/env bash
# make test-deploy: the deployment for real, on this machine.
#   1. tools    Debian's docker.io and docker-compose (apt-get when missing; root)
#   2. engine   a Docker engine: the one that answers, else a private dockerd
#               (--iptables=false --bridge=none --storage-driver=vfs, data-root and
#               exec-root in a temporary folder), stopped again at the end
#   3. base     debian:bookworm-slim: present, else pulled, else made with
#               debootstrap --variant=minbase and docker import (kept in
#               build/deploy-cache/ for the next run; about 40 s the first time)
#   4. image    DOCKER_BUILDKIT=0 docker build --network host -f deploy/Dockerfile
#   5. up       deploy/docker-compose.yml + deploy/docker-compose.test.yml (host
#               network, loopback endpoints on ports 25xxx), every container healthy
#   6. scenario through the gateway: login (HTTP door), a customer and an opportunity,
#               a second user who follows it (Notifications/Follow over HTTP, her own
#               token), a move with UpdateLead, its tracking message in
#               Activities/ListMessages (ZeroMQ door, crmctl in the gateway's container),
#               and its notification: in her inbox (UnreadCount, ListInbox), on her
#               GET /v1/stream (curl -N, opened before the move) and on crmctl tail
#   7. crash    activities' process killed (the restart policy brings it back) while the
#               opportunity moves again; pipeline killed with docker kill and started
#               with docker-compose start; notifications killed with docker kill, a move
#               while it is down, started again: it catches up, with an SSE stream open
#               across it; each tracking message and each notification exactly once
#   8. backup   hot copies with mdb_copy in each service's container (deploy/README.md),
#               then one more move
#   9. restore  keys from crmctl keygen; down (volumes kept); the four stores put back
#               from the copies
#  10. curve    up again with deploy/docker-compose.curve.yml (keys of the operator's own
#               instead of those identity made): the old sessions hold, the
#               opportunity, its chatter and the inbox are as backed up, calls, events
#               and the live stream flow over CURVE, the move made again is tracked and
#               notified once (inbox, SSE, crmctl tail with crmctl.key)
#  11. down     docker-compose down -v, the private engine stopped, its folder removed,
#               no process left behind
# Prints how long each phase took; ends with "N passed, N failed".
# Environment: CRM_TEST_DEPLOY_KEEP=1 keeps the temporary folder (logs) on failure;
# CRM_DEBIAN_MIRROR (default http://deb.debian.org/debian) for debootstrap;
# CRM_DEPLOY_CACHE (default build/deploy-cache) where the made base image is kept.
# On an engine that was already running (DOCKER_HOST or the default socket), the test
# uses it, removes its crm:deploy-test image at the end (keeping the build cache), and
# leaves the engine and any debian:bookworm-slim it imported in place.
set -uo pipefail

cd "$(dirname "$0")/../.." || exit 1
root=$PWD
project=crm-deploy-test
image=crm:deploy-test
base_image=debian:bookworm-slim
cache=${CRM_DEPLOY_CACHE:-$root/build/deploy-cache}
mirror=${CRM_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# must match deploy/docker-compose.test.yml
ports=(25601 25602 25603 25611 25612 25613 25621 25622 25623 25631 25632 25555 25080)
zmq_door=tcp://127.0.0.1:25555
http_door=http://127.0.0.1:25080

passed=0
failed=0
t_start=$EPOCHREALTIME
phase_name=
phase_t0=
timings=()
tmp=
dockerd_pid=
own_engine=0
up_done=0

bg_pid=
declare -A bg_pids=()   # SSE readers (curl) and tails (docker exec): teardown ends those still running
say() { printf '%s\n' "$*"; }
# long LOG COMMAND…: a long step, its output into LOG, run in the background and waited
# for, so that Ctrl-C or a TERM is handled at once (bash runs a trap only after the
# foreground command ends; and no redirection may wrap the call, or the trap's output
# would go there too)
long() {
    local log=$1
    shift
    "$@" >"$log" 2>&1 &
    bg_pid=$!
    wait "$bg_pid"
    local rc=$?
    bg_pid=
    return "$rc"
}
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }
phase() {
    phase_end
    phase_name=$1
    phase_t0=$EPOCHREALTIME
    say "== $phase_name"
}
phase_end() {
    if [ -n "$phase_name" ]; then
        local d
        d=$(secs "$phase_t0" "$EPOCHREALTIME")
        timings+=("$(printf '%-9s %7ss' "$phase_name" "$d")")
        say "   ($phase_name: ${d} s)"
        phase_name=
    fi
}
ok() { passed=$((passed + 1)); say "ok   $*"; }
bad() { failed=$((failed + 1)); say "FAIL $*"; }
# fatal: counts a failure, then the EXIT trap tears everything down
die() { bad "$*"; exit 1; }

# --- teardown, on every exit ---------------------------------------------
compose_logs() {
    [ "$up_done" = 1 ] || return 0
    say "--- container logs (last 30 lines each)"
    compose logs --no-color --tail 30 2>&1 | sed 's/^/    /'
}
teardown() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$bg_pid" ]; then
        kill -TERM "$bg_pid" 2>/dev/null
        wait "$bg_pid" 2>/dev/null
    fi
    # only those still among this shell's jobs (a pid that ended may have been reused)
    local p live
    live=" $(jobs -p | tr '\n' ' ') "
    for p in "${!bg_pids[@]}"; do
        case "$live" in *" $p "*) kill -TERM "$p" 2>/dev/null; wait "$p" 2>/dev/null ;; esac
    done
    [ "$failed" -eq 0 ] || compose_logs
    phase down
    if [ "$up_done" = 1 ]; then
        compose down -v --remove-orphans >"$tmp/down.log" 2>&1 &&
            say "   containers and volumes removed" || { say "   docker-compose down failed:"; tail -5 "$tmp/down.log"; }
    fi
    if [ "$own_engine" = 1 ]; then
        stop_engine
    elif [ -n "${DOCKER_BIN:-}" ] && "$DOCKER_BIN" image inspect "$image" >/dev/null 2>&1; then
        "$DOCKER_BIN" rmi --no-prune "$image" >/dev/null 2>&1 || true
    fi
    if [ -n "$tmp" ] && [ -d "$tmp" ]; then
        if [ "$failed" -ne 0 ] && [ "${CRM_TEST_DEPLOY_KEEP:-0}" = 1 ]; then
            say "   kept $tmp (CRM_TEST_DEPLOY_KEEP=1)"
        else
            # the engine's folders: nothing may still be mounted there
            awk -v t="$tmp" 'index($2, t) == 1 { print $2 }' /proc/mounts | sort -r |
                while read -r m; do umount -l "$m" 2>/dev/null || true; done
            rm -rf "$tmp"
        fi
    fi
    phase_end
    say "== times"
    for t in "${timings[@]}"; do say "   $t"; done
    say "   total     $(printf '%7s' "$(secs "$t_start" "$EPOCHREALTIME")")s"
    [ "$rc" -eq 0 ] || [ "$failed" -ne 0 ] || failed=1
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ] && exit 0
    exit 1
}
trap teardown EXIT
trap 'say "interrupted"; exit 130' INT TERM

stop_engine() {
    [ -n "$dockerd_pid" ] || return 0
    kill -TERM "$dockerd_pid" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$dockerd_pid" 2>/dev/null || break; sleep 0.2; done
    if kill -0 "$dockerd_pid" 2>/dev/null; then
        say "   dockerd did not stop in 20 s: killed"
        kill -KILL "$dockerd_pid" 2>/dev/null
    fi
    wait "$dockerd_pid" 2>/dev/null
    # what the engine started (its containerd, shims) carries the folder's name
    local left
    for _ in $(seq 1 25); do
        left=$(pgrep -f -- "$tmp/" || true)
        [ -z "$left" ] && break
        sleep 0.2
    done
    if [ -n "$left" ]; then
        bad "processes left by the engine: $(echo "$left" | tr '\n' ' ')— killed"
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
    else
        ok "engine stopped, no process left behind"
    fi
    dockerd_pid=
}

# The files as an operator combines them (configure FILE…, beside docker-compose.yml).
# docker-compose 1.29 (docker-py) refuses a container with published ports on the
# host's network, where `docker compose` v2 only warns, and a 1.29 override cannot
# remove list entries: so the services run from the merged configuration
# (docker-compose config) with the published ports of host-network services dropped.
configure() {
    local files=(-f deploy/docker-compose.yml) f
    for f in "$@"; do files+=(-f "deploy/$f"); done
    CRM_IMAGE=$image CRM_ADMIN_PASSWORD=$admin_pw CRM_CURVE_KEYS=$tmp/curve \
        "${COMPOSE[@]}" -p "$project" "${files[@]}" config >"$tmp/compose.merged.yml" 2>"$tmp/config.log" ||
        { cat "$tmp/config.log"; return 1; }
    "$py" - "$tmp/compose.merged.yml" "$tmp/compose.yml" <<'EOF'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
for svc in doc["services"].values():
    if svc.get("network_mode") == "host":
        svc.pop("ports", None)
yaml.safe_dump(doc, open(sys.argv[2], "w"), default_flow_style=False)
EOF
}
compose() {
    "${COMPOSE[@]}" -p "$project" -f "$tmp/compose.yml" "$@"
}

# --- 1. tools --------------------------------------------------------------
phase tools
tmp=$(mktemp -d /tmp/crm-deploy-test.XXXXXX) || die "mktemp"
as_root=()
[ "$(id -u)" = 0 ] || as_root=(sudo -n)
apt_install() {
    local missing=() p
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "   installing ${missing[*]}"
    { "${as_root[@]}" apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq --no-install-recommends \
            "${missing[@]}"; } >"$tmp/apt.log" 2>&1 || { tail -20 "$tmp/apt.log"; return 1; }
}
apt_install docker.io docker-compose || die "cannot install docker.io and docker-compose"
# Debian's client: /usr/local/bin/docker may be another one, or a client alone
DOCKER_BIN=/usr/bin/docker
[ -x "$DOCKER_BIN" ] || DOCKER_BIN=$(command -v docker) || die "no docker client"
docker() { "$DOCKER_BIN" "$@"; }
if command -v docker-compose >/dev/null; then
    COMPOSE=(docker-compose)
elif docker compose version >/dev/null 2>&1; then
    COMPOSE=("$DOCKER_BIN" compose)
else
    die "neither docker-compose nor docker compose"
fi
busy=()
for p in "${ports[@]}"; do
    (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && busy+=("$p")
done
[ ${#busy[@]} -eq 0 ] || die "ports in use on 127.0.0.1: ${busy[*]} (deploy/docker-compose.test.yml)"
# python3 with yaml: Debian's, which docker-compose itself runs on
py=/usr/bin/python3
"$py" -c 'import yaml' 2>/dev/null || py=python3
admin_pw="deploy-test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
say "   $("$DOCKER_BIN" --version); $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1)"

# --- 2. engine --------------------------------------------------------------
phase engine
if docker info >/dev/null 2>&1; then
    say "   using the engine that answers (${DOCKER_HOST:-default socket}); it is left running"
else
    command -v dockerd >/dev/null || die "no dockerd"
    [ "$(id -u)" = 0 ] || die "starting dockerd needs root"
    mkdir -p "$tmp/data" "$tmp/exec"
    export DOCKER_HOST="unix://$tmp/docker.sock"
    dockerd --host "$DOCKER_HOST" --data-root "$tmp/data" --exec-root "$tmp/exec" \
        --pidfile "$tmp/dockerd.pid" --iptables=false --ip-forward=false --ip-masq=false \
        --bridge=none --storage-driver=vfs >"$tmp/dockerd.log" 2>&1 &
    dockerd_pid=$!
    own_engine=1
    for _ in $(seq 1 150); do
        docker info >/dev/null 2>&1 && break
        kill -0 "$dockerd_pid" 2>/dev/null || { tail -20 "$tmp/dockerd.log"; die "dockerd exited"; }
        sleep 0.2
    done
    docker info >/dev/null 2>&1 || { tail -20 "$tmp/dockerd.log"; die "dockerd did not answer in 30 s"; }
    say "   dockerd $(docker version -f '{{.Server.Version}}') in $tmp (pid $dockerd_pid)"
fi
ok "a Docker engine answers"

# --- 3. base image ---------------------------------------------------------------
phase base
if docker image inspect "$base_image" >/dev/null 2>&1; then
    say "   $base_image is there"
elif long "$tmp/pull.log" timeout 60 "$DOCKER_BIN" pull -q "$base_image"; then
    say "   $base_image pulled"
elif [ -s "$cache/debian-bookworm-minbase-v2.tar.gz" ] &&
     docker import "$cache/debian-bookworm-minbase-v2.tar.gz" "$base_image" >/dev/null; then
    say "   cannot pull ($(tail -1 "$tmp/pull.log" | cut -c1-100)); imported the one made before: $cache/debian-bookworm-minbase-v2.tar.gz"
else
    say "   cannot pull ($(tail -1 "$tmp/pull.log" | cut -c1-100)); making it with debootstrap (about 40 s)"
    apt_install debootstrap || die "cannot install debootstrap"
    rootfs=$tmp/rootfs
    long "$tmp/debootstrap.log" debootstrap --variant=minbase bookworm "$rootfs" "$mirror" ||
        { tail -20 "$tmp/debootstrap.log"; die "debootstrap failed"; }
    # as Debian's own image: updates and security sources, no docs or caches
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
        'path-exclude /usr/share/man/*' 'path-exclude /usr/share/info/*' \
        'path-exclude /usr/share/locale/*' >"$rootfs/etc/dpkg/dpkg.cfg.d/docker-slim"
    printf '%s\n' 'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };' \
        'Dir::Cache::pkgcache ""; Dir::Cache::srcpkgcache "";' >"$rootfs/etc/apt/apt.conf.d/docker-clean"
    find "$rootfs/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
    rm -rf "$rootfs"/usr/share/man/* "$rootfs"/usr/share/info/* "$rootfs"/usr/share/locale/* \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/log/* "$rootfs"/tmp/*
    mkdir -p "$cache"
    tar -C "$rootfs" --numeric-owner -c . | gzip -1 >"$cache/debian-bookworm-minbase-v2.tar.gz.part" &&
        mv "$cache/debian-bookworm-minbase-v2.tar.gz.part" "$cache/debian-bookworm-minbase-v2.tar.gz" ||
        die "cannot write $cache"
    rm -rf "$rootfs"
    docker import "$cache/debian-bookworm-minbase-v2.tar.gz" "$base_image" >/dev/null || die "docker import failed"
    say "   made and imported; kept in $cache/ for the next run (remove it to make a fresh one)"
fi
ok "base image $base_image"

# --- 4. image --------------------------------------------------------------------
phase image
if long "$tmp/build.log" env DOCKER_BUILDKIT=0 "$DOCKER_BIN" build --network host -f deploy/Dockerfile -t "$image" .; then
    ok "image built: $(docker image inspect -f '{{.Size}}' "$image" | awk '{ printf "%.0f MB", $1 / 1e6 }')"
else
    tail -30 "$tmp/build.log"
    die "docker build failed (log above)"
fi

# container ids do not change across kills and restarts: asked after each up
declare -A cids=()
cid() { echo "${cids[$1]:-none}"; }
state() { docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}} {{.RestartCount}}' "$(cid "$1")" 2>/dev/null; }
# wait_healthy SERVICE [MIN_RESTARTS]: up to 60 s
wait_healthy() {
    local s=$1 min=${2:-0} st=
    for _ in $(seq 1 300); do
        st=$(state "$s")
        case "$st" in "running healthy "*) [ "${st##* }" -ge "$min" ] && return 0 ;; esac
        sleep 0.2
    done
    say "   $s: $st"
    return 1
}
# bring_up: up -d from $tmp/compose.yml, then every service healthy
bring_up() {
    local s
    up_done=1
    long "$tmp/up.log" compose up -d --no-build || { cat "$tmp/up.log"; return 1; }
    for s in identity pipeline activities notifications gateway; do
        cids[$s]=$(compose ps -q "$s")
        [ -n "${cids[$s]}" ] || { say "   no container for $s"; return 1; }
    done
    for s in identity pipeline activities notifications gateway; do
        wait_healthy "$s" || { say "   $s did not become healthy in 60 s"; return 1; }
    done
}

# crmctl: the image's, in the gateway's container, through the ZeroMQ door on loopback
token=
curve_env=()
crmctl() {
    docker exec -e CRM_ENDPOINT="$zmq_door" -e CRM_TOKEN="$token" "${curve_env[@]}" "$(cid gateway)" crmctl "$@"
}
# json FIELD…: a value from the JSON on stdin
json() { "$py" -c 'import json, sys
v = json.load(sys.stdin)
for k in sys.argv[1:]:
    v = v[int(k)] if isinstance(v, list) else v.get(k, "")
print(v)' "$@"; }
# stages: index 0 is the opportunity's first stage, 1… the others in order
stage_ids=()
stage_names=()
move() {
    local o
    o=$(crmctl call Pipeline/UpdateLead "{\"id\":\"$lead\",\"stageId\":\"${stage_ids[$1]}\"}" 2>&1) ||
        { bad "UpdateLead to ${stage_names[$1]}: $o"; return 1; }
    [ "$(json stageId <<<"$o")" = "${stage_ids[$1]}" ] && ok "UpdateLead moved opportunity $lead to ${stage_names[$1]}" ||
        bad "UpdateLead: $o"
}
# tracked N: how many tracking messages of the opportunity record a move to stage N
tracked() {
    local o
    o=$(crmctl call Activities/ListMessages "{\"doc\":{\"model\":\"lead\",\"id\":\"$lead\"}}" 2>&1) ||
        { echo "error: $o"; return; }
    "$py" -c 'import json, sys
n = 0
for m in json.load(sys.stdin).get("messages", []):
    for t in m.get("tracking", []):
        if t.get("field") == "stageId" and str(t.get("newValue")) == sys.argv[1]:
            n += 1
print(n)' "${stage_ids[$1]}" <<<"$o"
}
# expect_tracked N…: each move to stage N is in the chatter exactly once
expect_tracked() {
    local k n
    for k in "$@"; do
        n=$(tracked "$k")
        [ "$n" = 1 ] && ok "the move to ${stage_names[$k]} is in Activities/ListMessages once" ||
            bad "tracking messages of the move to ${stage_names[$k]}: $n (want 1)"
    done
}

# --- notifications: the follower's side ------------------------------------------------
# twirp TOKEN METHOD JSON: a call through the HTTP door (METHOD as
# crm.notifications.v1.Notifications/UnreadCount; TOKEN empty: none); the reply body on
# stdout, non-zero unless the answer is 200
twirp() {
    local out code auth=()
    [ -z "$1" ] || auth=(-H "Authorization: Bearer $1")
    out=$(curl -sS --max-time 10 -X POST "${auth[@]}" -H 'Content-Type: application/json' \
        -d "$3" -w '\n%{http_code}' "$http_door/twirp/$2" 2>&1)
    code=${out##*$'\n'}
    printf '%s\n' "${out%$'\n'*}"
    [ "$code" = 200 ]
}
# ntf METHOD [JSON]: a Notifications call as the follower
follower_token=
ntf() {
    local body=${2:-}
    [ -n "$body" ] || body='{}'
    twirp "$follower_token" "crm.notifications.v1.Notifications/$1" "$body"
}
# entries KIND FILE N: the ids of the entries about the move of the opportunity to stage N
# (a summary line "Stage: … → NAME") in FILE (- for stdin), which holds KIND: inbox (a
# ListInbox reply), sse (curl -i of GET /v1/stream) or tail (crmctl tail's lines)
entries() {
    "$py" -c 'import json, re, sys
kind, path, lead, name = sys.argv[1:5]
raw = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
text = raw.decode("utf-8", "replace")
ns = []
if kind == "inbox":
    ns = json.loads(text).get("notifications", [])
elif kind == "sse":
    body = text.split("\r\n\r\n", 1)[1] if "\r\n\r\n" in text else ""
    for block in body.replace("\r\n", "\n").split("\n\n")[:-1]:  # the last one may be partial
        data = [l[5:].lstrip() for l in block.split("\n") if l.startswith("data:")]
        if data:
            ns.append(json.loads("\n".join(data)))
else:
    ns = [json.loads(l).get("notification", {}) for l in text.split("\n")[:-1] if l.strip()]
line = re.compile("Stage: .* \u2192 " + re.escape(name) + "$")
print(" ".join(str(n.get("id")) for n in ns
               if (n.get("doc") or {}).get("model") == "lead" and str((n.get("doc") or {}).get("id")) == lead
               and any(line.match(l) for l in str(n.get("summary", "")).split("\n"))))' \
        "$1" "$2" "$lead" "${stage_names[$3]}"
}
# notified N: the ids of the follower's inbox entries about the move to stage N
notified() {
    local o
    o=$(ntf ListInbox '{"pageSize":500}') || { echo "error: $o"; return; }
    entries inbox - "$1" <<<"$o"
}
# wait_notified N: until the move to stage N is in the follower's inbox (up to 15 s:
# her session carries no marks of the admin's writes, so she reads when it lands)
wait_notified() {
    local ids
    for _ in $(seq 1 75); do
        ids=$(notified "$1")
        case "$ids" in '' | error*) sleep 0.2 ;; *) return 0 ;; esac
    done
    say "   the move to ${stage_names[$1]} is not in the follower's inbox: $ids"
    return 1
}
# expect_notified N…: each move to stage N is in the follower's inbox exactly once
expect_notified() {
    local k ids
    for k in "$@"; do
        ids=$(notified "$k")
        [ -n "$ids" ] && [ "$ids" = "${ids%% *}" ] && ok "the move to ${stage_names[$k]} is in the follower's inbox once (entry $ids)" ||
            bad "the follower's inbox entries for the move to ${stage_names[$k]}: [$ids] (want one)"
    done
}
expect_unread() {
    local o n
    o=$(ntf UnreadCount) || { bad "UnreadCount: $o"; return; }
    n=$(json count <<<"$o")
    [ "${n:-0}" = "$1" ] && ok "Notifications/UnreadCount for the follower: $1" || bad "UnreadCount: $o (want $1)"
}
# sse_open NAME: GET /v1/stream with the follower's token, curl -N in the background
# into $tmp/NAME.sse, until the 200 is there: the gateway registers the client first,
# so every entry committed from then on reaches it
declare -A sse_pids=()
sse_open() {
    local f=$tmp/$1.sse
    curl -sS -N -i --max-time 150 -H "Authorization: Bearer $follower_token" -H 'Accept: text/event-stream' \
        "$http_door/v1/stream" >"$f" 2>"$f.err" &
    sse_pids[$1]=$!
    bg_pids[$!]=1
    for _ in $(seq 1 50); do
        head -1 "$f" 2>/dev/null | grep -q '^HTTP/1.1 200' && return 0
        kill -0 "${sse_pids[$1]}" 2>/dev/null || break
        sleep 0.1
    done
    say "   GET /v1/stream: $(head -c 300 "$f") $(cat "$f.err")"
    return 1
}
sse_close() {
    kill -TERM "${sse_pids[$1]}" 2>/dev/null
    wait "${sse_pids[$1]}" 2>/dev/null
    unset "bg_pids[${sse_pids[$1]}]"
}
# tail_start NAME: crmctl tail of the follower's entries about the opportunity, in the
# gateway's container (the stream's address from its environment, as an operator runs
# it), its lines into $tmp/NAME.tail; it ends by itself (timeout), since docker exec
# would leave it running
tail_start() {
    local f=$tmp/$1.tail
    docker exec "$(cid gateway)" timeout 60 crmctl tail --user "$follower" --doc "lead/$lead" >"$f" 2>"$f.err" &
    bg_pids[$!]=1
    # "tail: listening on …" once its subscription is live
    for _ in $(seq 1 100); do
        grep -q 'listening' "$f.err" 2>/dev/null && return 0
        sleep 0.1
    done
    say "   crmctl tail: $(head -c 300 "$f.err")"
    return 1
}
# expect_seen KIND FILE N ID WHAT: the move to stage N came exactly once in FILE (up to
# 15 s), as the inbox's entry ID
expect_seen() {
    local ids
    for _ in $(seq 1 75); do
        ids=$(entries "$1" "$2" "$3" 2>&1)
        [ -n "$ids" ] && break
        sleep 0.2
    done
    sleep 0.5   # a second copy would come right behind the first
    ids=$(entries "$1" "$2" "$3" 2>&1)
    [ "$ids" = "$4" ] && ok "$5: the move to ${stage_names[$3]} once, entry $4" ||
        bad "$5: entries for the move to ${stage_names[$3]}: [$ids] (want [$4]); $(tail -c 400 "$2" | tr '\n' ' ')"
}

# --- 5. up -------------------------------------------------------------------------
phase up
configure docker-compose.test.yml || die "docker-compose config refused the files"
ok "docker-compose config: docker-compose.yml + docker-compose.test.yml"
bring_up || die "docker-compose up"
ok "identity, pipeline, activities, notifications, gateway healthy (compose started them in dependency order)"
# the image as promised (asked in a running container: on vfs a new one costs a copy)
what=$(docker exec "$(cid gateway)" sh -c 'id -u
for p in crm-identity crm-pipeline crm-activities crm-notifications crm-gateway crmctl crm-healthcheck mdb_copy curl bash; do
    command -v $p >/dev/null || echo "missing $p"
done
for p in crm-identity crm-pipeline crm-activities crm-notifications crm-gateway crmctl; do
    $p --help >/dev/null 2>&1; [ $? -le 2 ] || echo "$p does not start"
done' 2>&1)
[ "$what" = 10001 ] && ok "the image runs as uid 10001 and has every program, crm-healthcheck, mdb_copy, curl" ||
    bad "the image: $what"
for s in identity pipeline activities notifications; do
    owner=$(docker exec "$(cid "$s")" stat -c '%u' "/var/lib/crm/$s/data.mdb" 2>&1)
    [ "$owner" = 10001 ] && ok "$s's store on its volume, owned by uid 10001" || bad "$s store: $owner"
done

# --- 6. scenario -----------------------------------------------------------------
phase scenario
health=$(curl -fsS "$http_door/healthz") && ok "GET /healthz on the HTTP door: $health" || bad "GET /healthz"
# the web app the image carries: the page, then the script it names, compressed
page=$(curl -fsS "$http_door/pipeline") || page=
asset=$(grep -Eo '/assets/[^"]+\.js' <<<"$page" | head -1)
if [ -n "$asset" ] && curl -fsS -H 'Accept-Encoding: gzip' -o /dev/null -w '%{content_type}' "$http_door$asset" | grep -q javascript; then
    ok "the web app from the image: /pipeline names $asset, served as JavaScript"
else
    bad "the web app: GET /pipeline gave no script (${page:0:80})"
fi
login=$(curl -sS -X POST "$http_door/twirp/crm.identity.v1.Identity/Login" -H 'Content-Type: application/json' \
    -d "{\"login\":\"admin\",\"password\":\"$admin_pw\"}") || die "login over HTTP failed: $login"
token=$(json token <<<"$login")
[ -n "$token" ] && ok "login admin over HTTP with CRM_ADMIN_PASSWORD" || die "no token in $login"
for s in identity pipeline activities notifications; do
    h=$(crmctl health "$s" 2>&1) && ok "crmctl health $s: $(json status <<<"$h")" || bad "crmctl health $s: $h"
done
# CurveZMQ is on from the first start, with keys the keys service made in its volume:
# the operator's key calls a service's operations, a plain client gets nothing
for s in identity pipeline activities notifications gateway; do
    v=$(docker exec "$(cid "$s")" printenv CRM_CURVE_DIR 2>&1)
    [ "$v" = /etc/crm/curve ] || bad "$s: CRM_CURVE_DIR=$v, not /etc/crm/curve by default"
done
ok "every program runs with CRM_CURVE_DIR=/etc/crm/curve by default"
# each program holds its own secret key and no other's (crmctl.key beside the gateway's:
# the stream admits the gateway anyway); operator.key stays in the keys service's volume
for s in identity pipeline activities notifications gateway; do
    want="$s.key"
    [ "$s" = gateway ] && want="crmctl.key gateway.key"
    have=$(docker exec "$(cid "$s")" sh -c 'cd /etc/crm/curve && echo *.key' 2>&1)
    [ "$have" = "$want" ] || bad "$s holds the secret keys \"$have\", not \"$want\""
done
ok "each program holds its own secret key only (the keys service handed them out)"
out=$(compose run --rm -T keys crmctl consumers pipeline 2>"$tmp/run.err") &&
    ok "crmctl consumers pipeline with operator.key (docker-compose run keys), over CURVE: $(head -c 120 <<<"$out")" ||
    bad "crmctl consumers pipeline with operator.key: $out $(tail -5 "$tmp/run.err")"
out=$(docker exec "$(cid gateway)" crmctl consumers pipeline 2>&1) &&
    bad "the gateway's container called pipeline's operations: $out" ||
    ok "the gateway's container cannot call a service's operations (no operator.key): $(head -c 100 <<<"$out")"
out=$(docker exec -e CRM_CURVE_DIR= "$(cid gateway)" crmctl consumers pipeline 2>&1) &&
    bad "a plain client was served by pipeline's RPC socket: $out" ||
    ok "a plain client is refused by pipeline's RPC socket: $(head -c 100 <<<"$out")"
# the follower: a second user, who logs in over HTTP too
follower_pw="follower-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
out=$(twirp "$token" crm.identity.v1.Identity/CreateUser \
    "{\"login\":\"follower\",\"name\":\"Fran Follower\",\"password\":\"$follower_pw\",\"salesAccess\":\"SALES_ACCESS_ALL_LEADS\"}") ||
    die "CreateUser follower: $out"
follower=$(json user id <<<"$out")
out=$(twirp "" crm.identity.v1.Identity/Login "{\"login\":\"follower\",\"password\":\"$follower_pw\"}") ||
    die "login follower: $out"
follower_token=$(json token <<<"$out")
[ -n "$follower_token" ] && ok "user follower ($follower) created by admin and logged in over HTTP" || die "no token in $out"
out=$(crmctl call Pipeline/CreateCustomer '{"name":"Deploy Test Ltd"}' 2>&1) || die "CreateCustomer: $out"
customer=$(json id <<<"$out")
out=$(crmctl call Pipeline/CreateLead "{\"type\":\"LEAD_TYPE_OPPORTUNITY\",\"name\":\"Container deal\",\"customerId\":\"$customer\",\"expectedRevenue\":\"250000\"}" 2>&1) ||
    die "CreateLead: $out"
lead=$(json id <<<"$out")
first_stage=$(json stageId <<<"$out")
out=$(crmctl call Pipeline/ListStages '{}' 2>&1) || die "ListStages: $out"
while read -r id name; do
    stage_ids+=("$id")
    stage_names+=("$name")
done < <("$py" -c 'import json, sys
first = sys.argv[1]
stages = json.load(sys.stdin).get("stages", [])
for s in [s for s in stages if str(s["id"]) == first] + [s for s in stages if str(s["id"]) != first]:
    print(s["id"], s["name"])' "$first_stage" <<<"$out")
[ ${#stage_ids[@]} -ge 5 ] || die "fewer than 5 stages: $out"
ok "opportunity $lead created for customer $customer, in stage ${stage_names[0]}"
# she follows it, with her own token; read-your-writes marks are per session and hers
# has none of the admin's writes, so notifications may not know the lead for a moment
for _ in $(seq 1 25); do
    out=$(ntf Follow "{\"doc\":{\"model\":\"lead\",\"id\":\"$lead\"}}") && break
    case "$out" in *not_found*) sleep 0.2 ;; *) break ;; esac
done
[ "$(json userId <<<"$out")" = "$follower" ] && ok "follower follows opportunity $lead (Notifications/Follow over HTTP)" ||
    bad "Follow: $out"
sse_open scenario && ok "GET /v1/stream with the follower's token: 200, open before the move" ||
    bad "GET /v1/stream did not start"
tail_start scenario && ok "crmctl tail --user $follower --doc lead/$lead in the gateway's container" ||
    bad "crmctl tail did not start"
move 1
expect_tracked 1
wait_notified 1
expect_notified 1
expect_unread 1
id1=$(notified 1)
expect_seen sse "$tmp/scenario.sse" 1 "$id1" "GET /v1/stream"
expect_seen tail "$tmp/scenario.tail" 1 "$id1" "crmctl tail"
sse_close scenario

# --- 7. crash and recovery ---------------------------------------------------------
phase crash
# activities dies as in a crash (its process killed from outside, not docker stop):
# the restart policy brings it back; meanwhile the opportunity moves on
restarts=$(state activities)
restarts=${restarts##* }
kill -KILL "$(docker inspect -f '{{.State.Pid}}' "$(cid activities)")" || die "cannot kill activities' process"
say "   killed activities' process (restart policy: $(docker inspect -f '{{.HostConfig.RestartPolicy.Name}}' "$(cid activities)"))"
move 2
wait_healthy activities $((restarts + 1)) && ok "activities restarted by the restart policy and healthy again" ||
    die "activities did not come back"
expect_tracked 2 1
wait_notified 2
expect_notified 2
# pipeline: docker kill (a stop by hand: the restart policy leaves it), docker-compose start
docker kill "$(cid pipeline)" >/dev/null || die "docker kill pipeline"
st=$(state pipeline)
say "   docker kill pipeline: ${st%% *}"
n=$(tracked 2)
[ "$n" = 1 ] && ok "activities answers while pipeline is down" || bad "ListMessages with pipeline down: $n"
compose start pipeline >"$tmp/start.log" 2>&1 || { cat "$tmp/start.log"; die "docker-compose start pipeline"; }
wait_healthy pipeline && ok "pipeline started again and healthy" || die "pipeline did not come back"
out=$(crmctl call Pipeline/GetLead "{\"id\":\"$lead\"}" 2>&1)
[ "$(json stageId <<<"$out")" = "${stage_ids[2]}" ] && ok "pipeline kept the opportunity in ${stage_names[2]} on its volume" ||
    bad "GetLead after the restart: $out"
# notifications: docker kill with the follower's stream open at the gateway; the next
# move is made while it is down, so it learns of it only by replay once started again
sse_open crash && ok "GET /v1/stream open again before notifications goes down" || bad "GET /v1/stream did not start"
docker kill "$(cid notifications)" >/dev/null || die "docker kill notifications"
st=$(state notifications)
say "   docker kill notifications: ${st%% *}"
move 3
expect_tracked 3 2 1
compose start notifications >"$tmp/start.log" 2>&1 || { cat "$tmp/start.log"; die "docker-compose start notifications"; }
wait_healthy notifications && ok "notifications started again and healthy" || die "notifications did not come back"
wait_notified 3 && ok "notifications caught up with the move made while it was down"
expect_notified 3 2 1
expect_unread 3
expect_seen sse "$tmp/crash.sse" 3 "$(notified 3)" "GET /v1/stream open across notifications' restart"
sse_close crash

# --- 8. backup -----------------------------------------------------------------------
phase backup
# hot copies while the services run (deploy/README.md): mdb_copy in each service's own
# container, consumers before their producers, as crmctl backup orders them
mkdir "$tmp/backup"
for s in notifications activities pipeline identity; do
    if docker exec "$(cid "$s")" mdb_copy -c "/var/lib/crm/$s" >"$tmp/backup/$s.mdb" 2>"$tmp/backup.log"; then
        size=$(stat -c %s "$tmp/backup/$s.mdb")
        if command -v mdb_stat >/dev/null; then
            dbs=$(mdb_stat -n -a "$tmp/backup/$s.mdb" 2>&1 | grep -c '^Status of ')
            [ "$dbs" -gt 1 ] && ok "$s: a hot copy with mdb_copy, $size bytes, $((dbs - 1)) named databases (mdb_stat)" ||
                bad "$s: the copy does not open with mdb_stat"
        else
            [ "$size" -gt 0 ] && ok "$s: a hot copy with mdb_copy, $size bytes" || bad "$s: an empty copy"
        fi
    else
        bad "mdb_copy in $s: $(cat "$tmp/backup.log")"
    fi
done
# a change after the backup, which the restore below undoes
move 4
expect_tracked 4
wait_notified 4
expect_notified 4

# --- 9. restore, after a full down (volumes kept) ------------------------------------------
phase restore
declare -A volumes=()
for s in identity pipeline activities notifications; do
    volumes[$s]=$(docker inspect -f "{{range .Mounts}}{{if eq .Destination \"/var/lib/crm/$s\"}}{{.Name}}{{end}}{{end}}" "$(cid "$s")")
done
# keys for the next phase, as an operator makes them (crmctl keygen, then owned by uid
# 10001): the image's crmctl in the gateway's container (/tmp is a tmpfs), out by tar
mkdir -m 0700 "$tmp/curve"
docker exec "$(cid gateway)" sh -c 'crmctl keygen /tmp/curve >/dev/null && tar -C /tmp/curve -c . && rm -rf /tmp/curve' |
    tar -C "$tmp/curve" -x && chown -R 10001:10001 "$tmp/curve" || die "crmctl keygen"
ok "keys made with crmctl keygen: $(cd "$tmp/curve" && echo *)"
compose down >"$tmp/down1.log" 2>&1 || { cat "$tmp/down1.log"; die "docker-compose down (volumes kept)"; }
ok "docker-compose down: containers removed, volumes kept"
# the restore of deploy/README.md: every store from the same backup, services stopped
out=$(docker run --rm --network none \
    -v "${volumes[identity]}:/var/lib/crm/identity" -v "${volumes[pipeline]}:/var/lib/crm/pipeline" \
    -v "${volumes[activities]}:/var/lib/crm/activities" \
    -v "${volumes[notifications]}:/var/lib/crm/notifications" -v "$tmp/backup:/backup:ro" "$image" \
    sh -c 'for s in identity pipeline activities notifications; do
               cp /backup/$s.mdb /var/lib/crm/$s/data.mdb && rm -f /var/lib/crm/$s/lock.mdb || exit 1
           done' 2>&1) && ok "the four stores restored from the backup (docker run with their volumes)" ||
    die "restore: $out"

# --- 10. CurveZMQ: up again on the restored volumes, with docker-compose.curve.yml ------
phase curve
configure docker-compose.test.yml docker-compose.curve.yml || die "docker-compose config refused the curve override"
ok "docker-compose config: docker-compose.yml + docker-compose.test.yml + docker-compose.curve.yml"
bring_up || die "docker-compose up with CurveZMQ"
ok "all five healthy again, now with CRM_CURVE_DIR"
for s in identity pipeline activities notifications gateway; do
    v=$(docker exec "$(cid "$s")" printenv CRM_CURVE_DIR 2>&1)
    [ "$v" = /etc/crm/curve ] || bad "$s: CRM_CURVE_DIR=$v"
done
curve_env=(-e CRM_CURVE_DIR=/etc/crm/curve)
out=$(crmctl call Identity/WhoAmI '{}' 2>&1) && ok "the session from before still holds (identity's restored store), over a CURVE door" ||
    bad "WhoAmI over CURVE with the old token: $out"
for s in identity pipeline activities notifications; do
    h=$(crmctl health "$s" 2>&1) && ok "crmctl health $s over CURVE: $(json status <<<"$h")" || bad "crmctl health $s: $h"
done
out=$(crmctl call Pipeline/GetLead "{\"id\":\"$lead\"}" 2>&1)
[ "$(json stageId <<<"$out")" = "${stage_ids[3]}" ] && ok "the restore took the opportunity back to ${stage_names[3]}" ||
    bad "GetLead after the restore: $out"
n=$(tracked 4)
[ "$n" = 0 ] && ok "and the chatter back to before the move to ${stage_names[4]}" || bad "tracking of the undone move: $n (want 0)"
ids=$(notified 4)
[ -z "$ids" ] && ok "and the follower's inbox too (her session restored with identity)" ||
    bad "the follower's inbox after the restore, move to ${stage_names[4]}: [$ids] (want none)"
expect_unread 3
# the live stream over CURVE: the gateway's subscription (its own key) and crmctl tail
# (crmctl.key, made by crmctl keygen above)
sse_open curve && ok "GET /v1/stream, the gateway subscribed to the stream over CURVE" || bad "GET /v1/stream did not start"
tail_start curve && ok "crmctl tail over CURVE with crmctl.key" || bad "crmctl tail over CURVE did not start"
move 4
expect_tracked 4 3 2 1
wait_notified 4
expect_notified 4 3 2 1
expect_unread 4
id4=$(notified 4)
expect_seen sse "$tmp/curve.sse" 4 "$id4" "GET /v1/stream over CURVE"
expect_seen tail "$tmp/curve.tail" 4 "$id4" "crmctl tail over CURVE"
sse_close curve
for s in identity pipeline activities notifications gateway; do
    wait_healthy "$s" || bad "$s not healthy at the end: $(state "$s")"
done
ok "all five healthy at the end"
exit 0
