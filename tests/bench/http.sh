#!/usr/bin/env bash
# HTTP throughput and latency of the daemon, measured with wrk exactly as the
# original backend was (reference original-figures.md: wrk -t2 -c50 -d10s
# --latency on the same 2 cores): GET /health, then a JSON POST.
#
#   tests/bench/http.sh [SECONDS]      (default 10)
# Prints requests/s and p50/p99 for each, plus start-up time and RSS.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
cd "$here"
secs=${1:-10}
command -v wrk >/dev/null || scripts/install-deps.sh test
[ -x build/dbpecker ] || { cmake -S . -B build >/dev/null && cmake --build build -j"$(nproc)" >/dev/null; }
port=18765
tmp=$(mktemp -d)
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$tmp"' EXIT

# Start-up: launch -> first 200 from /health.
t0=$(date +%s.%N)
DBPECKER_LOG_LEVEL=error build/dbpecker --port "$port" --config config/dbpecker.yaml 2>"$tmp/log" &
pid=$!
until curl -sf "http://127.0.0.1:$port/health" >/dev/null; do sleep 0.005; done
t1=$(date +%s.%N)
startup_ms=$(echo "($t1 - $t0) * 1000" | bc -l)

cat > "$tmp/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body   = '{"type":"sysbench","threads":4,"options":{"tables":10,"tableSize":100000,"reportInterval":10}}'
wrk.headers["Content-Type"] = "application/json"
LUA

run() { # label url [script]
  local label=$1 url=$2 script=${3:-}
  local out
  if [ -n "$script" ]; then
    out=$(wrk -t2 -c50 -d"${secs}s" --latency -s "$script" "$url")
  else
    out=$(wrk -t2 -c50 -d"${secs}s" --latency "$url")
  fi
  local rps p50 p99
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p50=$(awk '$1=="50%" {print $2}' <<<"$out")
  p99=$(awk '$1=="99%" {print $2}' <<<"$out")
  printf '%-28s %10s req/s   p50 %-9s p99 %-9s\n' "$label" "$rps" "$p50" "$p99"
  grep -E 'Non-2xx|Socket errors' <<<"$out" || true
}

echo "dbpecker $(build/dbpecker --version | cut -d' ' -f2), wrk -t2 -c50 -d${secs}s --latency, $(nproc) cores"
printf 'start-up (launch -> first 200): %.1f ms\n' "$startup_ms"
run "GET /health" "http://127.0.0.1:$port/health"
run "POST /api/echo (JSON body)" "http://127.0.0.1:$port/api/echo" "$tmp/post.lua"
run "GET /metrics" "http://127.0.0.1:$port/metrics"
rss_kb=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
hwm_kb=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
echo "RSS after the runs: $((rss_kb / 1024)) MB (peak $((hwm_kb / 1024)) MB)"
echo "original (reference, same wrk options): GET /health 7.1-7.6k req/s, p50 6.5-6.9 ms, p99 8.2-9.2 ms; start-up 1.17 s; RSS 193 MB"
