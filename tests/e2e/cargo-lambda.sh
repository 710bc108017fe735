#!/usr/bin/env bash
# End-to-end check against an independent Lambda emulator: `cargo lambda watch` (PyPI package
# cargo-lambda). For each ROOT_PATH below it starts the emulator on a free loopback port, sends
# every event file through `make lambda-invoke`, and checks the decoded answer. Every file in
# events/ must have a row here, so a new fixture cannot go unchecked.
set -euo pipefail
cd "$(dirname "$0")/../.."

# ROOT_PATH | event file | expected first line | text the output must contain
CHECKS='
/     | events/http-api-health.json                      | status: 200      | {"status":"ok"}
/     | events/http-api-index.json                       | status: 200      | "mode":"lambda"
/     | events/http-api-echo.json                        | status: 200      | {"order":[3,1,2],"big":123456789012345678901234567890,"z":true,"a":null}
/     | events/function-url-echo.json                    | status: 200      | {"message":"hello from a Function URL","n":[1,2.5,-3e10]}
/     | events/function-url-null-query-health.json       | status: 200      | {"status":"ok"}
/     | events/alb-time.json                             | status: 200      | {"time":"
/     | events/alb-single-value-health.json              | status: 200      | {"status":"ok"}
/     | events/rest-api-bare-health.json                 | status: 200      | {"status":"ok"}
/     | events/rest-api-prod-stage-health.json           | status: 200      | {"status":"ok"}
/     | events/http-api-prod-stage-time.json             | status: 200      | {"time":"
/     | events/vpc-lattice-v2-health.json                | status: 200      | {"status":"ok"}
/     | events/vpc-lattice-v1-echo.json                  | status: 200      | {"lattice":"v1","n":[1,2.5,-3e10]}
/     | events/unsupported/sqs.json                      | invocation error | a record batch from aws:sqs
/     | events/unsupported/s3.json                       | invocation error | a record batch from aws:s3
/     | events/unsupported/eventbridge.json              | invocation error | EventBridge
/     | events/unsupported/websocket.json                | invocation error | WebSocket
/     | events/unsupported/apigateway-authorizer.json    | invocation error | authorizer
/api  | events/http-api-health.json                      | status: 404      | There is no endpoint at /health
/api  | events/rest-api-prod-stage-health.json           | status: 404      | There is no endpoint at /health
'

field() { cut -d'|' -f"$1" <<<"$2" | sed 's/^ *//; s/ *$//'; }

command -v cargo-lambda >/dev/null || { echo "cargo-lambda is not installed: make tools-lambda" >&2; exit 1; }

missing=0
while read -r file; do
  grep -qF "| $file " <<<"$CHECKS" || { echo "FAIL: $file has no row in $0" >&2; missing=1; }
done < <(find events -name '*.json' | sort)
[ "$missing" = 0 ] || exit 1

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

cargo build --quiet --bin rust-hybrid-api --example decode_envelope

passed=0 failed=0

# refused LABEL SAYS POSTS [VARIABLE=VALUE ...]: `make lambda-invoke` with the variables, against
# a port where nothing listens, must fail and say SAYS without the decoder running; with POSTS
# "before-post", without curl running either.
refused() {
  local label=$1 says=$2 posts=$3 output
  shift 3
  if output=$(make --no-print-directory lambda-invoke LAMBDA_PORT="$closed" "$@" 2>&1); then
    failed=$((failed + 1)); echo "FAIL lambda-invoke $label exited 0: $output" >&2
  elif grep -qF -- "$says" <<<"$output" && ! grep -qF 'decode_envelope' <<<"$output" \
      && ! { [ "$posts" = before-post ] && grep -q 'curl' <<<"$output"; }; then
    passed=$((passed + 1)); echo "ok   lambda-invoke $label -> $says"
  else
    failed=$((failed + 1)); echo "FAIL lambda-invoke $label: expected '$says', got: $output" >&2
  fi
}

# A missing EVENT, or a folder, is refused before anything is posted: nothing listens on the
# port below, so a post would end in curl's own connection error instead.
closed=$(free_port)
refused "with a missing EVENT" 'EVENT=events/no-such-event.json does not exist' before-post EVENT=events/no-such-event.json
refused "with EVENT=events/" 'EVENT=events/ is not a file' before-post EVENT=events/
refused "with no emulator" \
  "nothing answered at http://127.0.0.1:$closed/2015-03-31/functions/rust-hybrid-api/invocations: start the emulator first (make lambda-watch" posts

# invoke PORT LABEL FILE FIRST EXPECT: `make lambda-invoke` of FILE; the decoded answer's first
# line must start with FIRST, and it must contain EXPECT.
invoke() {
  local port=$1 label=$2 file=$3 first=$4 expect=$5 output
  # lambda-invoke's own progress notes go to stderr too; the answer is what follows them.
  output=$(timeout 120 make --no-print-directory lambda-invoke LAMBDA_PORT="$port" EVENT="$file" 2>&1 \
    | grep -v '^lambda-invoke: ' || true)
  if [[ "$(head -n1 <<<"$output")" == "$first"* ]] && grep -qF -- "$expect" <<<"$output"; then
    passed=$((passed + 1))
    echo "ok   $label $file -> $first"
  else
    failed=$((failed + 1))
    echo "FAIL $label $file: expected '$first' and '$expect', got:" >&2
    while IFS= read -r line; do echo "     $line"; done <<<"$output" >&2
  fi
}

# head_length PORT MODE HEADER: HEAD /health through the Function URL emulation must state the
# GET's length (15 bytes) in HEADER: cargo lambda sends a buffered answer's Content-Length as it
# is, and a streamed one's as x-amzn-remapped-content-length, because its own answer is chunked.
head_length() {
  local port=$1 mode=$2 header=$3 head
  head=$(curl -s -m 60 -I "http://127.0.0.1:$port/lambda-url/rust-hybrid-api/health" | tr -d '\r' || true)
  if grep -qix "$header: 15" <<<"$head"; then
    passed=$((passed + 1)); echo "ok   $mode HEAD /lambda-url/rust-hybrid-api/health -> $header: 15"
  else
    failed=$((failed + 1)); echo "FAIL $mode HEAD /lambda-url/rust-hybrid-api/health: no '$header: 15' in: $head" >&2
  fi
}

# function_url MODE PORT METHOD TARGET BODY STATUS EXPECTED: one request through cargo lambda's
# Function URL emulation with curl -N, as a client of a Function URL whose InvokeMode is MODE
# (buffered or response_stream); the answer must be STATUS with the body EXPECTED (a file with
# @FILE), and streamed exactly when MODE is response_stream (cargo lambda passes the Runtime
# API's Lambda-Runtime-Function-Response-Mode header on to the client).
function_url() {
  local mode=$1 port=$2 method=$3 target=$4 body=$5 status=$6 expected=$7
  local url="http://127.0.0.1:$port/lambda-url/rust-hybrid-api$target" head out
  head=$(mktemp) out=$(mktemp)
  local args=(-s -N -m 60 -X "$method" -D "$head" -o "$out" -w '%{http_code}')
  [ "$method" = HEAD ] && args=(-s -N -m 60 -I -D "$head" -o "$out" -w '%{http_code}')
  [ -n "$body" ] && args+=(-H 'content-type: application/json' --data-binary "$body")
  local got streamed=no want=no
  got=$(curl "${args[@]}" "$url" || true)
  grep -qi '^lambda-runtime-function-response-mode: *streaming' "$head" && streamed=yes
  [ "$mode" = response_stream ] && want=yes
  local same=no
  if [[ "$expected" == @* ]]; then cmp -s "$out" "${expected#@}" && same=yes
  # curl -I writes the head where the body would go; a HEAD answer has no body to compare.
  elif [ "$method" = HEAD ] || [ "$(cat "$out")" = "$expected" ]; then same=yes; fi
  if [ "$got" = "$status" ] && [ "$same" = yes ] && [ "$streamed" = "$want" ]; then
    passed=$((passed + 1)); echo "ok   $mode $method /lambda-url/rust-hybrid-api$target -> $status (streamed: $streamed)"
  else
    failed=$((failed + 1))
    echo "FAIL $mode $method /lambda-url/rust-hybrid-api$target: got $got, streamed: $streamed, body: $(head -c 200 "$out")" >&2
  fi
  rm -f "$head" "$out"
}

for root in $(grep -v '^$' <<<"$CHECKS" | cut -d'|' -f1 | tr -d ' ' | sort -u); do
  port=$(free_port)
  log=$(mktemp)
  start_server "$log" cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
    --env-var "ROOT_PATH=$root"
  wait_for_url "http://127.0.0.1:$port/" 60

  while IFS= read -r row; do
    [ -n "$row" ] || continue
    [ "$(field 1 "$row")" = "$root" ] || continue
    invoke "$port" "ROOT_PATH=$root" "$(field 2 "$row")" "$(field 3 "$row")" "$(field 4 "$row")"
  done <<<"$CHECKS"
  if [ "$root" = / ]; then
    # cargo lambda watch's Function URL emulation: an HTTP request in, a Function URL event to
    # the function. Without a query string it sends "rawQueryString": null.
    for target in /health '/health?probe=1&name=a%20b'; do
      function_url buffered "$port" GET "$target" '' 200 '{"status":"ok"}'
    done
    head_length "$port" buffered content-length
    # The original service's documented invocation: the bare REST-style event.
    got=$(curl -s -X POST -d '{"httpMethod":"GET","path":"/health"}' \
      "http://127.0.0.1:$port/2015-03-31/functions/rust-hybrid-api/invocations" || true)
    if python3 -c 'import json, sys; e = json.loads(sys.argv[1]); assert e["statusCode"] == 200 and e["body"] == "{\"status\":\"ok\"}", e' "$got"; then
      passed=$((passed + 1)); echo "ok   POST {\"httpMethod\":\"GET\",\"path\":\"/health\"} -> 200"
    else
      failed=$((failed + 1)); echo "FAIL POST of the bare event: got $got" >&2
    fi
  fi
  stop_server
  rm -f "$log"
done

# LAMBDA_INVOKE_MODE=response_stream behind the same emulator: Function URL answers stream
# (curl -N reads them as they come), byte-exact, empty bodies included, and a 4,000,000-byte
# echo, over the 6 MB buffered limit once escaped, comes back whole. `make lambda-invoke` decodes
# the streamed answers (REST API, Function URL) and the buffered ones beside them.
port=$(free_port)
log=$(mktemp)
start_server "$log" cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$port" \
  --env-var LAMBDA_INVOKE_MODE=response_stream
wait_for_url "http://127.0.0.1:$port/" 60
function_url response_stream "$port" GET /health '' 200 '{"status":"ok"}'
function_url response_stream "$port" HEAD /health '' 200 ''
head_length "$port" response_stream x-amzn-remapped-content-length
while IFS= read -r row; do
  [ "$(field 1 "$row")" = / ] || continue
  case "$(field 2 "$row")" in
    */rest-api-*|*/function-url-*|*/http-api-health.json|*/unsupported/sqs.json)
      invoke "$port" streaming "$(field 2 "$row")" "$(field 3 "$row")" "$(field 4 "$row")" ;;
  esac
done <<<"$CHECKS"
function_url response_stream "$port" POST /echo '{"é":"\u00e9","n":123456789012345678901234567890}' 200 \
  '{"é":"\u00e9","n":123456789012345678901234567890}'
function_url response_stream "$port" GET /nope '' 404 \
  '{"error":"not_found","message":"There is no endpoint at /nope; GET / lists them."}'
big=$(mktemp)
python3 -c 'import sys; sys.stdout.write("\"" + "\\\"" * 1999999 + "\"")' >"$big"
function_url response_stream "$port" POST /echo "@$big" 200 "@$big"
rm -f "$big"
stop_server
rm -f "$log"

echo "e2e: $passed passed, $failed failed"
[ "$failed" = 0 ]
