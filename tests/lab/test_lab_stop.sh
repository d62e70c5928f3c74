#!/usr/bin/env bash
# scripts/lab.sh stop leaves nothing behind: no mariadbd / prometheus /
# rsync / stress-ng of the lab, no dbp-node* namespace, no dbp-veth* or
# dbpbr0 link, no dbpecker-lab cgroup dir, no nft table of ours, no mount of
# ours; the datadirs stay and the next start is fast and keeps the data.
# shellcheck disable=SC2119
# shellcheck source=tests/lab/common.sh
. "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || [ -w "$(dirname "$LAB")" ] || skip "cannot write the lab folder $LAB"
STRESS_PID=
cleanup() {
  if [ -n "$STRESS_PID" ]; then kill "$STRESS_PID" 2>/dev/null || true; fi
  restore_lab
}
trap cleanup EXIT

# pids whose command line contains the lab folder (literal match)
lab_pids() {
  local p cmd
  for p in /proc/[0-9]*; do
    p=${p#/proc/}
    [ "$p" = "$$" ] && continue
    cmd=$(tr '\0' ' ' 2>/dev/null < "/proc/$p/cmdline") || continue
    case "$cmd" in *"$LAB/"*) printf '%s ' "$p" ;; esac
  done
}

lab_start
load_env
ok "lab started (isolation $LAB_ISOLATION)"
token="s$(date +%s%N)"
q 1 "CREATE TABLE IF NOT EXISTS sbtest.lab_stop_check (id VARCHAR(40) PRIMARY KEY); INSERT INTO sbtest.lab_stop_check VALUES ('$token')" ||
  fail "write before stop"
pids=$(for n in 1 2 3; do cat "$LAB/node$n/mariadbd.pid"; echo; done; cat "$LAB/prometheus/prometheus.pid")

if [ "$LAB_ISOLATION" = on ]; then
  # leave faults and a stray process behind on purpose: stop must clean them
  "$LAB_SH" exec 3 -- stress-ng --cpu 1 --timeout 300s >/dev/null 2>&1 &
  STRESS_PID=$!
  ip netns exec dbp-node2 tc qdisc add dev eth0 root tbf rate 10mbit burst 32kb latency 400ms
  ip netns exec dbp-node2 nft add table inet dbpecker_fault
  nft add table inet dbpecker_test_leftover
  echo 50000 > /sys/fs/cgroup/cpu/dbpecker-lab/node1/cpu.cfs_quota_us
  sleep 0.5
  info "left behind: stress-ng (pid $STRESS_PID) in node3's cgroup, tbf + nft table in dbp-node2, root nft table, cpu quota on node1"
fi

t0=$(date +%s)
"$LAB_SH" stop >/dev/null 2>&1 || fail "scripts/lab.sh stop exited non-zero"
ok "scripts/lab.sh stop ($(( $(date +%s) - t0 ))s)"

for p in $pids; do
  [ -d "/proc/$p" ] && fail "process $p ($(cat "/proc/$p/comm" 2>/dev/null)) still running"
done
if [ -n "$STRESS_PID" ] && kill -0 "$STRESS_PID" 2>/dev/null; then fail "stress-ng in node3's cgroup survived stop"; fi
left=$(lab_pids)
[ -z "$left" ] || fail "processes still referencing $LAB: $left"
ok "no mariadbd, prometheus, SST helper or stress-ng of the lab left"

if [ "$(id -u)" = 0 ]; then
  ns=$(ip netns list 2>/dev/null | grep -E '^dbp-node' || true)
  [ -z "$ns" ] || fail "namespaces left: $ns"
  ip link show dbpbr0 >/dev/null 2>&1 && fail "bridge dbpbr0 left"
  links=$(ip -o link show | grep -E 'dbp-veth' || true)
  [ -z "$links" ] || fail "veths left: $links"
  cgs=$(ls -d /sys/fs/cgroup/*/dbpecker-lab /sys/fs/cgroup/dbpecker-lab 2>/dev/null || true)
  [ -z "$cgs" ] || fail "cgroup dirs left: $cgs"
  tables=$(nft list tables 2>/dev/null | grep -E 'dbpecker|dbp_' || true)
  [ -z "$tables" ] || fail "nft tables left: $tables"
  mounts=$(grep -E 'dbp-node|dbpecker-lab' /proc/self/mountinfo || true)
  [ -z "$mounts" ] || fail "mounts left: $mounts"
  ok "no dbp-node* namespace, no dbpbr0 / dbp-veth*, no dbpecker-lab cgroup, no nft table, no mount"
fi
for n in 1 2 3; do
  [ -e "$LAB/node$n/mariadbd.sock" ] && fail "socket of node$n left"
  [ -d "$LAB/node$n/data/mysql" ] || fail "datadir of node$n was removed by stop"
done
"$LAB_SH" status >/dev/null 2>&1 && fail "status exits 0 on a stopped lab"
ok "datadirs kept, no sockets, status reports the lab down"

"$LAB_SH" stop >/dev/null 2>&1 || fail "a second stop fails"
ok "stop is idempotent"

t0=$(date +%s)
lab_start
dt=$(( $(date +%s) - t0 ))
[ "$dt" -lt 90 ] || fail "restart took ${dt}s (>= 90 s)"
"$LAB_SH" status >/dev/null 2>&1 || fail "status not OK after restart"
load_env
got=$(q 3 "SET SESSION wsrep_sync_wait=1; SELECT id FROM sbtest.lab_stop_check WHERE id='$token'")
[ "$got" = "$token" ] || fail "data written before stop is gone after restart"
if [ "$LAB_ISOLATION" = on ]; then
  [ "$(cat /sys/fs/cgroup/cpu/dbpecker-lab/node1/cpu.cfs_quota_us)" = -1 ] || fail "old cpu quota survived the restart"
  [ -z "$(ip netns exec dbp-node2 nft list tables 2>/dev/null)" ] || fail "old nft table in dbp-node2 survived"
fi
q 1 "DROP TABLE IF EXISTS sbtest.lab_stop_check" || true
ok "start after stop: healthy in ${dt}s, data kept, no old fault left"
echo "PASS: test_lab_stop"
