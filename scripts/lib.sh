# shellcheck shell=bash
# The server lifecycle the test and bench scripts share. Source it from the repository root:
#
#   source scripts/lib.sh
#   port=$(free_port)                       a free loopback port
#   start_server LOG COMMAND...             runs COMMAND in its own session, stderr and stdout
#                                           to LOG; sets server_pid; stopped again on EXIT;
#                                           several may run at once
#   wait_for_url URL [SECONDS]              polls URL every 50 ms until it answers (default
#                                           10 s); fails, showing LOG, if the server exits or
#                                           time runs out
#   stop_server                             stops every server started, and everything they
#                                           started
#   rss_kib PID [FIELD]                     VmRSS (or another /proc status field) in KiB

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

server_pid=''
server_log=''
server_pids=()

start_server() {
  server_log=$1
  shift
  # Its own session, so stop_server can end a server that runs children (cargo lambda watch).
  setsid "$@" >"$server_log" 2>&1 &
  server_pid=$!
  server_pids+=("$server_pid")
  trap stop_server EXIT
}

wait_for_url() {
  local url=$1 tries=$(( ${2:-10} * 20 ))
  for _ in $(seq 1 "$tries"); do
    curl -s -o /dev/null "$url" && return 0
    if ! kill -0 "$server_pid" 2>/dev/null; then
      cat "$server_log" >&2
      echo "the server exited before $url answered" >&2
      return 1
    fi
    sleep 0.05
  done
  echo "$url did not answer within ${2:-10} s" >&2
  return 1
}

stop_server() {
  local pid
  for pid in "${server_pids[@]}"; do
    kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  server_pids=()
  server_pid=''
}

rss_kib() {
  awk -v field="${2:-VmRSS}:" '$1 == field { print $2 }' "/proc/$1/status"
}
