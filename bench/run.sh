#!/usr/bin/env bash
# make bench: builds release binaries, then measures on loopback only, every load bounded in time.
#   Builds:    "ours" is target/release (cargo build --release), which Dockerfile.local ships;
#              "bootstrap" is cargo lambda's build, which the zip and Dockerfile.lambda ship. Both
#              run in the HTTP and Lambda tables, and the targets compare them.
#   HTTP mode: wrk against our server (request log to a file in the text and the JSON format,
#              and RUST_LOG=off), and the bootstrap with the request log to a file, in
#              BENCH_ROUNDS interleaved rounds, reporting the median run; and the floor
#              (examples/floor_actix.rs); server pinned to CPU 0, wrk (1 thread) to CPU 1.
#   Logging:   what the request log costs, measured in pairs: the three configurations run side
#              by side and take turns, BENCH_LOG_ROUNDS (15) rounds of 2 s of GET /health each;
#              each round's req/s is divided by RUST_LOG=off's of the same round.
#   Lambda:    examples/bench_lambda.rs (cold start, warm invocations) for both builds, the peer
#              bench/lambda-http-peer (the same routes on lambda_http 1.x) and the floor, side by
#              side on one fake Runtime API; ratios are to the peer.
#   Managed Instances: examples/bench_concurrent.rs, AWS_LAMBDA_MAX_CONCURRENCY = 1, 8 and 32:
#              our binary, the peer (lambda_http's run_concurrent) and, at 1 and 8,
#              aws-lambda-web-adapter (tools/lwa.txt) in front of our HTTP mode; invocations/s,
#              CPU per invocation, latency and peak RSS, the median of BENCH_CONCURRENT_ROUNDS (3)
#              rounds of BENCH_CONCURRENT_COUNT (20000) GET /health invocations each.
#   Sources and invoke modes: examples/bench_concurrent.rs again, our binary only, at N = 1 and 8:
#              an HTTP API event against a VPC Lattice V2 event, and a Function URL event
#              answered buffered against the same event streamed (LAMBDA_INVOKE_MODE=response_stream),
#              side by side in interleaved rounds.
#   Size:      the stripped release binary and cargo lambda's bootstrap.zip.
# Writes target/bench/results.md and prints it. BENCH_SECONDS (default 5) sets each HTTP case's
# length and BENCH_ROUNDS (3) the rounds; BENCH_COLD (100: cold starts are noisy here) and
# BENCH_WARM (2000) the Lambda counts.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
log_rounds=${BENCH_LOG_ROUNDS:-15}
cold=${BENCH_COLD:-100}
warm=${BENCH_WARM:-2000}
concurrent_count=${BENCH_CONCURRENT_COUNT:-20000}
concurrent_rounds=${BENCH_CONCURRENT_ROUNDS:-3}
out=target/bench
mkdir -p "$out"
rm -f "$out/http.tsv" "$out/http-runs.tsv" "$out/log-cost.tsv"

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is not installed (Debian: util-linux)" >&2; exit 1; }

cargo build --quiet --release --locked --bin rust-hybrid-api --example floor_actix --example floor_lambda --example bench_lambda --example bench_concurrent
cargo build --quiet --release --locked --manifest-path bench/lambda-http-peer/Cargo.toml --target-dir target/peer
cargo lambda build --quiet --release --locked --output-format zip >/dev/null 2>&1 \
  || cargo lambda build --release --locked --output-format zip >&2
# The builds leave hundreds of MB of dirty pages; their writeback, landing in the first case,
# once made logging look 30% slower than in the same run repeated (BENCHMARKS.md).
sync
ours=target/release/rust-hybrid-api
floor=target/release/examples/floor_actix
bootstrap=target/lambda/rust-hybrid-api/bootstrap

to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh

