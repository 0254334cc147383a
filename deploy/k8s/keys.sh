#!/usr/bin/env bash
# deploy/k8s/keys.sh [NAMESPACE]: makes the CurveZMQ keys (crmctl keygen) and the
# Secrets every pod mounts: crm-curve-public (every program's public key) and
# crm-curve-NAME (each program's own secret key, for that pod only). Run once, before
# `kubectl apply -k deploy/k8s/`; it keeps Secrets that exist already. The keys of
# the people's tools stay with them, in ./crm-keys (mode 0700): crmctl.key (crmctl
# tail, the live stream) and operator.key (crmctl consumers); their public keys are in
# crm-curve-public so the sockets admit them (docs/THREATS.md).
# Needs kubectl, and crmctl (build/release/crmctl, on PATH, or the image through docker).
set -euo pipefail
ns=${1:-crm}
keys=${CRM_KEYS_DIR:-./crm-keys}
here=$(cd "$(dirname "$0")" && pwd)
crmctl=$(command -v crmctl || true)
[ -n "$crmctl" ] || [ ! -x "$here/../../build/release/crmctl" ] || crmctl=$here/../../build/release/crmctl
if kubectl -n "$ns" get secret crm-curve-public >/dev/null 2>&1; then
    echo "crm-curve-public exists in $ns: keys kept (delete the crm-curve-* Secrets to make new ones)"
    exit 0
fi
mkdir -m 0700 -p "$keys"
if [ -n "$crmctl" ]; then
    "$crmctl" keygen --keep "$keys" >/dev/null
else
    docker run --rm --user "$(id -u)" -v "$(realpath "$keys"):/k" "${CRM_IMAGE:-crm:latest}" crmctl keygen --keep /k >/dev/null
fi
programs="identity pipeline activities notifications gateway"
pubs=()
for p in $programs crmctl operator; do pubs+=(--from-file="$keys/$p.pub"); done
kubectl -n "$ns" create secret generic crm-curve-public "${pubs[@]}"
for p in $programs; do
    kubectl -n "$ns" create secret generic "crm-curve-$p" --from-file="$keys/$p.key"
    rm -f "$keys/$p.key" # in its Secret now; nobody else needs it
done
echo "Secrets made in $ns; crmctl.key and operator.key are in $keys (keep them secret)"
