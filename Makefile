# fashion-tui: every target runs the idempotent setup first (libtorch into the per-user
# cache, the dataset, tmux), so a fresh clone needs nothing else.
SHELL := /bin/bash
CARGO ?= cargo
ARGS ?=
# Where cargo puts its output (respects CARGO_TARGET_DIR).
BIN := $(or $(CARGO_TARGET_DIR),target)/release/fashion-tui

.PHONY: setup build run test lint bench screenshots clean

setup:
	@bash scripts/setup.sh

build: setup
	$(CARGO) build --release

## Train with the dashboard (headless when stdout is not a terminal). Extra flags: ARGS="--epochs 3"
run: build
	$(BIN) $(ARGS)

## The whole test suite, as CI runs it.
test: setup
	$(CARGO) test --all-targets
	$(CARGO) test --doc

lint: setup
	$(CARGO) fmt --check
	$(CARGO) clippy --all-targets -- -D warnings

## Every figure in the README, as markdown rows (about 40 min on 2 cores): one epoch of the
## tutorial (training and evaluation), fashion-tui vs PyTorch eager with default and fused Adam
## (interleaved rounds; both ratios, images/s, the fraction of the machine's sgemm ceiling, peak
## memory) and of the fast model (scripts/bench_speed.sh); the dashboard's time to its first
## frame (scripts/bench_startup.sh); the 10-epoch accuracy table (scripts/bench_accuracy.sh);
## what the dashboard costs training (scripts/bench_dashboard.sh); three minutes of each model
## (scripts/bench_models.sh).
bench: build
	$(CARGO) build --release --example dashboard_cost --example sgemm_ceiling --example plain_epoch \
		--example photo_agreement
	@bash scripts/bench.sh

screenshots: build
	@bash scripts/screenshots.sh

clean:
	$(CARGO) clean