# bench_http NAME BINARY RUST_LOG LOGFILE [LOG_FORMAT]: one run of each route, appended to
# http-runs.tsv as name, route, req/s, peak RSS KiB, p50..p99 ms, CPU µs/req, idle RSS KiB.
bench_http() {
  local name=$1 binary=$2 log=$3 logfile=$4 format=${5:-text} port
  port=$(free_port)
  start_server "$logfile" env HOST=127.0.0.1 PORT="$port" RUST_LOG="$log" LOG_FORMAT="$format" taskset -c 0 "$binary"
  wait_for_url "http://127.0.0.1:$port/health"
  local idle; idle=$(rss_kib "$server_pid" VmRSS)
  for route in health echo; do
    local script=() url="http://127.0.0.1:$port/$route"
    [ "$route" = echo ] && script=(-s bench/echo.lua)
    taskset -c 1 wrk -t1 -c64 -d2s "${script[@]}" "$url" >/dev/null   # warm-up
    local before after report requests
    before=$(cpu_ticks "$server_pid")
    report=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" --latency "${script[@]}" "$url")
    after=$(cpu_ticks "$server_pid")
    requests=$(awk '/requests in/ { print $1 }' <<<"$report")
    if grep -qE "Non-2xx|Socket errors" <<<"$report"; then
      echo "FAIL: errors during $name $route:" >&2; echo "$report" >&2; exit 1
    fi
    local rps; rps=$(awk '/Requests\/sec/ { print $2 }' <<<"$report")
    local percentiles=()
    for p in 50% 75% 90% 99%; do percentiles+=("$(to_ms "$(awk -v p="$p" '$1 == p { print $2 }' <<<"$report")")"); done
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$route" "$rps" "$(rss_kib "$server_pid" VmHWM)" \
      "$(IFS=,; echo "${percentiles[*]}")" \
      "$(awk -v t=$((after - before)) -v n="$requests" -v hz="$(getconf CLK_TCK)" 'BEGIN { print t / hz * 1e6 / n }')" \
      "$idle" >>"$out/http-runs.tsv"
  done
  stop_server
}

# log_cost: appends one line per configuration and round to log-cost.tsv: round, name, req/s,
# requests, CPU ticks. The servers stay up side by side (each idle while another is measured), so
# a ratio compares runs seconds apart, not minutes: this machine drifts by ±15% over minutes,
# which single runs compared across a bench cannot tell from a 5% logging cost.
log_cost() {
  local names=(text json off) ports=() pids=() i round
  local logs=(info info off) formats=(text json text) files=("$out/request.log" "$out/request.json.log" /dev/null)
  for i in 0 1 2; do
    ports+=("$(free_port)")
    start_server "${files[i]}" env HOST=127.0.0.1 PORT="${ports[i]}" RUST_LOG="${logs[i]}" LOG_FORMAT="${formats[i]}" taskset -c 0 "$ours"
    pids+=("$server_pid")
    wait_for_url "http://127.0.0.1:${ports[i]}/health"
    taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:${ports[i]}/health" >/dev/null   # warm-up
  done
  for round in $(seq 1 "$log_rounds"); do
    for i in 0 1 2; do
      local before after report
      before=$(cpu_ticks "${pids[i]}")
      report=$(taskset -c 1 wrk -t1 -c64 -d2s "http://127.0.0.1:${ports[i]}/health")
      after=$(cpu_ticks "${pids[i]}")
      if grep -qE "Non-2xx|Socket errors" <<<"$report"; then
        echo "FAIL: errors during the logging cost, ${names[i]}:" >&2; echo "$report" >&2; exit 1
      fi
      printf '%s\t%s\t%s\t%s\t%s\n' "$round" "${names[i]}" "$(awk '/Requests\/sec/ { print $2 }' <<<"$report")" \
        "$(awk '/requests in/ { print $1 }' <<<"$report")" $((after - before)) >>"$out/log-cost.tsv"
    done
  done
  stop_server
}

