# The two commands: `make serve` and `make test`. Both set up whatever is missing first.
SHELL := bash
# wasm-opt comes from tools/node_modules (npm binaryen); it must come before any other on PATH.
export PATH := $(CURDIR)/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS := fallback

.PHONY: serve test setup build bench check-long clean

setup:
	@scripts/setup.sh

serve: setup
	@echo "dynamoscope: serving on http://127.0.0.1:8080/ (first build takes a minute)"
	trunk serve

test: setup
	@scripts/test.sh

# 10,000 randomized runs of the checker (about two minutes on 2 cores).
check-long: setup
	cargo build --locked --profile fast --bin dynamoscope
	target/fast/dynamoscope check --seeds 0..10000

build: setup
	trunk build --release

# Issue 14's speed goals measured in one table (several minutes; not part of `make test`).
bench: build
	cargo build --locked --profile fast --bin dynamoscope --features cli
	node scripts/bench.mjs

clean:
	cargo clean
	rm -rf dist
