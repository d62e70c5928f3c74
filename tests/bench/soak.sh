#!/usr/bin/env bash
# Soak: does the daemon leak under a long mixed load?  For DURATION seconds
# (default 1800) it runs, all at once:
#   - wrk on the read routes (GET /health, /api/metrics, /api/anomaly/active,
#     /metrics), paced by a per-request delay so the 2 cores stay usable;
#   - the collector every second on every node of the lab;
#   - a sysbench load started through POST /api/workload/start;
#   - a fault every FAULT_EVERY seconds (default 60), injected through the API
#     with a duration shorter than the period, so each one expires by itself.
# Every SAMPLE seconds (default 60) it reads the daemon's RSS, open fds and
# threads from /proc, then prints the table and the least-squares slope per
# hour of each.  Expected: flat (no leak of memory, fds or threads).
#
# Not run by ctest.  It needs a running lab; only SQL faults and
# workload_surge are used, so a loopback lab (no isolation, no root) works:
#   DBPECKER_LAB_DIR=/work/lab-soak DBPECKER_LAB_ISOLATION=off \
#     DBPECKER_PROM_PORT=19190 scripts/lab.sh start
#   DBPECKER_LAB_DIR=/work/lab-soak DURATION=1800 tests/bench/soak.sh
#   DBPECKER_LAB_DIR=/work/lab-soak scripts/lab.sh stop
# Environment: DBP_BINARY (default build/dbpecker), DURATION, SAMPLE,
# FAULT_EVERY, FAULT_DURATION (default 30), SOAK_PORT (default a free one),
# SOAK_WRK_CONNS (default 4), SOAK_WRK_DELAY_MS (default 5: at most
# 1000/5 requests/s per connection), SOAK_THREADS (sysbench, default 2),
# SOAK_WARMUP (default 900 s: the collector's ring, collector.history_points
# = 720 samples at 1 s, is still being filled before that, so the daemon's
# memory grows by design; the steady slope is fitted after it).
# sysbench stops at the first error it does not ignore (a lock wait timeout
# of lock_contention, a DDL of too_many_indexes): the soak then starts it
# again, so the load never stops, and counts the restarts.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin=${DBP_BINARY:-$here/build/dbpecker}
lab=$(realpath -m -- "${DBPECKER_LAB_DIR:-$here/.lab}")
DURATION=${DURATION:-1800}
SAMPLE=${SAMPLE:-60}
FAULT_EVERY=${FAULT_EVERY:-60}
FAULT_DURATION=${FAULT_DURATION:-30}
conns=${SOAK_WRK_CONNS:-4}
delay_ms=${SOAK_WRK_DELAY_MS:-5}
sb_threads=${SOAK_THREADS:-2}
die() { echo "soak: $*" >&2; exit 1; }
[ -x "$bin" ] || die "no daemon binary $bin (build first, or set DBP_BINARY)"
[ -f "$lab/nodes.yaml" ] || die "no lab in $lab (scripts/lab.sh start, see the header)"
command -v wrk >/dev/null || die "wrk is not installed (scripts/install-deps.sh test)"
command -v python3 >/dev/null || die "python3 is required"
port=${SOAK_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}
url=http://127.0.0.1:$port
tmp=$(mktemp -d /tmp/dbp-soak-XXXXXX)
pid='' wrk_pid='' wl_id=''