# log_cost_summary NAME: "median req/s, CPU µs/req, median ratio to off, lowest ratio, highest
# ratio" for NAME over all rounds, from log-cost.tsv.
log_cost_summary() {
  local ratios rps
  ratios=$(awk -F'\t' -v n="$1" '$2 == "off" { off[$1] = $3 } $2 == n { mine[$1] = $3 } END { for (r in mine) print mine[r] / off[r] }' "$out/log-cost.tsv" | sort -g)
  rps=$(awk -F'\t' -v n="$1" '$2 == n { print $3 }' "$out/log-cost.tsv" | sort -g)
  awk -F'\t' -v n="$1" -v hz="$(getconf CLK_TCK)" -v ratios="$(tr '\n' ' ' <<<"$ratios")" -v rps="$(tr '\n' ' ' <<<"$rps")" '
    $2 == n { ticks += $5; requests += $4 }
    END {
      k = split(ratios, r, " "); m = split(rps, q, " ")
      printf "%.0f\t%.2f\t%.3f\t%.3f\t%.3f\n", q[int((m + 1) / 2)], ticks / hz * 1e6 / requests, r[int((k + 1) / 2)], r[1], r[k]
    }' "$out/log-cost.tsv"
}

# The run with the median req/s of each server and route, in the order they first ran, to
# http.tsv; this machine varies by ±15% from one run to the next, so one run decides nothing.
median_runs() {
  awk -F'\t' '
    { key = $1 FS $2; if (!(key in count)) order[++keys] = key; rows[key, ++count[key]] = $0; rps[key, count[key]] = $3 }
    END {
      for (k = 1; k <= keys; k++) {
        key = order[k]; n = count[key]
        for (i = 1; i <= n; i++) { rank = 0; for (j = 1; j <= n; j++) if (rps[key, j] < rps[key, i] || (rps[key, j] == rps[key, i] && j < i)) rank++; if (rank == int((n - 1) / 2)) print rows[key, i] }
      }
    }' "$out/http-runs.tsv" >"$out/http.tsv"
}

