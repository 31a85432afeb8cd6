# standby: two commands on a fresh machine.
#   make demo   the main job on the embedded default (moto + two local regional endpoints)
#   make test   every test: fmt, clippy, unit, property and integration tests against moto

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
# 5.2.x returns wrong XML root names for GetBucketVersioning, ListParts and others, which the Rust
# SDK rejects; stay on 5.1.18.
MOTO := moto[server]==5.1.18
# The AWS CLI reads back what standby wrote, and check-jsonschema validates every report against
# the shipped schema: independent checkers in the tests.
AWSCLI := awscli
JSONSCHEMA := check-jsonschema
STAMP := $(VENV)/.moto-5.1.18-awscli-check-jsonschema

.PHONY: all demo test bench sim idle venv venv-tf tools build lint clean dist

all: build

venv: $(STAMP)

$(STAMP):
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check '$(MOTO)' '$(AWSCLI)' '$(JSONSCHEMA)'
	touch $@

# Terraform checks without Terraform (its AWS provider can't be downloaded here): python-hcl2
# parses every .tf file and checkov runs the pinned checks. Their own venv: checkov's pins clash
# with moto's and the AWS CLI's.
VENV_TF := .venv-tf
CHECKOV := checkov==3.3.30
HCL2 := python-hcl2==8.1.4

venv-tf: $(VENV_TF)/.checkov-3.3.30-hcl2-8.1.4

$(VENV_TF)/.checkov-3.3.30-hcl2-8.1.4:
	$(PYTHON) -m venv $(VENV_TF)
	$(VENV_TF)/bin/pip install --quiet --disable-pip-version-check '$(CHECKOV)' '$(HCL2)'
	touch $@

# Independent checkers from Debian: Chromium renders the HTML reports headless, tidy checks their
# markup, promtool checks /metrics and the alert rules, systemd-analyze checks the unit. Needs root;
# installs only what is missing, upgrades nothing, starts no service (scripts/install-checkers).
# `make test` does not need them: a check whose tool is absent is skipped with a one-line note.
# .ci/run installs them and sets STANDBY_REQUIRE_CHECKERS=1, so CI runs every check.
tools:
	scripts/install-checkers

build:
	cargo build --bin standby --example demo

# Shell completions and man pages, generated from the CLI's own definitions into dist/ (a test
# keeps the shipped files equal to what the binary prints: run this after changing a flag).
dist:
	cargo build --bin standby
	mkdir -p dist/completions dist/man
	./target/debug/standby completions bash > dist/completions/standby.bash
	./target/debug/standby completions zsh > dist/completions/_standby
	./target/debug/standby completions fish > dist/completions/standby.fish
	rm -f dist/man/*.1
	./target/debug/standby man --out-dir dist/man

# No root, no system packages: the demo copes without Chromium (it says where the report is).
# REALISTIC=1: boot times, a GPU capacity shortage with a spare group, throttling, PENDING changes.
# DEMO_DIR: where its config, state and reports go (emptied first).
DEMO_DIR ?= target/demo
demo: venv build
	./target/debug/examples/demo --dir $(DEMO_DIR) $(if $(filter 1,$(REALISTIC)),--realistic)

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --features standby/failpoints -- -D warnings
	cargo clippy --workspace --all-targets -- -D warnings

# Every target but the benchmark (which seeds 100,000 objects): `make bench` runs that.
# The examples are also built as programs (not only as test harnesses): tests/cli.rs runs
# `make demo` on the demo the harness built.
test: venv venv-tf lint
	cargo build --workspace --features standby/failpoints --examples
	cargo test --workspace --features standby/failpoints --lib --bins --tests --examples

# Times standby's artifact sync against rclone and the AWS CLI on one moto server; writes
# benches/RESULTS.md. rclone comes from Debian's packages (root, as on CI machines).
bench: venv
	command -v rclone >/dev/null || { apt-get update -qq && apt-get install -y -qq rclone; }
	cargo bench --bench sync
	cargo bench --bench failover

# The detector and state machine over 10,000 simulated days of healthy traffic with noise and
# every failure family (pure code, injected time); writes benches/SIM.md. tests/sim.rs runs a
# 200-day version in `make test`. SIM_ARGS passes e.g. `--days 1000 --per-row 50 --no-write`.
sim:
	cargo bench --bench sim -- $(SIM_ARGS)

# What `standby serve` costs at rest: RSS and CPU over IDLE_SECS (default 600) at a 1 s probe
# interval, release build.
idle: venv
	cargo build --release --bin standby
	cargo run --example idle -- target/release/standby

clean:
	rm -rf $(VENV) $(VENV_TF) target/demo
