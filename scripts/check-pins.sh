#!/usr/bin/env bash
# tools/versions.env is the one place tool versions are set; this fails if a copy disagrees.
set -euo pipefail
cd "$(dirname "$0")/.."
source tools/versions.env
mismatch() { echo "setup: $1 does not pin $2 (tools/versions.env says so); update it." >&2; exit 1; }
grep -q "^wasm_bindgen = \"$WASM_BINDGEN_VERSION\"" Trunk.toml || mismatch Trunk.toml "wasm_bindgen $WASM_BINDGEN_VERSION"
grep -q "^wasm_opt = \"$WASM_OPT_VERSION\"" Trunk.toml || mismatch Trunk.toml "wasm_opt $WASM_OPT_VERSION"
grep -q "^wasm-bindgen = \"=$WASM_BINDGEN_VERSION\"" web/Cargo.toml || mismatch web/Cargo.toml "wasm-bindgen =$WASM_BINDGEN_VERSION"
