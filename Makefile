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

# pip may install cargo-lambda where the shell does not look yet.
PY_SCRIPTS := $(shell python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))' 2>/dev/null)
export PATH := $(PY_SCRIPTS):$(HOME)/.local/bin:$(PATH)

.PHONY: help run-local test tools test-unit lint lint-deploy build lambda-build lambda-zip lambda-watch lambda-invoke e2e-lambda bench

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-14s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run-local: ## Run the HTTP server on $HOST:$PORT (default 0.0.0.0:8080)
	cargo run --release

test: tools lint lint-deploy test-unit e2e-lambda ## Everything CI runs: lint, deployment-file lint, all tests, the cargo-lambda end-to-end check

tools: ## Install what the tests need when missing: rustfmt, clippy, cargo-lambda and the deployment linters (pip)
	@python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore -r tests/deploy/requirements.txt
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy
	@cargo lambda --version >/dev/null 2>&1 || python3 -m pip install --quiet 'cargo-lambda==$(CARGO_LAMBDA_VERSION)' \
		|| { echo "could not install cargo-lambda with pip; install it with pipx, brew or 'cargo install cargo-lambda'" >&2; exit 1; }

test-unit: ## Unit and integration tests (both modes, against the compiled binary)
	cargo test --all-targets

lint: ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

lint-deploy: ## Lint Dockerfiles, workflows, compose.yml, template.yaml, scripts; check them against the code
	hadolint Dockerfile.lambda Dockerfile.local
	actionlint .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.compose-spec compose.yml
	cfn-lint template.yaml
	shellcheck .ci/run tests/e2e/*.sh bench/*.sh
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

bench: tools ## Benchmark both modes and sizes on loopback; writes target/bench/results.md (installs wrk if missing)
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk; } \
		|| { echo "install wrk (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)" >&2; exit 1; }
	bash bench/run.sh

e2e-lambda: ## Invoke every file in events/ through `cargo lambda watch` and check the answers
	bash tests/e2e/cargo-lambda.sh
