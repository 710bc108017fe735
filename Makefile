# Every target is listed by `make help` (the default); docs/development.md lists them all and
# `make lint-docs` checks that each one is documented.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

BIN          := rust-hybrid-api
LAMBDA_PORT  ?= 9000
FUNCTION     ?= $(BIN)
EVENT        ?= events/http-api-health.json
LAMBDA_URL   ?= http://127.0.0.1:$(LAMBDA_PORT)/2015-03-31/functions/$(FUNCTION)/invocations
FUZZ_SECONDS ?= 60
ARCH         ?= x86_64
ENVIRONMENT  ?= dev
STACK        ?= $(BIN)-$(ENVIRONMENT)

# Every tool the targets use is pinned in tools/ and installed into this folder the first time a
# target needs it: a Python virtual environment (never the system interpreter) plus cargo-deny,
# which `cargo install --root` puts into the same bin/. Tools already on PATH are not used.
TOOLS        := target/tools
export PATH  := $(CURDIR)/$(TOOLS)/bin:$(PATH)
TOOLS_PYTHON := $(TOOLS)/bin/python3
CARGO_DENY_VERSION := $(shell awk '$$1 == "cargo-deny" { print $$2 }' tools/cargo-deny.txt)
LWA_VERSION        := $(shell awk '$$1 == "lambda_web_adapter" { print $$2 }' tools/lwa.txt)
# checkov on template.yaml only, offline: without --skip-download it asks Prisma Cloud for its
# guidelines first and prints a traceback when that fails. A failed check exits 1; the checks
# that do not fit this service are skipped in template.yaml with the reason beside each.
CHECKOV := checkov --quiet --compact --skip-download --framework cloudformation

.PHONY: help run-local test tools tools-lambda tools-lint tools-contract tools-audit tools-sam tools-aws tools-lwa tools-wrk tools-rust test-unit test-lambda-corpus test-contract test-load test-load-short audit fuzz lint lint-deploy lint-docs build lambda-build lambda-zip lambda-watch lambda-invoke e2e-lambda e2e-aws apigw-local apigw-redeploy deploy-zip deploy-image bench

help: ## List the targets
	@awk -v vars='BIN=$(BIN) ARCH=$(ARCH) LAMBDA_PORT=$(LAMBDA_PORT) FUZZ_SECONDS=$(FUZZ_SECONDS) EVENT=$(EVENT) TOOLS=$(TOOLS)' \
		'BEGIN { FS = ":.*## "; n = split(vars, pairs, " ") } \
		/^[a-zA-Z0-9_-]+:.*## / { text = $$2; \
			for (i = 1; i <= n; i++) { eq = index(pairs[i], "="); ref = "$$(" substr(pairs[i], 1, eq - 1) ")"; \
				while ((at = index(text, ref)) > 0) text = substr(text, 1, at - 1) substr(pairs[i], eq + 1) substr(text, at + length(ref)) } \
			printf "  %-20s %s\n", $$1, text }' $(MAKEFILE_LIST)

# Loopback unless HOST says otherwise: a laptop's dev server is not for the network. The images
# set HOST=0.0.0.0 themselves, which a container needs.
run-local: ## Run the HTTP server on $HOST:$PORT (default here 127.0.0.1:8080; HOST=0.0.0.0 for every interface)
	HOST="$${HOST:-127.0.0.1}" cargo run --release

test: tools lint lint-deploy lint-docs audit test-unit test-lambda-corpus test-contract e2e-lambda e2e-aws test-load-short ## Everything CI runs: lints (docs too), audit, all tests, the Lambda event corpus, schemathesis, both e2e checks, short load checks

tools: tools-rust tools-lambda tools-lint tools-contract tools-audit tools-sam tools-aws tools-wrk ## Install every tool the tests use into $(TOOLS) (wrk with apt-get); each target also installs just its own

tools-rust: ## rustfmt and clippy (rustup components), when missing
	@cargo fmt --version >/dev/null 2>&1 || rustup component add rustfmt
	@cargo clippy --version >/dev/null 2>&1 || rustup component add clippy

