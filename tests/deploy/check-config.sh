#!/usr/bin/env bash
# Syntax and consistency check of deploy/, with what this machine has; no engine and
# no cluster needed, a few seconds. Prints each check and the tool it used; ends with
# "N passed, N failed" and exits non-zero on a failure, or when nothing could be checked.
#   1. compose   docker-compose.yml alone and with each override (docker-compose.*.yml)
#                through `docker-compose config -q` (or `docker compose config -q`)
#   2. yaml      every *.yml / *.yaml under deploy/ parsed: python3's yaml module (plus
#                duplicate keys, and what the files promise each other: services,
#                volumes, depends_on, Kubernetes selectors, ports, Services, ConfigMap
#                endpoints, the kustomization's list), else a small pure-python
#                checker, else awk (indentation, tabs, line forms)
#   3. shell     bash -n on deploy/*.sh and tests/deploy/*.sh
#   4. kustomize `kubectl kustomize deploy/k8s` when kubectl is installed (offline)
# CRM_CHECK_YAML_WITH=yaml|pure|awk picks the YAML checker (to try a fallback).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
passed=0
failed=0
ok() { passed=$((passed + 1)); printf 'ok   %s\n' "$*"; }
bad() { failed=$((failed + 1)); printf 'FAIL %s\n' "$*"; }
log=$(mktemp /tmp/crm-check-config.XXXXXX)
trap 'rm -f "$log"' EXIT

# --- 1. compose -----------------------------------------------------------------------
echo "== compose files"
compose=()
if command -v docker-compose >/dev/null 2>&1; then
    compose=(docker-compose)
elif command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
    compose=(docker compose)
