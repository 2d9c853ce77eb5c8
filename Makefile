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

## Start the console on embedded defaults (SQLite and a self-signed certificate under
## $(DATA_DIR)); it prints its URL and, until an admin is set, the one-time setup link.
run: build
	@echo "Starting the Outpost console (data dir $(DATA_DIR)); Ctrl-C stops it."
	target/debug/outpost-console serve --data-dir "$(DATA_DIR)" --listen "$(LISTEN)" \
		--advertise-host "$(ADVERTISE_HOST)"

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
