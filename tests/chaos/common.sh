# shellcheck shell=bash disable=SC2119
# Sourced by tests/chaos/test_*.sh (not a test itself): the fault-tolerance
# suite of the daemon.  Each test starts the real binary ($DBP_BINARY) on the
# lab with a private data_dir and port, hurts it (signals, a full disk, a
# failing database) and then checks the machine with assert_clean.
# Exit codes: 0 pass, 1 fail, 77 skip (no root, no lab, lab unhealthy).
set -euo pipefail
bin=${DBP_BINARY:?DBP_BINARY is set by ctest (the built dbpecker)}
src=${DBP_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
lab=$(realpath -m -- "${DBPECKER_LAB_DIR:-$src/.lab}")
TEST=$(basename "$0" .sh)

# the [+s] prefix: seconds since the test began (where the time goes)
ok()   { printf '[+%3ds] ok: %s\n' "$SECONDS" "$*"; }
info() { printf '[+%3ds]   .. %s\n' "$SECONDS" "$*"; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
# fail: report, show the daemon's last log lines; the EXIT trap cleans up
fail() {
  printf 'FAIL: %s\n' "$*"
  if [ -n "${CH_TMP:-}" ] && [ -f "$CH_TMP/log" ]; then tail -n 25 "$CH_TMP/log" | sed 's/^/  log| /'; fi
  exit 1
}

[ "$(id -u)" = 0 ] || skip "needs root (netns, cgroups, tmpfs)"
{ [ -f "$lab/lab.env" ] && [ -f "$lab/nodes.yaml" ]; } || skip "no lab in $lab (scripts/lab.sh start)"
# The previous scenario may have left a node catching up (a buffer pool
# resize, a rejoin): give the lab a minute to be healthy before skipping.
lab_ok=0
for _ in $(seq 1 30); do
  "$src/scripts/lab.sh" status >/dev/null 2>&1 && { lab_ok=1; break; }
  sleep 2
done
[ "$lab_ok" = 1 ] || skip "the lab in $lab is not healthy"
# shellcheck disable=SC1091
. "$lab/lab.env"
[ "${LAB_ISOLATION:-off}" = on ] || skip "lab isolation is off (the chaos suite checks netns and cgroups)"
MYSQL=$(command -v mariadb || command -v mysql) || skip "no mariadb client"
command -v curl >/dev/null || skip "no curl"
command -v python3 >/dev/null || skip "no python3"
NNODES=${LAB_NODES:-3}
# TimeoutStopSec of config/dbpecker.service: systemd SIGKILLs after this
STOP_TIMEOUT=$(sed -n 's/^TimeoutStopSec=//p' "$src/config/dbpecker.service")
STOP_TIMEOUT=${STOP_TIMEOUT:-60}

# one fault suite on the lab at a time (tests/anomaly, tests/integration too)
exec 9>"$lab/.faults.lock"
flock -w 800 9 || skip "another fault suite holds $lab/.faults.lock"

CH_TMP=$(mktemp -d /tmp/dbp-chaos-XXXXXX)
chmod 755 "$CH_TMP"
CH_PID=           # the daemon under test
CH_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CH_URL=
CH_TOKEN=         # sent as a bearer token by api() when set
CH_CLEANUPS=()    # extra cleanup commands of the test, run first (LIFO)

# ---- the daemon --------------------------------------------------------------------

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# write_config FILE [listen [token [data_dir]]]: the lab's nodes, collector at 1 s
write_config() {
  local f=$1 listen=${2:-127.0.0.1} token=${3:-} data=${4:-$CH_TMP/data}
  {
    printf 'server:\n  listen: %s\n  port: %s\n' "$listen" "$CH_PORT"
    [ -n "$token" ] && printf '  token: "%s"\n' "$token"
    printf 'log:\n  level: info\n'
    printf 'data_dir: %s\n' "$data"
    printf 'database:\n  catalog: mariadb\n  catalog_dir: %s/config/catalog\n' "$src"
    printf '  user: dbpecker\n  password_file: %s/secrets/dbpecker.password\n' "$lab"
    printf '  nodes_file: %s/nodes.yaml\n' "$lab"
    printf 'collector:\n  interval_ms: 1000\n'
    printf 'workload:\n  lua_dir: %s/scripts/lua\n  user: bench\n  password_file: %s/secrets/bench.password\n' "$src" "$lab"
    printf 'anomaly:\n  executor: local\n'
  } > "$f"
}

# start_daemon [config]: start, wait for /health (on 127.0.0.1 unless
# CH_HEALTH_URL is set); sets CH_PID
start_daemon() {
  local cfg=${1:-$CH_TMP/c.yaml}
  [ -n "$CH_PORT" ] || CH_PORT=$(free_port)
  CH_URL=${CH_URL:-http://127.0.0.1:$CH_PORT}
  [ -f "$cfg" ] || write_config "$cfg"
  "$bin" --config "$cfg" >>"$CH_TMP/log" 2>&1 &
  CH_PID=$!
  local h=${CH_HEALTH_URL:-$CH_URL}
  for _ in $(seq 1 300); do
    curl -sf -m 2 "$h/health" >/dev/null 2>&1 && return 0
    kill -0 "$CH_PID" 2>/dev/null || { CH_PID=; fail "the daemon exited at start-up"; }
    sleep 0.1
  done
  fail "the daemon did not answer /health within 30 s"
}

# wait_collected: the collector has a first sample of every node
wait_collected() {
  local n
  for _ in $(seq 1 150); do
    n=$(api GET /api/metrics/nodes | python3 -c '
import json,sys
d=json.load(sys.stdin); print(sum(1 for x in d["nodes"] if x["state"] == "up"))' 2>/dev/null || echo 0)
    [ "$n" = "$NNODES" ] && return 0
    sleep 0.2
  done
  fail "the collector did not see all $NNODES nodes up within 30 s"
}

# stop_like_systemd SIGNAL: send it, wait up to TimeoutStopSec for the exit,
# then SIGKILL as systemd would.  Sets STOP_S (seconds to exit) and
# STOP_KILLED (1 when the timeout ran out); prints the time.
stop_like_systemd() {
  local sig=${1:-TERM} t0 t1 p=$CH_PID
  STOP_KILLED=0
  t0=$(date +%s%N)
  kill "-$sig" "$p"
  while kill -0 "$p" 2>/dev/null; do
    if [ $(( ($(date +%s%N) - t0) / 1000000000 )) -ge "$STOP_TIMEOUT" ]; then
      kill -KILL "$p" 2>/dev/null || true
      STOP_KILLED=1
      break
    fi
    # a zombie is gone for systemd's purposes: reap it
    [ "$(awk '{print $3}' "/proc/$p/stat" 2>/dev/null)" = Z ] && break
    sleep 0.1
  done
  wait "$p" 2>/dev/null || true
  t1=$(date +%s%N)
  CH_PID=
  STOP_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", (b - a) / 1e9}')
  if [ "$STOP_KILLED" = 1 ]; then
    info "SIG$sig: still running after TimeoutStopSec=${STOP_TIMEOUT}s; SIGKILLed as systemd would"
  else
    info "SIG$sig: exited in ${STOP_S} s (TimeoutStopSec=${STOP_TIMEOUT})"
  fi
}

kill9() { kill -KILL "$CH_PID"; wait "$CH_PID" 2>/dev/null || true; CH_PID=; }

# api METHOD PATH [JSON]: prints the body; HTTP status in $CH_TMP/code
api() {
  local m=$1 p=$2 body=${3:-} args
  args=(-s -m 90 -o "$CH_TMP/body" -w '%{http_code}' -X "$m")
  [ -n "$CH_TOKEN" ] && args+=(-H "Authorization: Bearer $CH_TOKEN")
  # JSON always: the daemon refuses a mutating POST without it (cross-site guard)
  args+=(-H 'Content-Type: application/json')
  if [ -n "$body" ]; then args+=(-d "$body"); fi
  curl "${args[@]}" "$CH_URL$p" > "$CH_TMP/code" 2>/dev/null || echo 000 > "$CH_TMP/code"
  cat "$CH_TMP/body" 2>/dev/null || true
}
code() { cat "$CH_TMP/code"; }
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

# inject JSON: POST /api/anomaly/inject, prints the id (fails unless 2xx)
inject() {
  local out id
  out=$(api POST /api/anomaly/inject "$1")
  [ "$(code | cut -c1)" = 2 ] || fail "inject $1 -> $(code) $out"
  id=$(jget 'd["id"]' <<<"$out") || fail "inject: no id in $out"
  printf '%s\n' "$id"
}

# parts_in_place: how many fault parts are applied or half-applied, by the API
parts_in_place() {
  api GET /api/anomaly/anomalies | python3 -c '
import json,sys
d=json.load(sys.stdin)
recs=d if isinstance(d,list) else d.get("anomalies",[])
live={"applying","applied","reverting","revert_failed"}
print(sum(1 for r in recs for p in r.get("parts",[]) if p.get("status") in live))'
}

# wait_active ID: the injection is active (all parts applied)
wait_active() {
  local st
  for _ in $(seq 1 300); do
    st=$(api GET "/api/anomaly/anomalies/$1" | jget 'd["status"]' 2>/dev/null || echo '?')
    [ "$st" = active ] && return 0
    case "$st" in failed|reverted) fail "injection $1 ended '$st' before it was active: $(cat "$CH_TMP/body")" ;; esac
    sleep 0.1
  done
  fail "injection $1 not active within 30 s ($st)"
}

# ---- the machine ------------------------------------------------------------------

q() { # q N SQL (password from the 0600 client.cnf)
  local h="LAB_NODE$1_HOST" p="LAB_NODE$1_PORT"
  "$MYSQL" --defaults-extra-file="$LAB_CLIENT_CNF" -h "${!h}" -P "${!p}" --connect-timeout=5 -N -B -e "$2"
}
ns_of() { local v="LAB_NODE$1_NETNS"; printf '%s' "${!v}"; }
cg_of() { local v="LAB_NODE$1_CGROUP"; printf '%s' "${!v}"; }

tool_pids() { # stress-ng / sysbench processes on the machine
  local p c
  for p in /proc/[0-9]*; do
    c=$(cat "$p/comm" 2>/dev/null) || continue
    case "$c" in stress-ng*|sysbench) printf '%s ' "${p#/proc/}" ;; esac
  done
}
conns() { # N: sessions of the daemon's users (dbpecker, bench) on node N, but this query's
  q "$1" "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER IN ('dbpecker','bench') AND ID <> CONNECTION_ID()"
}
indexes() { # N: the secondary indexes of the sbtest tables
  q "$1" "SELECT CONCAT(TABLE_NAME,'.',INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA='sbtest' AND INDEX_NAME <> 'PRIMARY' GROUP BY TABLE_NAME, INDEX_NAME ORDER BY 1" | tr '\n' ' '
}
cgroup_limits() { # every limit file of the lab's cgroups, "file=value"
  local d f
  for d in $LAB_CGROUP_DIRS; do
    for f in cpu.cfs_quota_us blkio.throttle.read_bps_device blkio.throttle.write_bps_device \
             blkio.throttle.read_iops_device blkio.throttle.write_iops_device memory.limit_in_bytes; do
      [ -f "$d/$f" ] && printf '%s=%s;' "$d/$f" "$(tr '\n' ',' < "$d/$f")"
    done
  done
}

# baseline: what the machine looks like before the test (called once, with
# no daemon of ours running); assert_clean compares with it
baseline() {
  local n
  B_TOOLS=" $(tool_pids)"
  B_CG=$(cgroup_limits)
  for n in $(seq 1 "$NNODES"); do
    eval "B_BP$n=\$(q $n 'SELECT @@GLOBAL.innodb_buffer_pool_size')"
    eval "B_IDX$n=\$(indexes $n)"
    eval "B_CONN$n=\$(conns $n)"
    eval "B_QD$n=\$(ip netns exec $(ns_of "$n") tc qdisc show dev eth0 | tr '\n' ' ')"
  done
}

# leftovers: prints one line per thing that differs from the baseline
# (CONN_SLACK: sessions allowed beyond the baseline, e.g. a running
# daemon's collector connection)
leftovers() {
  # shellcheck disable=SC2034 # slack is read by the evals below
  local n p v ns slack=${CONN_SLACK:-0}
  for p in $(tool_pids); do
    case "$B_TOOLS " in *" $p "*) continue ;; esac
    echo "process $p ($(cat "/proc/$p/comm" 2>/dev/null)) $(tr '\0' ' ' < "/proc/$p/cmdline" 2>/dev/null | cut -c1-80)"
  done
  [ "$(cgroup_limits)" = "$B_CG" ] || echo "cgroup limits changed: $(diff <(tr ';' '\n' <<<"$B_CG") <(cgroup_limits | tr ';' '\n') | grep '^[<>]' | tr '\n' ' ')"
  for n in $(seq 1 "$NNODES"); do
    ns=$(ns_of "$n")
    v=$(ip netns exec "$ns" nft list tables 2>/dev/null | grep -E 'dbpecker' || true)
    [ -z "$v" ] || echo "node$n: nft $v in $ns"
    v=$(ip netns exec "$ns" tc qdisc show dev eth0 | tr '\n' ' ')
    eval "[ \"\$v\" = \"\$B_QD$n\" ]" || echo "node$n: qdisc on eth0 is '$v'"
    v=$(q "$n" 'SELECT @@GLOBAL.innodb_buffer_pool_size' 2>/dev/null || echo '?')
    eval "[ \"\$v\" = \"\$B_BP$n\" ]" || eval "echo \"node$n: innodb_buffer_pool_size \$v, was \$B_BP$n\""
    v=$(indexes "$n" 2>/dev/null || echo '?')
    eval "[ \"\$v\" = \"\$B_IDX$n\" ]" || echo "node$n: sbtest indexes now: $v"
    v=$(conns "$n" 2>/dev/null || echo 999999)
    eval "[ \"\$v\" -le \$((B_CONN$n + slack)) ]" || eval "echo \"node$n: \$v client sessions, \$B_CONN$n before\""
  done
}

# assert_clean WHAT: nothing of a fault left (polls for up to 10 s: sessions
# and killed processes take a moment to disappear)
assert_clean() {
  local left end=$((SECONDS + 10))
  while :; do
    left=$(leftovers)
    [ -z "$left" ] && { ok "clean after $1 (no stress-ng/sysbench, nft table, qdisc, index, session, cgroup limit; buffer pool restored)"; return 0; }
    [ "$SECONDS" -ge "$end" ] && break
    sleep 0.5
  done
  printf '%s\n' "$left" | sed 's/^/  left| /'
  bad "$1: the machine is not clean"
  return 1
}

# bad WHAT: a failed check; the test goes on to its other scenarios (more
# evidence per run) and finish exits 1.  recover puts the lab back first.
CH_BAD=()
bad() { printf '[+%3ds] FAIL: %s\n' "$SECONDS" "$*"; CH_BAD+=("$*"); }
recover() {
  info "recovering: journal replay, then removing what is left"
  replay_journal
  if [ -n "$(leftovers 2>/dev/null)" ]; then scrub_lab; fi
}
finish() {
  if [ "${#CH_BAD[@]}" -gt 0 ]; then
    printf 'FAILED %s: %d check(s):\n' "$TEST" "${#CH_BAD[@]}"
    printf '  - %s\n' "${CH_BAD[@]}"
    if [ -f "$CH_TMP/log" ]; then tail -n 25 "$CH_TMP/log" | sed 's/^/  log| /'; fi
    exit 1
  fi
  echo "PASS: $TEST"
}

# ---- cleanup: never leave the lab with a fault ------------------------------------

# replay_journal: start a daemon on the data_dir once, so its journal replay
# reverts whatever a failed run left, then stop it
replay_journal() {
  [ -d "$CH_TMP/data/anomaly" ] || return 0
  ls "$CH_TMP/data/anomaly/"*.json >/dev/null 2>&1 || return 0
  local cfg=$CH_TMP/replay.yaml
  CH_PORT=$(free_port)
  write_config "$cfg" 127.0.0.1 "" "$CH_TMP/data"
  "$bin" --config "$cfg" >>"$CH_TMP/log" 2>&1 &
  local p=$!
  for _ in $(seq 1 150); do curl -sf -m 2 "http://127.0.0.1:$CH_PORT/health" >/dev/null 2>&1 && break; sleep 0.2; done
  sleep 3
  kill -TERM "$p" 2>/dev/null || true
  for _ in $(seq 1 900); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

chaos_cleanup() {
  local rc=$? i
  set +e
  for (( i=${#CH_CLEANUPS[@]}-1; i>=0; i-- )); do eval "${CH_CLEANUPS[$i]}"; done
  if [ -n "$CH_PID" ] && kill -0 "$CH_PID" 2>/dev/null; then
    kill -TERM "$CH_PID"
    for _ in $(seq 1 900); do kill -0 "$CH_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CH_PID" 2>/dev/null
    wait "$CH_PID" 2>/dev/null
  fi
  CH_TOKEN=
  replay_journal
  # last resort, so a broken daemon cannot leave the shared lab broken
  local left=
  [ -n "${B_CG+x}" ] && left=$(leftovers 2>/dev/null)
  if [ -n "$left" ]; then
    echo "cleanup: removing what the daemon left:"; printf '%s\n' "$left" | sed 's/^/  /'
    scrub_lab
  fi
  if mountpoint -q "$CH_TMP/data" 2>/dev/null; then umount "$CH_TMP/data"; fi
  if [ -n "${CHAOS_KEEP:-}" ]; then echo "kept $CH_TMP"; else rm -rf "$CH_TMP"; fi
  exit "$rc"
}
trap chaos_cleanup EXIT
trap 'exit 130' INT TERM

scrub_lab() {
  local n p ns t
  for p in $(tool_pids); do case "$B_TOOLS " in *" $p "*) ;; *) kill -KILL "$p" 2>/dev/null ;; esac; done
  for n in $(seq 1 "$NNODES"); do
    ns=$(ns_of "$n")
    for t in $(ip netns exec "$ns" nft list tables 2>/dev/null | awk '/dbpecker/ {print $2 " " $3}' | tr ' ' ':'); do
      ip netns exec "$ns" nft delete table "${t%%:*}" "${t#*:}"
    done
    ip netns exec "$ns" tc qdisc show dev eth0 | grep -q 'qdisc tbf' && ip netns exec "$ns" tc qdisc del dev eth0 root
    eval "q $n \"SET GLOBAL innodb_buffer_pool_size = \$B_BP$n\"" 2>/dev/null
    for t in $(q "$n" "SELECT CONCAT(TABLE_NAME,'.',INDEX_NAME) FROM information_schema.STATISTICS WHERE TABLE_SCHEMA='sbtest' AND INDEX_NAME LIKE 'dbpf\\_%' GROUP BY 1" 2>/dev/null); do
      q "$n" "DROP INDEX \`${t#*.}\` ON sbtest.\`${t%%.*}\`" 2>/dev/null
    done
  done
  for t in $(tr ';' '\n' <<<"$B_CG"); do
    case "$t" in *cfs_quota_us=*) echo "${t#*=}" | tr -d ',' > "${t%%=*}" 2>/dev/null ;; esac
  done
}
