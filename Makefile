# Outpost — the one entry point. `make run` and `make test` work on a fresh machine.

CARGO    ?= cargo
DATA_DIR ?= $(CURDIR)/.outpost
LISTEN   ?= 0.0.0.0:8800
ADVERTISE_HOST ?= localhost

.PHONY: all setup ui build run test test-rust test-ui test-e2e shellcheck lint fmt clean

all: build

## Install what building and testing need (Debian packages, npm deps, Docker daemon).
setup:
	@scripts/dev-setup.sh

## Build the admin UI into ui/dist (embedded into the console binary).
ui: setup
	@cd ui && npm run --silent build

## Build every binary, UI included.
build: ui
	OUTPOST_REQUIRE_UI=1 $(CARGO) build --workspace --bins

## Start the sample vendor's api host, the console on embedded defaults (SQLite and a
## self-signed certificate under $(DATA_DIR)) and a local agent as the primary node; prints
## the console URL, the one-time setup link and the sample license.
run: build
	DATA_DIR="$(DATA_DIR)" LISTEN="$(LISTEN)" ADVERTISE_HOST="$(ADVERTISE_HOST)" scripts/run.sh

## Every test: Rust unit and integration tests, UI tests, the browser test, shellcheck.
test: build test-rust test-ui test-e2e shellcheck

test-rust:
	OUTPOST_REQUIRE_UI=1 $(CARGO) test --workspace

test-ui:
	cd ui && npm test

test-e2e:
	cd tests/e2e && OUTPOST_CONSOLE_BIN="$(CURDIR)/target/debug/outpost-console" npm test

shellcheck:
	shellcheck scripts/*.sh .ci/run

## Formatting and clippy, warnings as errors.
lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
	rm -rf ui/dist
