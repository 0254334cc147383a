#!/bin/sh
# crm-keys: docker-compose's one-shot key step (installed in the image as
# /usr/local/bin/crm-keys). It makes the CurveZMQ keys once, in the folder only it
# mounts (/etc/crm/keys, volume curve-keys: every program's secret key, crmctl.key,
# operator.key), then gives each program its own folder (/etc/crm/out/NAME, that
# program's volume, which it mounts read-only as /etc/crm/curve): its own NAME.key and
# every public key. A program taken over holds its own secret key only.
# crmctl.key (the live stream's reader) goes to the gateway too, for
# `docker-compose exec gateway crmctl tail`: the stream admits the gateway anyway.
# operator.key stays here: `docker-compose run --rm keys crmctl consumers SERVICE`.
# Run again at each `up`: keys that exist are kept (crmctl keygen --keep), and a
# program's folder is written afresh, each file replaced whole (rename).
set -eu
keys=${CRM_KEYS_DIR:-/etc/crm/keys}
out=${CRM_KEYS_OUT:-/etc/crm/out}
crmctl keygen --keep "$keys" >/dev/null
# put FILE DIR: FILE into DIR, replaced at once (a reader sees the old or the new)
put() {
    cp "$1" "$2/.$(basename "$1").new"
    chmod "$3" "$2/.$(basename "$1").new"
    mv -f "$2/.$(basename "$1").new" "$2/$(basename "$1")"
}
n=0
for dir in "$out"/*/; do
    [ -d "$dir" ] || continue
    p=$(basename "$dir")
    if [ ! -f "$keys/$p.key" ]; then
        echo "crm-keys: no key for $p in $keys" >&2
        exit 1
    fi
    for pub in "$keys"/*.pub; do put "$pub" "$dir" 0644; done
    put "$keys/$p.key" "$dir" 0600
    n=$((n + 1))
done
[ -d "$out/gateway" ] && put "$keys/crmctl.key" "$out/gateway" 0600
echo "crm-keys: keys in $keys; each of $n programs has its own folder"
