#!/usr/bin/env bash
# make bench: builds release binaries, then measures on loopback only, every load bounded in time.
#   HTTP mode: wrk against our server (request log to a file in the text and the JSON format,
#              and RUST_LOG=off, in BENCH_ROUNDS interleaved rounds, reporting the median run) and
#              the floor (examples/floor_actix.rs); server pinned to CPU 0, wrk (1 thread) to CPU 1.
#   Lambda:    examples/bench_lambda.rs (cold start, warm invocations) for our binary, the peer
#              bench/lambda-http-peer (the same routes on lambda_http 1.x) and the floor, side by
#              side on one fake Runtime API; ratios are to the peer.
#   Size:      the stripped release binary and cargo lambda's bootstrap.zip.
# Writes target/bench/results.md and prints it. BENCH_SECONDS (default 5) sets each HTTP case's
# length and BENCH_ROUNDS (3) the rounds; BENCH_COLD (100: cold starts are noisy here) and
# BENCH_WARM (2000) the Lambda counts.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${BENCH_SECONDS:-5}
rounds=${BENCH_ROUNDS:-3}
cold=${BENCH_COLD:-100}
warm=${BENCH_WARM:-2000}
out=target/bench
mkdir -p "$out"
rm -f "$out/http.tsv" "$out/http-runs.tsv"

command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
command -v taskset >/dev/null || { echo "taskset is not installed (Debian: util-linux)" >&2; exit 1; }

cargo build --quiet --release --locked --bin rust-hybrid-api --example floor_actix --example floor_lambda --example bench_lambda
cargo build --quiet --release --locked --manifest-path bench/lambda-http-peer/Cargo.toml --target-dir target/peer
# The builds leave hundreds of MB of dirty pages; their writeback, landing in the first case,
# once made logging look 30% slower than in the same run repeated (BENCHMARKS.md).
sync
ours=target/release/rust-hybrid-api
floor=target/release/examples/floor_actix

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
  for _ in $(seq 1 "$rounds"); do
    bench_http "$logged" "$ours" info "$out/request.log"
    bench_http "$json" "$ours" info "$out/request.json.log" json
    bench_http "$quiet" "$ours" off /dev/null
  done
  bench_http "$floored" "$floor" off /dev/null
  median_runs
  # shellcheck disable=SC2016 # the backticks are markdown
  awk -F'\t' '{ split($5, p, ","); printf "| %s | `%s /%s` | %.0f | %s | %s | %.2f | %.1f | %.1f |\n", $1, ($2 == "echo" ? "POST" : "GET"), $2, $3, p[1], p[4], $6, $7 / 1024, $4 / 1024 }' "$out/http.tsv"
  echo
  echo "## Lambda mode (fake Runtime API on loopback, HTTP API 2.0 event for GET /health)"
  echo
  echo "peer: bench/lambda-http-peer (the same routes on lambda_http 1.x); floor: examples/floor_lambda.rs (a bare lambda_runtime 0.7 handler)."
  echo
  target/release/examples/bench_lambda events/http-api-health.json "$cold" "$warm" \
    ours="$ours" peer=target/peer/release/lambda-http-peer floor=target/release/examples/floor_lambda \
    | tee "$out/lambda.md"
  echo
  echo "## Size"
  echo
  strip -o "$out/rust-hybrid-api.stripped" "$ours"
  cargo lambda build --quiet --release --output-format zip >/dev/null 2>&1 \
    || cargo lambda build --release --output-format zip >&2
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
  # The "ours / peer" column: the fifth cell of a row of bench_lambda's table.
  lambda_ratio() { awk -F'|' -v f="$1" 'index($2, f) { gsub(/ /, "", $6); print $6 }' "$out/lambda.md"; }
  peak=$(awk -F'\t' '$1 ~ /^ours/ && $4 > m { m = $4 } END { printf "%.1f", m / 1024 }' "$out/http.tsv")
  zip_mb=$(awk -v b="$(stat -c %s target/lambda/rust-hybrid-api/bootstrap.zip)" 'BEGIN { printf "%.2f", b / 1048576 }')
  echo "| figure | target | measured |"
  echo "|---|---|---|"
  echo "| logger cost: /health req/s, log to a file / RUST_LOG=off | ≥ 0.95 | $(awk -v a="$(rps "$logged" health)" -v b="$(rps "$quiet" health)" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| logger cost, JSON: /health req/s, JSON log to a file / RUST_LOG=off | ≥ 0.95 | $(awk -v a="$(rps "$json" health)" -v b="$(rps "$quiet" health)" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| /health req/s, ours (log to a file) / floor | ≥ 0.90 | $(awk -v a="$(rps "$logged" health)" -v b="$(rps "$floored" health)" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| /health req/s, ours (RUST_LOG=off) / floor | | $(awk -v a="$(rps "$quiet" health)" -v b="$(rps "$floored" health)" 'BEGIN { printf "%.2f", a / b }') |"
  echo "| Lambda exec → first response, ours / peer | ≤ 1.15 | $(lambda_ratio "first response") |"
  echo "| Lambda warm p50, ours / peer | ≤ 1.40 (aim 1.25) | $(lambda_ratio "warm p50") |"
  echo "| RSS under HTTP load (peak) | ≤ 10 MB | $peak MB |"
  echo "| zipped bootstrap | ≤ 2.5 MB | $zip_mb MB |"
} > "$out/results.md"

python3 bench/chart.py "$out"
echo >>"$out/results.md"
echo "Latency chart: $out/latency.svg" >>"$out/results.md"
cat "$out/results.md"
