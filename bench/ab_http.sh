#!/usr/bin/env bash
# Side-by-side HTTP throughput of several builds of the server, for comparisons make bench does
# not make (BENCHMARKS.md, "The images' binary", used it for the musl builds):
#
#   bash bench/ab_http.sh ROUNDS ROUTE NAME=BINARY...      ROUTE: health or echo
#
# Each round runs every binary in turn (so drift over minutes hits them all alike): the server
# pinned to CPU 0 with the request log on (RUST_LOG=info, to /dev/null), a 1 s wrk warm-up, then
# wrk -t1 -c64 for BENCH_SECONDS (4) on CPU 1. Prints one line per run (round, name, req/s, CPU
# µs per request), then each binary's median req/s and its ratio to the first binary's.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { echo "usage: bash bench/ab_http.sh ROUNDS health|echo NAME=BINARY..." >&2; exit 2; }
rounds=$1 route=$2
shift 2
seconds=${BENCH_SECONDS:-4}
command -v wrk >/dev/null || { echo "wrk is not installed (Debian: apt-get install wrk)" >&2; exit 1; }
# shellcheck source=scripts/lib.sh
source scripts/lib.sh
script=()
[ "$route" = echo ] && script=(-s bench/echo.lua)
runs=$(mktemp)
for round in $(seq 1 "$rounds"); do
  for pair in "$@"; do
    name=${pair%%=*} binary=${pair#*=}
    port=$(free_port)
    start_server /dev/null env HOST=127.0.0.1 PORT="$port" RUST_LOG=info taskset -c 0 "$binary"
    wait_for_url "http://127.0.0.1:$port/health"
    taskset -c 1 wrk -t1 -c64 -d1s "${script[@]}" "http://127.0.0.1:$port/$route" >/dev/null
    before=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
    report=$(taskset -c 1 wrk -t1 -c64 -d"${seconds}s" "${script[@]}" "http://127.0.0.1:$port/$route")
    after=$(awk '{ print $14 + $15 }' "/proc/$server_pid/stat")
    stop_server
    if grep -qE "Non-2xx|Socket errors" <<<"$report"; then echo "FAIL: errors from $name:" >&2; echo "$report" >&2; exit 1; fi
    awk -v r="$round" -v n="$name" -v t=$((after - before)) -v hz="$(getconf CLK_TCK)" '
      /requests in/ { requests = $1 } /Requests\/sec/ { rps = $2 }
      END { printf "%s\t%s\t%.0f\t%.2f\n", r, n, rps, t / hz * 1e6 / requests }' <<<"$report" | tee -a "$runs"
  done
done
echo "median req/s of $rounds rounds, $route:"
first=${1%%=*}
awk -F'\t' -v first="$first" '
  { if (!($2 in n)) order[++names] = $2; v[$2, ++n[$2]] = $3 }
  END {
    for (k = 1; k <= names; k++) {
      name = order[k]; c = n[name]
      for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[name, j] < v[name, i]) { t = v[name, i]; v[name, i] = v[name, j]; v[name, j] = t }
      median[name] = c % 2 ? v[name, (c + 1) / 2] : (v[name, c / 2] + v[name, c / 2 + 1]) / 2
    }
    for (k = 1; k <= names; k++) printf "  %-20s %8.0f  %.2f\n", order[k], median[order[k]], median[order[k]] / median[first]
  }' "$runs"
rm -f "$runs"
