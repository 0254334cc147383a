#!/usr/bin/env bash
# Runs every unit test, system test, the browser test of the web app and
# (where built) fuzz target, and ends with one line: "N passed, N failed"
# (", N skipped" when a test could not run here, with its reason above).
#   tests/run.sh build/asan build/fuzz
set -u
asan=${1:-build/asan}
fuzz=${2:-build/fuzz}
passed=0
failed=0
skipped=0
failures=()
logdir=$(mktemp -d /tmp/crm-test-logs.XXXXXX)
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

# One cmocka binary: its own pass/fail counts; a crash or a non-zero exit
# without a FAILED line counts as one failure.
run_cmocka() {
    local bin=$1 name log p f s rc
    name=$(basename "$bin")
    log="$logdir/$name.log"
    timeout 600 "$bin" >"$log" 2>&1
    rc=$?
    p=$(grep -Eo '^\[  PASSED  \] [0-9]+' "$log" | awk '{s+=$NF} END {print s+0}')
    f=$(grep -Eo '^\[  FAILED  \] [0-9]+' "$log" | awk '{s+=$NF} END {print s+0}')
    s=$(grep -Eo '^\[  SKIPPED \] [0-9]+' "$log" | awk '{s+=$NF} END {print s+0}')
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    passed=$((passed + p))
    failed=$((failed + f))
    if [ "$f" -ne 0 ]; then
        failures+=("$name")
        echo "FAIL $name ($p passed, $f failed; exit $rc) — log follows"
        tail -60 "$log"
    elif [ "$s" -ne 0 ]; then
        echo "ok   $name ($p passed, $s skipped: $(grep -m1 -o 'skipped: .*' "$log"))"
    else
        echo "ok   $name ($p passed)"
    fi
}

echo "== proto/ compiles with Google's protoc as well as protoc-c"
if command -v protoc >/dev/null && protoc -Iproto -I/usr/include --descriptor_set_out=/dev/null proto/*.proto \
    && protoc-c -Iproto -I/usr/include --c_out="$logdir" proto/*.proto; then
    passed=$((passed + 1)); echo "ok   protoc and protoc-c"
else
    failed=$((failed + 1)); failures+=("protoc"); echo "FAIL protoc or protoc-c refused proto/"
fi
echo "== unit tests"
for t in "$asan"/tests/unit/test_*; do
    [ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] && run_cmocka "$t"
done
echo "== system tests"
for t in "$asan"/tests/system/test_*; do
    [ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] && run_cmocka "$t"
done
if [ -d "$fuzz/tests/fuzz" ]; then
    echo "== fuzz targets (brief runs; 'make fuzz' runs them longer)"
    for t in "$fuzz"/tests/fuzz/fuzz_*; do
        [ -x "$t" ] && [ "${t%.d}" = "$t" ] && [ "${t%.o}" = "$t" ] || continue
        name=$(basename "$t")
        corpus="tests/fuzz/corpus/$name"
        work=$(mktemp -d /tmp/crm-fuzz.XXXXXX)
        if timeout 300 "$t" -max_total_time="${FUZZ_SMOKE_SECONDS:-20}" -print_final_stats=1 \
               "$work" $( [ -d "$corpus" ] && echo "$corpus" ) >"$logdir/$name.log" 2>&1; then
            passed=$((passed + 1))
            echo "ok   $name ($(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$logdir/$name.log" | grep -Eo '[0-9]+$') runs)"
        else
            failed=$((failed + 1))
            failures+=("$name")
            echo "FAIL $name — log follows"
            tail -40 "$logdir/$name.log"
        fi
        rm -rf "$work"
    done
else
    echo "== fuzz targets skipped: clang not found"
fi
echo "== web app in headless Chromium (web/test/browser.mjs)"
# its own checks count; exit 77: it cannot run here (no Chromium), skipped
if ! command -v node >/dev/null; then
    skipped=$((skipped + 1)); echo "skip browser test: node is not installed (make deps installs it)"
else
    node web/test/browser.mjs "$asan" build/web >"$logdir/browser.log" 2>&1
    rc=$?
    p=$(grep -Eo '^[0-9]+ passed' "$logdir/browser.log" | tail -1 | grep -Eo '^[0-9]+')
    f=$(grep -Eo '^[0-9]+ passed, [0-9]+ failed' "$logdir/browser.log" | tail -1 | grep -Eo '[0-9]+ failed' | grep -Eo '^[0-9]+')
    if [ "$rc" -eq 77 ]; then
        skipped=$((skipped + 1)); echo "skip browser test: $(grep -m1 '^skipped:' "$logdir/browser.log")"
    else
        p=${p:-0}; f=${f:-0}
        if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
        passed=$((passed + p)); failed=$((failed + f))
        if [ "$f" -ne 0 ]; then
            failures+=("browser"); echo "FAIL browser test ($p passed, $f failed; exit $rc) — log follows"
            tail -60 "$logdir/browser.log"
        else
            echo "ok   browser test ($p passed)"
        fi
    fi
fi
echo "== deploy/ configuration (docker-compose config where installed, else a YAML parse)"
if tests/deploy/check-config.sh >"$logdir/check-config.log" 2>&1; then
    passed=$((passed + 1)); echo "ok   deploy/ config ($(tail -1 "$logdir/check-config.log"))"
else
    failed=$((failed + 1)); failures+=("check-config"); echo "FAIL deploy/ config — log follows"; cat "$logdir/check-config.log"
fi
[ ${#failures[@]} -eq 0 ] || echo "failed: ${failures[*]} (logs in $logdir)"
[ ${#failures[@]} -eq 0 ] && rm -rf "$logdir"
if [ "$skipped" -ne 0 ]; then
    echo "$passed passed, $failed failed, $skipped skipped"
else
    echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
