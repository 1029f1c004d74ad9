#!/usr/bin/env bash
# Prints each wasm file's raw and gzipped size in dist/ and fails over the gzip budget.
#
# The budget is 430 KB while the goal stays 400 KB: issue 10's promises, dotted version vectors
# and the §4.6-§4.9 fixes (membership, anti-entropy retries, hints) took the module from 396 KB
# to 423 KB, and issue 14 owns the way back (the std stable sort instantiated per collected map
# type alone is about 85 KB raw; see twiggy monos). Ratchet this down as that work lands.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_BYTES=$((430 * 1000))
total=0
shopt -s nullglob
files=(dist/*.wasm)
[ ${#files[@]} -gt 0 ] || { echo "size: no wasm in dist/; run trunk build --release" >&2; exit 1; }
for file in "${files[@]}"; do
    raw=$(stat -c %s "$file")
    gzipped=$(gzip -9 -c "$file" | wc -c)
    total=$((total + gzipped))
    printf 'size: %-40s %8d bytes raw %8d bytes gzip\n' "$(basename "$file")" "$raw" "$gzipped"
done
printf 'size: total %d bytes gzip, budget %d\n' "$total" "$BUDGET_BYTES"
if [ "$total" -gt "$BUDGET_BYTES" ]; then
    echo "size: over the $((BUDGET_BYTES / 1000)) KB gzip budget" >&2
    exit 1
fi