{
  echo "# make bench results"
  echo
  echo "$(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, $(uname -r), $(rustc --version), $(wrk --version 2>&1 | head -n1 | cut -d' ' -f1-2)."
  echo
  echo "## HTTP mode (wrk -t1 -c64 -d${seconds}s after a 2 s warm-up; server on CPU 0, wrk on CPU 1; the run with the median req/s of $rounds interleaved rounds for our server, one run for the floor)"
  echo
  echo "| server | route | req/s | p50 ms | p99 ms | CPU µs/req | RSS idle MB | RSS peak MB |"
  echo "|---|---|---|---|---|---|---|---|"
  logged="ours, request log to a file" json="ours, JSON log to a file" quiet="ours, RUST_LOG=off" floored="floor (examples/floor_actix.rs)"
  zipped="bootstrap (zip, Dockerfile.lambda), request log to a file"
  for _ in $(seq 1 "$rounds"); do
    bench_http "$logged" "$ours" info "$out/request.log"
    bench_http "$zipped" "$bootstrap" info "$out/request.bootstrap.log"
    bench_http "$json" "$ours" info "$out/request.json.log" json
    bench_http "$quiet" "$ours" off /dev/null
  done
  bench_http "$floored" "$floor" off /dev/null
  median_runs
  # shellcheck disable=SC2016 # the backticks are markdown
  awk -F'\t' '{ split($5, p, ","); printf "| %s | `%s /%s` | %.0f | %s | %s | %.2f | %.1f | %.1f |\n", $1, ($2 == "echo" ? "POST" : "GET"), $2, $3, p[1], p[4], $6, $7 / 1024, $4 / 1024 }' "$out/http.tsv"
  echo
  echo "## Logging cost (HTTP mode, GET /health)"
  echo
  echo "The three configurations run side by side, each pinned to CPU 0, and take turns: $log_rounds rounds of wrk -t1 -c64 -d2s each. A round's ratio is its req/s over RUST_LOG=off's in the same round."
  echo
  echo "| configuration | median req/s | CPU µs/req (all rounds) | ratio to RUST_LOG=off: median | lowest | highest |"
  echo "|---|---|---|---|---|---|"
  log_cost
  for name in text json off; do
    IFS=$'\t' read -r med cpu ratio low high <<<"$(log_cost_summary "$name")"
    case $name in
      text) label="request log to a file, text" ;;
      json) label="request log to a file, JSON" ;;
      off) label="RUST_LOG=off" ;;
    esac
    echo "| $label | $med | $cpu | $ratio | $low | $high |"
  done
  echo
  echo "## Lambda mode (fake Runtime API on loopback, HTTP API 2.0 event for GET /health)"
  echo
  echo "ours: target/release (Dockerfile.local's build); bootstrap: cargo lambda's build (the zip and Dockerfile.lambda); peer: bench/lambda-http-peer (the same routes on lambda_http 1.x); floor: examples/floor_lambda.rs (a bare lambda_runtime 0.7 handler)."
  echo
  target/release/examples/bench_lambda events/http-api-health.json "$cold" "$warm" \
    ours="$ours" peer=target/peer/release/lambda-http-peer floor=target/release/examples/floor_lambda bootstrap="$bootstrap" \
    | tee "$out/lambda.md"
  echo
  echo "## Lambda Managed Instances (AWS_LAMBDA_MAX_CONCURRENCY invocations at once, GET /health)"
  echo
  echo "One fake Runtime API hands events to concurrent polls as fast as they come; the median of $concurrent_rounds rounds of $concurrent_count invocations after 2,000 to warm up. lwa: aws-lambda-web-adapter in front of our HTTP mode (both processes counted)."
  echo
  target/release/examples/bench_concurrent events/http-api-health.json "$concurrent_count" "$concurrent_rounds" 1,8,32 \
    ours="$ours" peer=target/peer/release/lambda-http-peer "lwa@1,8=lwa:target/tools/bin/lambda-adapter:$ours" \
    | tee "$out/concurrent.md"
  echo
  echo "## Event sources and invoke modes (ours, GET /health)"
  echo
  echo "The same binary on four events, side by side, the median of $concurrent_rounds rounds of $concurrent_count invocations after 2,000 to warm up: an HTTP API 2.0 event, a VPC Lattice V2 event, and a Function URL event answered buffered and streamed (LAMBDA_INVOKE_MODE=response_stream)."
  echo
  url=events/function-url-null-query-health.json
  target/release/examples/bench_concurrent events/http-api-health.json "$concurrent_count" "$concurrent_rounds" 1,8 \
    http-api="$ours" lattice="$ours+events/vpc-lattice-v2-health.json" \
    url-buffered="$ours+$url" url-streamed="$ours+$url+LAMBDA_INVOKE_MODE=response_stream" \
    | tee "$out/sources.md"
  echo
  echo "## Size"
  echo
  strip -o "$out/rust-hybrid-api.stripped" "$ours"
  echo "| artefact | bytes | MB |"
  echo "|---|---|---|"
  for file in "$out/rust-hybrid-api.stripped" target/lambda/rust-hybrid-api/bootstrap.zip; do
    bytes=$(stat -c %s "$file")
    # shellcheck disable=SC2016 # the backticks are markdown
    printf '| `%s` | %d | %.2f |\n' "$file" "$bytes" "$(awk -v b="$bytes" 'BEGIN { print b / 1048576 }')"
  done
  echo
  echo "## Against the targets"
  echo
  rps() { awk -F'\t' -v n="$1" -v r="$2" '$1 == n && $2 == r { print $3 }' "$out/http.tsv"; }
  # The "ours / peer" column: the sixth cell of a row of bench_lambda's table (after the four functions).
  lambda_ratio() { awk -F'|' -v f="$1" 'index($2, f) { gsub(/ /, "", $7); print $7 }' "$out/lambda.md"; }
  peak=$(awk -F'\t' '$1 ~ /^ours/ && $4 > m { m = $4 } END { printf "%.1f", m / 1024 }' "$out/http.tsv")
  zip_mb=$(awk -v b="$(stat -c %s target/lambda/rust-hybrid-api/bootstrap.zip)" 'BEGIN { printf "%.2f", b / 1048576 }')
  echo "| figure | target | measured |"
  echo "|---|---|---|"
  echo "| logger cost, text: /health req/s, log to a file / RUST_LOG=off (median of paired rounds) | ≥ 0.95 | $(log_cost_summary text | cut -f3) |"
  echo "| logger cost, JSON: /health req/s, JSON log to a file / RUST_LOG=off (median of paired rounds) | ≥ 0.95 | $(log_cost_summary json | cut -f3) |"
  echo "| /health req/s, ours (log to a file) / floor | ≥ 0.90 | $(awk -v a="$(rps "$logged" health)" -v b="$(rps "$floored" health)" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| /health req/s, ours (RUST_LOG=off) / floor | | $(awk -v a="$(rps "$quiet" health)" -v b="$(rps "$floored" health)" 'BEGIN { printf "%.2f", a / b }') |"
  # A figure of bench_lambda's table in ms, by the function's column (ours 3, bootstrap 6).
  lambda_ms() { awk -F'|' -v f="$1" -v c="$2" 'index($2, f) { gsub(/[ ms]/, "", $c); print $c }' "$out/lambda.md"; }
  built_ratio() { awk -v a="$(lambda_ms "$1" 6)" -v b="$(lambda_ms "$1" 3)" 'BEGIN { printf "%.2f", a / b }'; }
  echo "| images: POST /echo req/s, bootstrap (zip, Dockerfile.lambda) / ours (target/release, Dockerfile.local) | ≥ 0.95 | $(awk -v a="$(rps "$zipped" echo)" -v b="$(rps "$logged" echo)" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| images: Lambda exec → first response, bootstrap / ours | ≤ 1.05 | $(built_ratio "first response") |"
  echo "| images: Lambda warm p50, bootstrap / ours | ≤ 1.05 | $(built_ratio "warm p50") |"
  echo "| Lambda exec → first response, ours / peer | ≤ 1.15 | $(lambda_ratio "first response") |"
  echo "| Lambda warm p50, ours / peer | ≤ 1.40 (aim 1.25) | $(lambda_ratio "warm p50") |"
  # A cell of bench_concurrent's ratio table: the row for N, the column by number.
  concurrent_ratio() { awk -F'|' -v n="$1" -v c="$2" 'seen && $2 == " " n " " { gsub(/ /, "", $c); print $c } /ours \/ peer/ { seen = 1 }' "$out/concurrent.md"; }
  echo "| Managed Instances, N = 8: invocations/s, ours / peer | ≥ 0.5 (aim 0.7) | $(concurrent_ratio 8 3) |"
  echo "| Managed Instances, N = 8: invocations/s, ours / aws-lambda-web-adapter | ≥ 1.0 | $(concurrent_ratio 8 5) |"
  echo "| Managed Instances: peak RSS at N = 32 / N = 1 | ≤ 3 | $(concurrent_ratio 32 6) |"
  # A cell of the sources table's ratio table, as for concurrent_ratio.
  sources_ratio() { awk -F'|' -v n="$1" -v c="$2" 'seen && $2 == " " n " " { gsub(/ /, "", $c); print $c } /streamed \/ buffered/ { seen = 1 }' "$out/sources.md"; }
  echo "| streamed / buffered Function URL, CPU per invocation, N = 1 | ≤ 1.2 | $(sources_ratio 1 3) |"
  echo "| streamed / buffered Function URL, CPU per invocation, N = 8 | ≤ 1.2 | $(sources_ratio 8 3) |"
  echo "| VPC Lattice / HTTP API event, warm p50, N = 1 | ≤ 1.05 | $(sources_ratio 1 5) |"
  echo "| RSS under HTTP load (peak) | ≤ 10 MB | $peak MB |"
  echo "| zipped bootstrap | ≤ 2.5 MB | $zip_mb MB |"
} > "$out/results.md"

python3 bench/chart.py "$out"
echo >>"$out/results.md"
echo "Latency chart: $out/latency.svg" >>"$out/results.md"
cat "$out/results.md"