tools-lambda: $(TOOLS)/.lambda.installed ## cargo-lambda, pinned in tools/lambda.txt
tools-lint: $(TOOLS)/.lint.installed $(TOOLS)/.checkov.installed ## the deployment linters, pinned in tools/lint.txt and tools/checkov.txt
tools-contract: $(TOOLS)/.contract.installed ## schemathesis, pinned in tools/contract.txt
tools-audit: $(TOOLS)/.cargo-deny.installed ## cargo-deny, pinned in tools/cargo-deny.txt
tools-sam: $(TOOLS)/.sam.installed ## AWS SAM CLI (for sam local generate-event), pinned in tools/sam.txt
tools-aws: $(TOOLS)/.aws.installed ## MiniStack (a local AWS), the AWS CLI and boto3, pinned in tools/aws.txt
tools-lwa: $(TOOLS)/.lwa.installed ## aws-lambda-web-adapter (make bench only), pinned in tools/lwa.txt

tools-wrk: ## wrk, with apt-get when missing
	@command -v wrk >/dev/null || { echo "tools: installing wrk with apt-get (under a minute)"; \
		apt-get update -qq && apt-get install -y -qq wrk >/dev/null; } \
		|| { echo "install wrk (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)" >&2; exit 1; }

# The virtual environment. Debian and Ubuntu ship venv without ensurepip until python3-venv is
# installed, so that is installed the way wrk is when the first attempt fails.
$(TOOLS_PYTHON):
	@command -v python3 >/dev/null || { echo "Python 3 is needed for the tools: apt-get install python3 python3-venv" >&2; exit 1; }
	@echo "tools: creating the virtual environment $(TOOLS)"
	@python3 -m venv $(TOOLS) >/dev/null 2>&1 || { rm -rf $(TOOLS); \
		echo "tools: python3 cannot create a virtual environment; installing python3-venv with apt-get"; \
		apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null && python3 -m venv $(TOOLS); } \
		|| { echo "could not create $(TOOLS): install Python 3's venv module (Debian/Ubuntu: apt-get install python3-venv)" >&2; exit 1; }

# One stamp per group: a group is installed again when its pins change.
$(TOOLS)/.%.installed: tools/%.txt | $(TOOLS_PYTHON)
	@echo "tools: installing $$(grep -v '^#' $< | cut -d= -f1 | paste -sd' ') into $(TOOLS) (pip, under a minute)"
	@$(TOOLS_PYTHON) -m pip install --quiet --disable-pip-version-check -r $<
	@touch $@

# Tools that pin packages the shared environment also needs at other versions get a virtual
# environment of their own, named after the tool, with its command linked into the shared bin/:
# SAM CLI pins click exactly, and checkov pins packaging below what schemathesis needs.
$(TOOLS)/.sam.installed $(TOOLS)/.checkov.installed: $(TOOLS)/.%.installed: tools/%.txt | $(TOOLS_PYTHON)
	@echo "tools: installing $$(grep -v '^#' $< | cut -d= -f1 | paste -sd' ') into $(TOOLS)/$* (pip, about a minute)"
	@python3 -m venv $(TOOLS)/$*
	@$(TOOLS)/$*/bin/python3 -m pip install --quiet --disable-pip-version-check -r $<
	@ln -sf ../$*/bin/$* $(TOOLS)/bin/$*
	@touch $@

# The AWS CLI and MiniStack pin botocore and PyYAML apart from the linters, so they get a virtual
# environment of their own too; aws and ministack are linked into the shared bin/.
$(TOOLS)/.aws.installed: tools/aws.txt | $(TOOLS_PYTHON)
	@echo "tools: installing ministack, awscli and boto3 into $(TOOLS)/aws (pip, under a minute)"
	@python3 -m venv $(TOOLS)/aws
	@$(TOOLS)/aws/bin/python3 -m pip install --quiet --disable-pip-version-check -r $< \
		|| { echo "tools: could not install tools/aws.txt with pip (is PyPI reachable?)" >&2; exit 1; }
	@ln -sf ../aws/bin/aws $(TOOLS)/bin/aws
	@ln -sf ../aws/bin/ministack $(TOOLS)/bin/ministack
	@touch $@

