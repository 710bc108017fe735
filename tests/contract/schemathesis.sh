#!/usr/bin/env bash
# make test-contract: schemathesis against a live HTTP-mode server, from the document the server
# itself serves at {root}/openapi.json, once at the root and once under ROOT_PATH=/api. Stateless
# checks only: no 5xx, every status documented, every body matching its schema and content type.
# ST_EXAMPLES (default 100) bounds the examples per operation.
set -euo pipefail
cd "$(dirname "$0")/../.."

command -v st >/dev/null || { echo "schemathesis is not installed: make tools-contract" >&2; exit 1; }
cargo build --quiet --bin rust-hybrid-api

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
server_pid=''
stop_server() { [ -z "$server_pid" ] || { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; server_pid=''; }; }
trap stop_server EXIT

for root in / /api; do
  port=$(free_port)
  HOST=127.0.0.1 PORT=$port ROOT_PATH=$root RUST_LOG=warn target/debug/rust-hybrid-api &
  server_pid=$!
  url="http://127.0.0.1:$port${root%/}/openapi.json"
  for _ in $(seq 1 100); do curl -sf -o /dev/null "$url" && break; sleep 0.05; done
  echo "schemathesis: ROOT_PATH=$root"
  st run "$url" \
    --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
    --max-examples "${ST_EXAMPLES:-100}" --seed 1 --generation-database none --request-timeout 10
  stop_server
done
