#!/usr/bin/env bash
# Installs whatever dynamoscope needs and is missing. Idempotent; well under a second when
# everything is present. Each step names itself when it fails, so a fresh machine says which
# piece could not be installed.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=../tools/versions.env
source tools/versions.env
export CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS=fallback
export PATH="$HOME/.cargo/bin:$PATH"

fail() {
    echo "setup: could not install $1." >&2
    echo "setup: $2" >&2
    exit 1
}

say() { echo "setup: $*" >&2; }

ensure_wasm_target() {
    if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown; then
        return
    fi
    say "adding the wasm32-unknown-unknown target"
    rustup target add wasm32-unknown-unknown ||
        fail "the wasm32-unknown-unknown target" "rustup target add wasm32-unknown-unknown failed"
}

ensure_trunk() {
    if trunk --version 2>/dev/null | grep -q "trunk $TRUNK_VERSION\$"; then
        return
    fi
    say "installing trunk $TRUNK_VERSION (about 7 minutes on 2 cores)"
    cargo install --locked trunk --version "$TRUNK_VERSION" ||
        fail "trunk $TRUNK_VERSION" "cargo install --locked trunk --version $TRUNK_VERSION failed"
}

ensure_wasm_bindgen() {
    if wasm-bindgen --version 2>/dev/null | grep -q "wasm-bindgen $WASM_BINDGEN_VERSION\$" &&
        command -v wasm-bindgen-test-runner >/dev/null; then
        return
    fi
    say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (about 2 minutes)"
    # Without --locked: the CLI's own lockfile names a crate version the registry lacks.
    cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" ||
        fail "wasm-bindgen-cli $WASM_BINDGEN_VERSION" "cargo install wasm-bindgen-cli failed"
}

ensure_chromium() {
    if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
        return
    fi
    say "installing Debian's chromium and chromium-driver"
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get update -qq ||
        fail "chromium" "apt-get update failed"
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null ||
        fail "chromium and chromium-driver" "apt-get install chromium chromium-driver failed"
}

ensure_npm_tools() {
    local stamp=tools/node_modules/.package-lock.json
    if [ -f "$stamp" ] && [ "$stamp" -nt tools/package-lock.json ] &&
        [ -x tools/node_modules/.bin/wasm-opt ]; then
        return
    fi
    command -v npm >/dev/null || fail "the npm tools" "npm is not on PATH"
    say "installing npm tools (binaryen, playwright-core, @axe-core/playwright) from tools/package-lock.json"
    (cd tools && npm ci --no-audit --no-fund --loglevel=error) ||
        fail "the npm tools" "npm ci in tools/ failed"
    touch "$stamp"
}

ensure_crates() {
    # Trunk builds offline (there is no internet for its own downloads), so every crate must
    # already be in cargo's cache.
    local stamp=target/.fetched
    if [ -f "$stamp" ] && [ "$stamp" -nt Cargo.lock ]; then
        return
    fi
    say "fetching crates named in Cargo.lock"
    cargo fetch --locked || fail "the crates in Cargo.lock" "cargo fetch --locked failed"
    mkdir -p target && touch "$stamp"
}

scripts/check-pins.sh
ensure_wasm_target
ensure_trunk
ensure_wasm_bindgen
ensure_chromium
ensure_npm_tools
ensure_crates