$(TOOLS)/.lwa.installed: tools/lwa.txt
	@echo "tools: installing lambda_web_adapter $(LWA_VERSION) into $(TOOLS) (cargo install, about 2 minutes on 2 cores)"
	@cargo install --quiet --locked --root $(TOOLS) lambda_web_adapter --version $(LWA_VERSION)
	@touch $@

$(TOOLS)/.cargo-deny.installed: tools/cargo-deny.txt
	@echo "tools: installing cargo-deny $(CARGO_DENY_VERSION) into $(TOOLS) (cargo install, about 3 minutes on 2 cores)"
	@cargo install --quiet --locked --root $(TOOLS) cargo-deny --version $(CARGO_DENY_VERSION)
	@touch $@

test-unit: ## Unit, integration and property tests (both modes, against the compiled binary)
	cargo test --all-targets

test-lambda-corpus: tools-sam ## Lambda mode on every published HTTP event fixture (aws_lambda_events, lambda_http) and SAM CLI's events
	cargo test --test api -- --ignored corpus --nocapture

test-contract: tools-contract ## schemathesis against a live server, from the OpenAPI document it serves
	bash tests/contract/schemathesis.sh

test-load: tools-wrk ## Load (wrk, 256 connections, 30 s a route), Lambda soak (100,000 invocations), shutdown
	bash tests/load/run.sh

test-load-short: tools-wrk ## test-load shortened to a few seconds each, as CI runs it
	LOAD_SECONDS=3 SOAK_INVOCATIONS=10000 bash tests/load/run.sh

audit: tools-audit ## cargo deny check with deny.toml; offline against ../shared/advisory-db when present
	bash tests/audit.sh

fuzz: $(TOOLS)/.cargo-fuzz.installed ## cargo fuzz on the request path for FUZZ_SECONDS (60); needs the nightly toolchain
	@mkdir -p fuzz/corpus/request
	cargo +nightly fuzz run request fuzz/corpus/request fuzz/seeds/request -- -max_total_time=$(FUZZ_SECONDS)

# Into target/tools like cargo-deny, never ~/.cargo/bin; `cargo +nightly fuzz` finds it first on PATH.
CARGO_FUZZ_VERSION := $(shell awk '$$1 == "cargo-fuzz" { print $$2 }' tools/cargo-fuzz.txt)
$(TOOLS)/.cargo-fuzz.installed: tools/cargo-fuzz.txt
	@echo "tools: installing cargo-fuzz $(CARGO_FUZZ_VERSION) into $(TOOLS) (cargo install)"
	@cargo install --quiet --locked --root $(TOOLS) cargo-fuzz --version $(CARGO_FUZZ_VERSION)
	@touch $@

lint: tools-rust ## cargo fmt --check and clippy with warnings as errors
	cargo fmt --check
	cargo clippy --all-targets -- -D warnings

