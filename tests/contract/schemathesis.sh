#!/usr/bin/env bash
# make test-contract: schemathesis against a live HTTP-mode server, from the document the server
# itself serves at {root}/openapi.json, once at the root and once under ROOT_PATH=/api. Stateless
# checks only: no 5xx, every status documented, every body matching its schema and content type.
# ST_EXAMPLES (default 100) bounds the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v st >/dev/null || { echo "schemathesis is not installed: make tools-contract" >&2; exit 1; }
cargo build --quiet --bin rust-hybrid-api

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

for root in / /api; do
  port=$(free_port)
  start_server target/schemathesis-server.log \
    env HOST=127.0.0.1 PORT="$port" ROOT_PATH="$root" RUST_LOG=warn target/debug/rust-hybrid-api
  url="http://127.0.0.1:$port${root%/}/openapi.json"
  wait_for_url "$url"
  echo "schemathesis: ROOT_PATH=$root"
  st run "$url" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --max-examples "${ST_EXAMPLES:-100}" --seed 1 --generation-database none --request-timeout 10
  stop_server
done
