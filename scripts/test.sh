#!/usr/bin/env bash
# `make test`: the layers (native, the checker's random runs, every lesson's claims, wasm in
# headless Chromium, end-to-end against a release build), then the size budget. Prints how
# many tests ran and passed in each layer.
set -uo pipefail
cd "$(dirname "$0")/.."
LOGS=target/test-logs
mkdir -p "$LOGS"
export CHROMEDRIVER=/usr/bin/chromedriver
total_passed=0
total_failed=0
layer_results=()

# Sums cargo's "test result: ... N passed; M failed" lines (the wasm runner prints the same).
count_cargo() {
    local log=$1
    passed=$(grep -oE 'test result: [a-zA-Z]+\. [0-9]+ passed' "$log" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+' | awk '{ sum += $1 } END { print sum + 0 }')
    failed=$(grep -oE '[0-9]+ failed;' "$log" | grep -oE '[0-9]+' | awk '{ sum += $1 } END { print sum + 0 }')
}

# count_total LOG PATTERN: the last line matching PATTERN, "N things …: M failed", counts N - M
# passed and M failed.
count_total() {
    local log=$1 pattern=$2 line total failures
    line=$(grep -oE "$pattern" "$log" | tail -n 1)
    total=$(echo "$line" | grep -oE '^[0-9]+')
    failures=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
    passed=$(( ${total:-0} - ${failures:-0} ))
    failed=${failures:-0}
}

# "12 lessons checked: 0 failed" from `dynamoscope lesson check`.
count_lessons() { count_total "$1" '^[0-9]+ lessons checked: [0-9]+ failed'; }

# "500 seeds in 3.1 s (161 seeds/s): 0 failed" from `dynamoscope check`.
count_check() { count_total "$1" '^[0-9]+ seeds in .*: [0-9]+ failed'; }

count_node() {
    local log=$1
    passed=$(grep -oE '^ℹ pass [0-9]+' "$log" | grep -oE '[0-9]+' | awk '{ sum += $1 } END { print sum + 0 }')
    failed=$(grep -oE '^ℹ fail [0-9]+' "$log" | grep -oE '[0-9]+' | awk '{ sum += $1 } END { print sum + 0 }')
}

# run_layer NAME COUNTER COMMAND...: runs a layer, shows its output, records its counts.
run_layer() {
    local name=$1 counter=$2
    shift 2
    local log="$LOGS/$name.log"
    echo "== $name: $*"
    "$@" 2>&1 | tee "$log"
    local status=${PIPESTATUS[0]}
    passed=0 failed=0
    $counter "$log"
    passed=${passed:-0} failed=${failed:-0}
    if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
        echo "$name: the command failed before counting tests (exit $status); see $log"
    fi
    if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
        failed=1
        echo "$name: no test ran"
    fi
    layer_results+=("$name: $passed passed, $failed failed")
    total_passed=$((total_passed + passed))
    total_failed=$((total_failed + failed))
}

run_layer native count_cargo cargo test --workspace --locked --features dynamoscope/regressions
echo "== building the simulator (cargo build --profile fast)"
cargo build --locked --profile fast --bin dynamoscope >"$LOGS/fast-build.log" 2>&1 || cat "$LOGS/fast-build.log"
run_layer checker count_check target/fast/dynamoscope check --seeds "0..${CHECK_SEEDS:-500}"
mapfile -t lessons < <(find static/lessons -name '*.json' ! -name index.json | sort)
run_layer lessons count_lessons target/fast/dynamoscope lesson check "${lessons[@]}"
echo "== building the release page (trunk build --release) and a debug page for debug-only hooks"
if trunk build --release >"$LOGS/trunk.log" 2>&1 && trunk build --dist dist-debug >"$LOGS/trunk-debug.log" 2>&1; then
    # The wasm-bindgen runner serves web/: the node worker's build goes where its test finds it.
    mkdir -p web/test-assets && cp dist/app.js dist/app_bg.wasm dist/worker.js web/test-assets/
    run_layer wasm count_cargo cargo test --locked -p dynamoscope-web --target wasm32-unknown-unknown --test browser
    run_layer e2e count_node node --test --test-reporter=spec tests/e2e/
    echo "== size budget"
    scripts/size.sh || total_failed=$((total_failed + 1))
else
    cat "$LOGS/trunk.log" "$LOGS/trunk-debug.log" 2>/dev/null
    echo "wasm and e2e: a page build failed; see $LOGS/trunk.log and $LOGS/trunk-debug.log"
    layer_results+=("wasm and e2e: 0 passed, 1 failed")
    total_failed=$((total_failed + 1))
fi

echo
echo "== summary"
printf '%s\n' "${layer_results[@]}"
echo "total: $total_passed passed, $total_failed failed"
[ "$total_failed" -eq 0 ]
