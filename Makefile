# The two commands: `make serve` and `make test`. Both set up whatever is missing first.
SHELL := bash
# wasm-opt comes from tools/node_modules (npm binaryen); it must come before any other on PATH.
export PATH := $(CURDIR)/tools/node_modules/.bin:$(HOME)/.cargo/bin:$(PATH)
export CARGO_RESOLVER_INCOMPATIBLE_RUST_VERSIONS := fallback

.PHONY: serve test setup build check-long clean

setup:
	@scripts/setup.sh

serve: setup
	@echo "dynamoscope: serving on http://127.0.0.1:8080/ (first build takes a minute)"
	trunk serve

test: setup
	@scripts/test.sh

build: setup
	trunk build --release

clean:
	cargo clean
	rm -rf dist