cleanup() {
  [ -n "$wrk_pid" ] && kill "$wrk_pid" 2>/dev/null && wait "$wrk_pid" 2>/dev/null
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    [ -n "$wl_id" ] && curl -s -m 20 -XPOST -H 'Content-Type: application/json' "$url/api/workload/$wl_id/stop" >/dev/null
    curl -s -m 30 -XPOST -H 'Content-Type: application/json' "$url/api/anomaly/stop-all" >/dev/null
    # SIGTERM reverts whatever is still injected before the daemon exits
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  [ -n "${SOAK_KEEP:-}" ] && { echo "soak: kept $tmp"; return 0; }
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat > "$tmp/dbpecker.yaml" <<EOF
server: {listen: 127.0.0.1, port: $port}
log: {level: warn}
data_dir: $tmp/data
database:
  catalog: mariadb
  catalog_dir: $here/config/catalog
  user: dbpecker
  password_file: $lab/secrets/dbpecker.password
  nodes_file: $lab/nodes.yaml
collector:
  interval_ms: 1000
workload:
  lua_dir: $here/scripts/lua
  user: bench
  password_file: $lab/secrets/bench.password
anomaly:
  executor: local
EOF
"$bin" --config "$tmp/dbpecker.yaml" > "$tmp/daemon.log" 2>&1 &
pid=$!
for _ in $(seq 1 200); do curl -sf "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -sf "$url/health" >/dev/null || { cat "$tmp/daemon.log" >&2; die "the daemon did not start"; }

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
post() { curl -s -m 60 -XPOST -H 'Content-Type: application/json' -d "$2" "$url$1"; }

# sysbench tables (small: the point is a steady load, not a benchmark)
sb_opts='"tables":2,"tableSize":10000'
job=$(post /api/workload/prepare "{\"type\":\"sysbench\",\"threads\":2,\"options\":{$sb_opts,\"force\":true}}" | json 'd["job_id"]') ||
  die "workload prepare refused"
for _ in $(seq 1 300); do
  st=$(curl -s "$url/api/jobs/$job" | json 'd["status"]')
  case "$st" in succeeded|done|completed) break ;; failed|cancelled) die "prepare job $job $st" ;; esac
  sleep 1
done
wl_start() {
  local resp
  resp=$(post /api/workload/start "{\"type\":\"sysbench\",\"threads\":$sb_threads,\"options\":{\"script\":\"oltp_read_write\",$sb_opts,\"reportInterval\":10,\"time\":0}}")
  wl_id=$(json 'd["workload_id"]' <<<"$resp") || die "workload start: $resp"
}
wl_start
wl_first=$wl_id wl_restarts=0 wl_last_end=''

cat > "$tmp/routes.lua" <<LUA
local paths = {"/health", "/api/metrics", "/api/anomaly/active", "/metrics"}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
delay = function() return $delay_ms end
LUA
# wrk runs a little longer than the soak, so the last sample still sees its
# connections (the daemon has a thread per connection)
wrk -t1 -c"$conns" -d"$((DURATION + 30))s" --latency -s "$tmp/routes.lua" "$url" > "$tmp/wrk.out" 2>&1 &
wrk_pid=$!

faults=(cache_bottleneck too_many_indexes lock_contention connection_storm workload_surge)
nnodes=$(grep -c '^ *- *name:' "$lab/nodes.yaml" || true)
[ "$nnodes" -ge 1 ] || nnodes=1
sample() { # t
  local st=/proc/$pid/status
  printf '%s %s %s %s\n' "$1" "$(awk '/^VmRSS/ {print $2}' "$st")" \
    "$(find "/proc/$pid/fd" -mindepth 1 -maxdepth 1 2>/dev/null | wc -l)" \
    "$(awk '/^Threads/ {print $2}' "$st")" >> "$tmp/samples"
}

echo "soak: dbpecker $("$bin" --version | cut -d' ' -f2) on $url, lab $lab ($nnodes nodes), ${DURATION}s;" \
  "wrk -c$conns with ${delay_ms} ms between requests; sysbench $wl_id ($sb_threads threads);" \
  "a fault every ${FAULT_EVERY}s for ${FAULT_DURATION}s; samples every ${SAMPLE}s"
