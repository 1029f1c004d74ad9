#!/usr/bin/env bash
# Prints each wasm file's raw and gzipped size in dist/ and fails over the 519 KB gzip budget
# (400 KB until the page learned to play and export scenario files, 470 KB until it learned to
# play lessons, 485 KB until the classroom fixes, 510 KB until the store kept a ring-order
# index: ARCHITECTURE.md, "Decisions measured", says what each bought and where the
# 400 KB goal is to be won back).
#
# Where the bytes go: `cargo install twiggy`, then `twiggy top` / `twiggy monos` on
# target/wasm32-unknown-unknown/release/app.wasm. Collecting into a BTreeMap or BTreeSet sorts
# with a stable sort instantiated per item type (about 3.5 KB raw each): code the page ships
# builds them with `IntoOrdered` (src/protocol/types.rs) instead, which took the module from
# 423 KB to 400 KB.
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET_BYTES=$((519 * 1000))
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
