#!/usr/bin/env bash
# make test-load: load, soak and shutdown, every loop bounded in time and count, loopback only.
#   HTTP load:   wrk, 256 connections for LOAD_SECONDS (30) each against /health and POST /echo;
#                fails on any socket error or non-2xx response, or when the server's RSS after
#                the run is more than 10% above its RSS after a 3 s warm-up of each route.
#   Lambda soak: examples/soak_lambda.rs, SOAK_INVOCATIONS (100000) through a fake Runtime API;
#                fails on any non-200 envelope or RSS growth over 10%.
#   Shutdown:    the SIGTERM tests (20 in-flight requests, cut-off at the shutdown timeout).
# .ci/run runs it shortened: LOAD_SECONDS=3 SOAK_INVOCATIONS=10000.
set -euo pipefail
cd "$(dirname "$0")/../.."

seconds=${LOAD_SECONDS:-30}
invocations=${SOAK_INVOCATIONS:-100000}
out=target/load
mkdir -p "$out"
command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }

cargo build --quiet --release --locked --bin rust-hybrid-api --example soak_lambda
binary=target/release/rust-hybrid-api

# shellcheck source=scripts/lib.sh
source scripts/lib.sh

passed=0 failed=0
record() { # record OK|FAIL message
  if [ "$1" = OK ]; then passed=$((passed + 1)); echo "ok   $2"; else failed=$((failed + 1)); echo "FAIL $2" >&2; fi
}

port=$(free_port)
start_server "$out/server.log" env HOST=127.0.0.1 PORT="$port" RUST_LOG=info "$binary"
wait_for_url "http://127.0.0.1:$port/health"
script_for() { [ "$1" = echo ] && echo "-s bench/echo.lua" || true; }
# Warm up both routes first, so the baseline includes every buffer and allocator arena either
# route needs; growth after that is what the check is about.
for route in health echo; do
  # shellcheck disable=SC2046
  wrk -t2 -c256 -d3s $(script_for "$route") "http://127.0.0.1:$port/$route" >/dev/null
done
warm=$(rss_kib "$server_pid")
for route in health echo; do
  # shellcheck disable=SC2046
  report=$(wrk -t2 -c256 -d"${seconds}s" --timeout 5s $(script_for "$route") "http://127.0.0.1:$port/$route")
  after=$(rss_kib "$server_pid")
  requests=$(awk '/requests in/ { print $1 }' <<<"$report")
  rate=$(awk '/Requests\/sec/ { print $2 }' <<<"$report")
  growth=$(awk -v a="$after" -v w="$warm" 'BEGIN { printf "%+.1f", (a / w - 1) * 100 }')
  summary="HTTP $route: $requests requests in ${seconds}s ($rate/s), 256 connections, RSS $warm KiB after warm-up -> $after KiB ($growth%)"
  if grep -qE "Non-2xx|Socket errors" <<<"$report"; then
    record FAIL "$summary"; echo "$report" >&2
  elif [ "${requests:-0}" -eq 0 ]; then
    record FAIL "$summary: no requests completed"
  elif awk -v g="$growth" 'BEGIN { exit !(g > 10) }'; then
    record FAIL "$summary: RSS grew more than 10%"
  else
    record OK "$summary, 0 socket errors, 0 non-2xx"
  fi
done
stop_server

if soak=$(target/release/examples/soak_lambda "$binary" "$invocations" \
    events/http-api-health.json events/http-api-echo.json events/function-url-echo.json events/alb-time.json); then
  record OK "Lambda $soak"
else
  record FAIL "Lambda $soak"
fi

if cargo test --quiet --release --locked --test api -- each_stop_signal second_signal requests_still_unfinished >"$out/shutdown.log" 2>&1; then
  record OK "shutdown: $(grep -E '^test result' "$out/shutdown.log" | head -1)"
else
  record FAIL "shutdown:"; cat "$out/shutdown.log" >&2
fi

echo "load: $passed passed, $failed failed"
[ "$failed" = 0 ]