lint-deploy: tools-lint ## Lint Dockerfiles, workflows, compose.yml, template.yaml, the shell scripts; check them against the code
	hadolint Dockerfile.lambda Dockerfile.local
	actionlint .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml
	check-jsonschema --builtin-schema vendor.compose-spec compose.yml
	cfn-lint template.yaml
	cfn-lint --append-rules cfn_lint_serverless.rules -- template.yaml
	$(CHECKOV) -f template.yaml
	shellcheck -x .ci/run scripts/*.sh tests/*.sh tests/*/*.sh bench/*.sh
	python3 tests/deploy/consistency.py

lint-docs: ## Check that every link and #anchor in README.md, docs/ and BENCHMARKS.md resolves, and every variable and make target is documented
	python3 tests/docs/check.py

build: ## Release build of the binary
	cargo build --release --locked

lambda-build: tools-lambda ## Release build for Lambda with cargo-lambda
	cargo lambda build --release --locked

lambda-zip: tools-lambda ## bootstrap.zip for provided.al2023 on ARCH=$(ARCH) (or arm64): target/lambda/$(BIN)/bootstrap.zip
	$(if $(filter x86_64 arm64,$(ARCH)),,$(error ARCH=$(ARCH) is not an architecture Lambda runs: use x86_64 or arm64))
	cargo lambda build --release --locked --output-format zip $(if $(filter arm64,$(ARCH)),--arm64,--x86-64)
	@ls -l target/lambda/$(BIN)/bootstrap.zip

lambda-watch: tools-lambda ## Lambda emulator on 127.0.0.1:$(LAMBDA_PORT) that rebuilds on change
	cargo lambda watch --invoke-address 127.0.0.1 --invoke-port $(LAMBDA_PORT)

# A missing EVENT is refused before anything is built or posted: curl's @file would post an empty
# body, and the emulator's answer to that says nothing about the file. curl -i gives the decoder
# the emulator's head too: cargo lambda answers a streamed invocation with the prelude's status
# and headers there.
lambda-invoke: ## POST $(EVENT) to the emulator and print the decoded response (FUNCTION=function for the image)
	@[ -f '$(EVENT)' ] || { [ -e '$(EVENT)' ] && what="is not a file" || what="does not exist"; \
		echo "lambda-invoke: EVENT=$(EVENT) $$what (the event files are in events/)" >&2; exit 1; }
	@[ -x target/debug/examples/decode_envelope ] || echo "lambda-invoke: first run, compiling the envelope decoder (a debug build of the crate: minutes on a fresh checkout)" >&2
	@cargo build -q --example decode_envelope
	@echo "lambda-invoke: POST $(EVENT) to $(LAMBDA_URL) (cargo lambda watch compiles the function on its first invocation)" >&2
	@answer=$$(mktemp) && trap 'rm -f "$$answer"' EXIT; \
		curl -sS -i -X POST -H 'Content-Type: application/json' -H 'Expect:' --data-binary @'$(EVENT)' -o "$$answer" '$(LAMBDA_URL)' \
		|| { echo "lambda-invoke: nothing answered at $(LAMBDA_URL): start the emulator first (make lambda-watch, or docker compose up app-lambda with FUNCTION=function)" >&2; exit 1; }; \
		target/debug/examples/decode_envelope <"$$answer"

bench: tools-wrk tools-lambda tools-lwa ## Benchmark both modes, N invocations at once, and sizes on loopback; writes target/bench/results.md
	bash bench/run.sh

# The inputs are checked first (deploy-stack.sh check), and only then are the zip built and the
# AWS CLI installed, by a sub-make: as prerequisites they would run before any recipe line, so a
# mistyped ENVIRONMENT would cost a full build before its one-line refusal.
deploy-zip: ## Create or update STACK ($(BIN)-ENVIRONMENT) from the zip: ENVIRONMENT=dev BUCKET=<S3 bucket> [ARCH, PARAMS]
	@bash scripts/deploy-stack.sh check zip '$(STACK)' '$(ENVIRONMENT)' '$(BUCKET)' '$(ARCH)'
	@$(MAKE) --no-print-directory lambda-zip tools-aws
	bash scripts/deploy-stack.sh zip '$(STACK)' '$(ENVIRONMENT)' '$(BUCKET)' '$(ARCH)' $(PARAMS)

deploy-image: ## Create or update STACK from an image in ECR: ENVIRONMENT=dev IMAGE=<registry>/<repo>:dev-latest [ARCH, PARAMS]
	@bash scripts/deploy-stack.sh check image '$(STACK)' '$(ENVIRONMENT)' '$(IMAGE)' '$(ARCH)'
	@$(MAKE) --no-print-directory tools-aws
	bash scripts/deploy-stack.sh image '$(STACK)' '$(ENVIRONMENT)' '$(IMAGE)' '$(ARCH)' $(PARAMS)

e2e-aws: tools-aws tools-lambda ## Deploy the zip stack to MiniStack and call it through every front end; the deploy script's checks
	$(TOOLS)/aws/bin/python3 tests/e2e/aws.py

apigw-local: tools-aws tools-lambda ## The zip stack on MiniStack behind every front end, until Ctrl-C (APIGW_PORT, default 4566)
	$(TOOLS)/aws/bin/python3 scripts/apigw_local.py

apigw-redeploy: tools-aws tools-lambda ## Deploy the current code to the running apigw-local
	$(TOOLS)/aws/bin/python3 scripts/apigw_local.py redeploy

e2e-lambda: tools-lambda ## Invoke every file in events/ through `cargo lambda watch` and check the answers
	bash tests/e2e/cargo-lambda.sh
