#!/usr/bin/env bash
# tests/coverage/run.sh BUILD_DIR (make coverage: build/coverage)
#
# Runs the unit and system tests of a --coverage build (tests/run.sh, no
# fuzz targets), then prints line and branch coverage per module of common/
# and services/ with gcovr, and the totals. The counts of an earlier run
# are removed first. COVERAGE_TESTS=PATTERN runs only the test programs
# whose names match (a grep -E pattern); COVERAGE_KEEP=1 keeps the earlier
# counts (to see what one more test adds); COVERAGE_JSON=FILE keeps gcovr's
# summary.
set -uo pipefail
B=${1:-build/coverage}
command -v gcovr >/dev/null || { echo "coverage: gcovr is missing (make coverage installs it)" >&2; exit 1; }
[ -n "${COVERAGE_KEEP:-}" ] || find "$B" -name '*.gcda' -delete
rc=0
if [ -n "${COVERAGE_TESTS:-}" ]; then
  for t in "$B"/tests/unit/test_* "$B"/tests/system/test_*; do
    [ -x "$t" ] && [ "${t%.*}" = "$t" ] || continue
    basename "$t" | grep -Eq "$COVERAGE_TESTS" || continue
    if timeout 600 "$t" >/dev/null 2>&1; then echo "ok   $(basename "$t")"; else echo "FAIL $(basename "$t")"; rc=1; fi
  done
else
  tests/run.sh "$B" "$B/no-fuzz" || rc=$?
fi
json=${COVERAGE_JSON:-$(mktemp /tmp/crm-coverage.XXXXXX.json)}
# gcov runs once per object; -j2 at most on the shared 2-core machine
gcovr -r . --object-directory "$B" -f 'common/' -f 'services/' -j 2 \
  --exclude-unreachable-branches --json-summary "$json" >/dev/null || exit 1
python3 - "$json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
def pct(c, t):
    return "%5.1f %%" % (100.0 * c / t) if t else "    -  "
print("%-36s %7s %16s %7s %16s" % ("module", "lines", "", "branches", ""))
for f in sorted(d["files"], key=lambda f: f["filename"]):
    print("%-36s %s %7d/%-7d %s %7d/%-7d" % (f["filename"], pct(f["line_covered"], f["line_total"]),
          f["line_covered"], f["line_total"], pct(f["branch_covered"], f["branch_total"]),
          f["branch_covered"], f["branch_total"]))
print("%-36s %s %7d/%-7d %s %7d/%-7d" % ("total", pct(d["line_covered"], d["line_total"]), d["line_covered"],
      d["line_total"], pct(d["branch_covered"], d["branch_total"]), d["branch_covered"], d["branch_total"]))
PY
[ -n "${COVERAGE_JSON:-}" ] || rm -f "$json"
exit "$rc"