fi
if [ ${#compose[@]} -gt 0 ]; then
    version=$("${compose[@]}" version --short 2>/dev/null || "${compose[@]}" version 2>/dev/null | head -1)
    for override in "" deploy/docker-compose.*.yml; do
        files=(-f deploy/docker-compose.yml)
        [ -n "$override" ] && files+=(-f "$override")
        # CRM_ADMIN_PASSWORD is required by the file; any value does for a check
        if CRM_ADMIN_PASSWORD=check-config "${compose[@]}" "${files[@]}" config -q >"$log" 2>&1; then
            ok "${compose[*]} $version config -q: docker-compose.yml${override:+ + ${override#deploy/}}"
        else
            bad "${compose[*]} config -q: docker-compose.yml${override:+ + ${override#deploy/}}"
            sed 's/^/     /' "$log"
        fi
    done
else
    echo "     docker-compose not installed: the compose files are checked as YAML only (below)"
fi

# --- 2. yaml --------------------------------------------------------------------------
echo "== YAML under deploy/"
mapfile -t yamls < <(find deploy -type f \( -name '*.yml' -o -name '*.yaml' \) | sort)
[ ${#yamls[@]} -gt 0 ] || bad "no YAML file under deploy/"
py=
for p in /usr/bin/python3 python3; do
    command -v "$p" >/dev/null 2>&1 && { py=$p; break; }
done
if [ -n "${CRM_CHECK_YAML_WITH:-}" ]; then
    checker=$CRM_CHECK_YAML_WITH   # yaml, pure or awk: to try a fallback on purpose
elif [ -n "$py" ] && "$py" -c 'import yaml' 2>/dev/null; then
    checker=yaml
elif [ -n "$py" ]; then
    checker=pure
else
    checker="awk"
fi

{
if [ "$checker" = yaml ]; then
    echo "     with $py, yaml $("$py" -c 'import yaml; print(yaml.__version__)')"
    "$py" - "${yamls[@]}" <<'EOF'
import os, re, sys, yaml

results = []
def ok(msg): results.append(("ok  ", msg))
def bad(msg): results.append(("FAIL", msg))

class Loader(yaml.SafeLoader):
    pass
def mapping(loader, node, deep=False):
    seen = set()
    for k, _ in node.value:
        if k.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(k, deep=True)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, "duplicate key %r" % (key,), k.start_mark)
        seen.add(key)
    loader.flatten_mapping(node)
    return dict(loader.construct_pairs(node, deep=deep))
Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, mapping)

docs = {}
for path in sys.argv[1:]:
    try:
        with open(path) as f:
            docs[path] = [d for d in yaml.load_all(f, Loader=Loader) if d is not None]
        ok("%s: %d document(s)" % (path, len(docs[path])))
    except yaml.YAMLError as e:
        bad("%s: %s" % (path, str(e).replace("\n", " ")))

# --- compose: what the files promise each other
base = docs.get("deploy/docker-compose.yml", [None])[0]
if isinstance(base, dict):
    errs = []
    services = base.get("services") or {}
    declared = set((base.get("volumes") or {}).keys())
    # a one-shot step (restart other than always/unless-stopped) has no health:
    # who needs it waits until it has completed successfully
    def one_shot(svc):
        return svc.get("restart") in ("no", "on-failure")
    for name, svc in services.items():
        for key in ("image", "command") + (() if one_shot(svc) else ("healthcheck",)):
            if key not in svc:
                errs.append("%s has no %s" % (name, key))
        for dep, cond in (svc.get("depends_on") or {}).items():
            if dep not in services:
                errs.append("%s depends on unknown %s" % (name, dep))
                continue
            want = "service_completed_successfully" if one_shot(services[dep]) else "service_healthy"
            if not isinstance(cond, dict) or cond.get("condition") != want:
                errs.append("%s: depends_on %s without condition: %s" % (name, dep, want))
        for v in svc.get("volumes") or []:
            src = v.split(":")[0] if isinstance(v, str) else v.get("source", "")
            if src and not src.startswith((".", "/", "$")) and src not in declared:
                errs.append("%s mounts undeclared volume %s" % (name, src))
    for path, ds in docs.items():
        if re.match(r"deploy/docker-compose\..+\.ya?ml$", path) and ds:
            for name in (ds[0].get("services") or {}):
                if name not in services:
                    errs.append("%s overrides unknown service %s" % (path, name))
    if errs:
        bad("compose: " + "; ".join(errs))
    else:
        ok("compose: %d services, each with image, command, healthcheck (one-shot steps none); "
           "depends_on service_healthy (a one-shot step: service_completed_successfully) on known "
           "services; volumes declared; overrides name known services"
           % len(services))

# --- Kubernetes: what the manifests promise each other
k8s = {p: ds for p, ds in docs.items() if p.startswith("deploy/k8s/")}
if k8s:
    errs = []
    objs = []
    kust = None
    for path, ds in k8s.items():
        for d in ds:
            if not isinstance(d, dict) or not d.get("kind") or not d.get("apiVersion"):
                errs.append("%s: a document without apiVersion and kind" % path)
                continue
            if d["kind"] == "Kustomization":
                kust = (path, d)
                continue
            if not (d.get("metadata") or {}).get("name"):
                errs.append("%s: %s without metadata.name" % (path, d["kind"]))
                continue
            objs.append((path, d))
    by_kind = {}
    for path, d in objs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    if kust:
        kdir = os.path.dirname(kust[0])
        listed = set(kust[1].get("resources") or [])
        for r in listed:
            if not os.path.exists(os.path.join(kdir, r)):
                errs.append("kustomization lists missing %s" % r)
        for path in k8s:
            name = os.path.relpath(path, kdir)
            if name != os.path.basename(kust[0]) and ".example." not in name and name not in listed:
                errs.append("%s is not in the kustomization's resources" % path)
    workloads = {**by_kind.get("Deployment", {}), **by_kind.get("StatefulSet", {})}
    services = by_kind.get("Service", {})
    configmaps = by_kind.get("ConfigMap", {})
    port_names = {}
    for name, w in workloads.items():
        spec = w.get("spec", {})
        tmpl = spec.get("template", {})
        labels = (tmpl.get("metadata") or {}).get("labels") or {}
        match = (spec.get("selector") or {}).get("matchLabels") or {}
        if not match or any(labels.get(k) != v for k, v in match.items()):
            errs.append("%s: selector does not match its pod labels" % name)
        if w["kind"] == "StatefulSet":
            if spec.get("serviceName") not in services:
                errs.append("%s: serviceName %s is no Service here" % (name, spec.get("serviceName")))
            if not spec.get("volumeClaimTemplates"):
                errs.append("%s: StatefulSet without volumeClaimTemplates" % name)
            if spec.get("replicas", 1) != 1:
                errs.append("%s: a store has one writer: replicas must be 1" % name)
        pod = tmpl.get("spec") or {}
        volumes = {v.get("name") for v in pod.get("volumes") or []}
        volumes |= {(t.get("metadata") or {}).get("name") for t in spec.get("volumeClaimTemplates") or []}
        for c in pod.get("containers") or []:
            ports = {p.get("name"): p.get("containerPort") for p in c.get("ports") or []}
            port_names[name] = (labels, ports)
            if not c.get("image"):
                errs.append("%s/%s: no image" % (name, c.get("name")))
            res = c.get("resources") or {}
            if not res.get("requests") or not res.get("limits"):
                errs.append("%s/%s: resources need requests and limits" % (name, c.get("name")))
            for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
                p = c.get(probe)
                if not p:
                    if probe != "startupProbe":
                        errs.append("%s/%s: no %s" % (name, c.get("name"), probe))
                    continue
                port = (p.get("tcpSocket") or p.get("httpGet") or {}).get("port")
                if isinstance(port, str) and port not in ports:
                    errs.append("%s/%s: %s on unknown port %s" % (name, c.get("name"), probe, port))
            for m in c.get("volumeMounts") or []:
                if m.get("name") not in volumes:
                    errs.append("%s/%s: mounts unknown volume %s" % (name, c.get("name"), m.get("name")))
            for e in c.get("envFrom") or []:
                ref = (e.get("configMapRef") or {}).get("name")
                if ref and ref not in configmaps:
                    errs.append("%s/%s: envFrom unknown ConfigMap %s" % (name, c.get("name"), ref))
    for sname, s in services.items():
        sel = (s.get("spec") or {}).get("selector") or {}
        targets = [w for w, (labels, _) in port_names.items() if sel and all(labels.get(k) == v for k, v in sel.items())]
        if not targets:
            errs.append("Service %s selects no workload" % sname)
            continue
        for p in (s.get("spec") or {}).get("ports") or []:
            tp = p.get("targetPort", p.get("port"))
            known = port_names[targets[0]][1]
            if isinstance(tp, str) and tp not in known or isinstance(tp, int) and tp not in known.values():
                errs.append("Service %s: port %s not on %s" % (sname, tp, targets[0]))
    # every endpoint in a ConfigMap names a Service here that has that port
    for cname, cm in configmaps.items():
        for key, val in ((cm.get("data") or {}).items()):
            m = re.match(r"tcp://([a-z0-9-]+):(\d+)$", str(val))
            if not m:
                continue
            svc = services.get(m.group(1))
            if not svc:
                errs.append("ConfigMap %s: %s names no Service %s" % (cname, key, m.group(1)))
            elif int(m.group(2)) not in [p.get("port") for p in svc["spec"].get("ports") or []]:
                errs.append("ConfigMap %s: %s: Service %s has no port %s" % (cname, key, m.group(1), m.group(2)))
    if errs:
        bad("kubernetes: " + "; ".join(errs))
    else:
        ok("kubernetes: %d objects (%s); selectors, probes and their ports, resources, volumes, "
           "Services and their ports, ConfigMap endpoints%s agree"
           % (len(objs), ", ".join("%d %s" % (len(v), k) for k, v in sorted(by_kind.items())),
              ", the kustomization's list" if kust else ""))

for tag, msg in results:
    print("%s %s" % (tag, msg))
sys.exit(1 if any(t == "FAIL" for t, _ in results) else 0)
EOF
    rc=$?
elif [ "$checker" = pure ]; then
    echo "     with $py, without its yaml module: a small structural checker (indentation,"
    echo "     tabs, key and list lines, block scalars, quotes and brackets, duplicate keys)"
    "$py" - "${yamls[@]}" <<'EOF'
import re, sys
failed = 0
KEY = re.compile(r'''^(?:"[^"]*"|'[^']*'|[^\s'"#{}\[\],&*!|>%@`][^#]*?)\s*:(?:\s+(.*))?$''')
for path in sys.argv[1:]:
    errs = []
    block = None            # indentation of the line that opened a block scalar
    stack = [(-1, set())]   # (indent, keys seen) of each open mapping
    depth = 0               # open [ { across lines
    opened = True           # the last key line had no value: a deeper block may follow
    for n, raw in enumerate(open(path, encoding="utf-8"), 1):
        line = raw.rstrip("\n")
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip(" "))
        if block is not None:
            if indent > block:
                continue
            block = None
        text = line.strip()
        if text in ("---", "..."):
            stack = [(-1, set())]   # a new document
            opened = True
            continue
        if text.startswith("#"):
            continue
        if "\t" in line[:indent + 1]:
            errs.append("%d: tab in indentation" % n)
            continue
        body = re.sub(r'''"(?:\\.|[^"\\])*"|'[^']*' ''', '""', text)
        body = re.sub(r"\s#.*$", "", body)
        if body.count('"') % 2 or re.search(r"(^|[\s:\[,{])'[^']*$", body):
            errs.append("%d: unbalanced quote" % n)
        was_in_flow = depth > 0
        depth += body.count("[") + body.count("{") - body.count("]") - body.count("}")
        if depth < 0:
            errs.append("%d: closing bracket without an opening one" % n)
            depth = 0
        if was_in_flow:
            continue
        item = body
        new_item = False
        while item.startswith("- ") or item == "-":
            indent += 2
            item = item[2:].lstrip()
            new_item = True
        if not item:
            continue
        while stack and (stack[-1][0] > indent or new_item and stack[-1][0] == indent):
            stack.pop()   # deeper mappings end; a list item starts a mapping of its own
        m = KEY.match(item)
        if m:
            key = item.split(":")[0].strip()
            if stack[-1][0] == indent:
                if key in stack[-1][1] and key != "<<":
                    errs.append("%d: duplicate key %s" % (n, key))
                stack[-1][1].add(key)
            else:
                if not new_item and not opened:
                    errs.append("%d: indented under a key that has a value" % n)
                stack.append((indent, {key}))
            value = (m.group(1) or "").strip()
            opened = value == "" or value.startswith("&")
            if re.match(r"^[|>][-+0-9]*$", value):
                block = indent
            continue
        elif not body.startswith("- ") and not item.startswith(("[", "{", '"', "'")) and stack[-1][0] >= indent:
            errs.append("%d: neither a key, a list item nor a continuation: %s" % (n, text[:60]))
        opened = False
    if depth:
        errs.append("unclosed [ or {")
    if errs:
        failed += 1
        print("FAIL %s: %s" % (path, "; ".join(errs[:5])))
    else:
        print("ok   %s: well-formed (structural check)" % path)
sys.exit(1 if failed else 0)
EOF
    rc=$?
else
    echo "     no python3: awk checks indentation (spaces, no tabs) and line forms"
    rc=0
    for f in "${yamls[@]}"; do
        if awk '
            /^[ ]*#/ || /^[ ]*$/ || /^---$/ { next }
            /^[ ]*\t/ { print FILENAME ":" NR ": tab in indentation"; bad = 1; next }
            /^[ ]*(- )*([A-Za-z0-9_."\x27<$][^:]*):( |$)/ { next }
            /^[ ]*- / || /^[ ]+[^ ]/ { next }
            { print FILENAME ":" NR ": unexpected line: " $0; bad = 1 }
            END { exit bad }' "$f"; then
            echo "ok   $f: line forms (awk)"
        else
            echo "FAIL $f"
            rc=1
        fi
    done
fi
} >"$log" 2>&1
cat "$log"
# the checker's own ok/FAIL lines count; a checker that failed without one counts once
p=$(grep -c '^ok ' "$log")
f=$(grep -c '^FAIL' "$log")
[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
passed=$((passed + p))
failed=$((failed + f))

# --- 3. shell -------------------------------------------------------------------------
echo "== shell scripts"
for f in deploy/*.sh tests/deploy/*.sh; do
    [ -e "$f" ] || continue
    if bash -n "$f" 2>"$log"; then ok "bash -n $f"; else bad "bash -n $f"; sed 's/^/     /' "$log"; fi
done

# --- 4. kustomize ---------------------------------------------------------------------
echo "== kustomization"
if command -v kubectl >/dev/null 2>&1; then
    if kubectl kustomize deploy/k8s >"$log" 2>&1; then
        ok "kubectl kustomize deploy/k8s: $(grep -c '^kind:' "$log") objects"
    else
        bad "kubectl kustomize deploy/k8s"
        sed 's/^/     /' "$log" | head -20
    fi
else
    echo "     kubectl not installed: deploy/k8s checked as YAML only (above)"
fi

# --- programs the Makefile builds that deploy/ does not run yet (a note, not a failure)
for s in $(sed -n 's/^SERVICES *:= *//p' Makefile); do
    grep -q "crm-$s" deploy/docker-compose.yml || echo "note: crm-$s (Makefile SERVICES) is not in deploy/docker-compose.yml"
    grep -rqs "crm-$s" deploy/k8s/ || echo "note: crm-$s (Makefile SERVICES) is not in deploy/k8s/"
done

[ $((passed + failed)) -gt 0 ] || bad "nothing was checked"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