t0=$(date +%s)
next_sample=0 next_fault=5 k=0 inj_ok=0 inj_bad=0
sample 0
while :; do
  now=$(( $(date +%s) - t0 ))
  [ "$now" -ge "$DURATION" ] && break
  kill -0 "$pid" 2>/dev/null || { tail -30 "$tmp/daemon.log" >&2; die "the daemon died at t=${now}s"; }
  if [ "$now" -ge "$next_fault" ]; then
    type=${faults[$((k % ${#faults[@]}))]}
    node=node$(( k % nnodes + 1 ))
    code=$(curl -s -m 60 -o "$tmp/inject.out" -w '%{http_code}' -XPOST -H 'Content-Type: application/json' \
      -d "{\"type\":\"$type\",\"target_node\":\"$node\",\"severity\":\"low\",\"duration\":$FAULT_DURATION}" \
      "$url/api/anomaly/inject") || code=000
    if [ "${code:0:1}" = 2 ]; then inj_ok=$((inj_ok + 1)); else
      inj_bad=$((inj_bad + 1)); echo "soak: t=${now}s inject $type on $node -> $code $(head -c 300 "$tmp/inject.out")"; fi
    k=$((k + 1)); next_fault=$((next_fault + FAULT_EVERY))
  fi
  if [ $((now % 10)) = 0 ]; then
    st=$(curl -s -m 20 "$url/api/workload/$wl_id/status?lines=3" | json 'd.get("status")' 2>/dev/null || echo '?')
    if [ "$st" != running ] && [ "$st" != '?' ]; then
      wl_last_end="t=${now}s $wl_id $st: $(curl -s -m 20 "$url/api/workload/$wl_id/status?lines=3" |
        json '" | ".join(d.get("output") if isinstance(d.get("output"), list) else [str(d.get("output", ""))])' 2>/dev/null | tail -c 300)"
      wl_start; wl_restarts=$((wl_restarts + 1))
    fi
  fi
  if [ "$now" -ge "$((next_sample + SAMPLE))" ]; then
    next_sample=$((next_sample + SAMPLE)); sample "$next_sample"
  fi
  sleep 1
done
[ "$(tail -1 "$tmp/samples" | cut -d' ' -f1)" = "$DURATION" ] || sample "$DURATION"
kill -INT "$wrk_pid" 2>/dev/null || true # wrk prints its totals on SIGINT
wait "$wrk_pid" || true
wrk_pid=
wl=$(curl -s -m 20 "$url/api/workload/$wl_id/status?lines=0" | json 'd.get("status")' 2>/dev/null || echo '?')
active=$(curl -s -m 20 "$url/api/anomaly/active" |
  json '"%d %s" % (len(d["anomalies"]), " ".join("%s/%s:%s" % (a.get("type"), a.get("target_node", a.get("node")), a.get("status")) for a in d["anomalies"]))' 2>/dev/null || echo '?')

echo
echo "wrk ($(awk '/requests in/ {print $1, "requests in", $4}' "$tmp/wrk.out"))," \
  "$(awk '/Requests\/sec/ {print $2}' "$tmp/wrk.out") req/s, p50 $(awk '$1=="50%" {print $2}' "$tmp/wrk.out")," \
  "p99 $(awk '$1=="99%" {print $2}' "$tmp/wrk.out"); $(grep -E 'Non-2xx|Socket errors' "$tmp/wrk.out" | tr '\n' ' ' || true)"
echo "faults injected: $inj_ok accepted, $inj_bad refused; active at the end: $active"
echo "sysbench: $wl_first ... $wl_id, $wl_restarts restart(s), $wl at the end${wl_last_end:+; last end: $wl_last_end}"
python3 - "$tmp/samples" "${SOAK_WARMUP:-900}" <<'PY'
import sys
rows = [tuple(int(x) for x in l.split()) for l in open(sys.argv[1]) if l.strip()]
print(f"{'t (s)':>7} {'RSS (MB)':>9} {'fds':>5} {'threads':>8}")
for t, rss, fds, thr in rows:
    print(f"{t:>7} {rss/1024:>9.1f} {fds:>5} {thr:>8}")
def slope(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    return 0.0 if sxx == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx
def line(label, fit, note):
    hrs = [r[0] / 3600 for r in fit]
    print(f"{label:>7} {slope(hrs, [r[1]/1024 for r in fit]):>+9.2f} "
          f"{slope(hrs, [r[2] for r in fit]):>+5.1f} {slope(hrs, [r[3] for r in fit]):>+8.1f}"
          f"   (least squares per hour, {note})")
# the first sample is the cold start (buffers not yet at their steady size)
fit = rows[1:] if len(rows) >= 4 else rows
line("slope", fit, f"t >= {fit[0][0]} s")
warm = int(sys.argv[2])
steady = [r for r in rows if r[0] >= warm]
if len(steady) >= 3:
    line("steady", steady, f"t >= {warm} s, the collector's ring full")
print(f"{'min-max':>7} {min(r[1] for r in rows)/1024:.1f}-{max(r[1] for r in rows)/1024:.1f}"
      f" {min(r[2] for r in rows)}-{max(r[2] for r in rows)} {min(r[3] for r in rows)}-{max(r[3] for r in rows)}")
PY
