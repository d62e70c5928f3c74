#!/usr/bin/env bash
# Fault isolation: a fault put on one node's network namespace or cgroup
# hits that node only.
#   - tc tbf in dbp-node2: node2's query latency rises, node1's does not
#   - nftables drop in dbp-node2: node2's connections fail, node1's succeed
#   - cpu.cfs_quota_us on node3's cgroup: a CPU-bound query slows on node3 only
#   - stress-ng started in node3's cgroup (lab.sh exec): same
#   - blkio write IOPS throttle on node2's cgroup: node2's commits slow only
# Measured with the mariadb client over TCP from the root namespace.
# Skips (77) when the lab runs without isolation (not root, no netns/cgroups).
# shellcheck disable=SC2119,SC2015
# shellcheck source=tests/lab/common.sh
. "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || skip "isolation needs root"
trap 'cleanup_faults; restore_lab' EXIT

NS2=dbp-node2
cleanup_faults() {
  ip netns exec "$NS2" tc qdisc del dev eth0 root >/dev/null 2>&1 || true
  ip netns exec "$NS2" nft delete table inet dbpecker_fault >/dev/null 2>&1 || true
  if [ -n "${CPU3:-}" ] && [ -f "$CPU3/cpu.cfs_quota_us" ]; then echo -1 > "$CPU3/cpu.cfs_quota_us" 2>/dev/null || true; fi
  if [ -n "${LAB_DATA_BLKDEV:-}" ] && [ -f /sys/fs/cgroup/blkio/dbpecker-lab/node2/blkio.throttle.write_iops_device ]; then
    echo "$LAB_DATA_BLKDEV 0" > /sys/fs/cgroup/blkio/dbpecker-lab/node2/blkio.throttle.write_iops_device 2>/dev/null || true
  fi
  if [ -n "${STRESS_PID:-}" ]; then kill "$STRESS_PID" 2>/dev/null || true; wait "$STRESS_PID" 2>/dev/null || true; fi
}

lab_start
load_env
[ "$LAB_ISOLATION" = on ] || skip "lab isolation is off (${LAB_ISOLATION_REASON:-})"
ok "lab running with isolation on"

# ---- network: tbf on node2 -------------------------------------------------
BIG="SELECT REPEAT('x', 100000)"
b1=$(median_ms 1 3 "$BIG"); b2=$(median_ms 2 3 "$BIG")
info "baseline 100 kB result: node1 ${b1} ms, node2 ${b2} ms"
[ "$b1" -ge 0 ] && [ "$b2" -ge 0 ] || fail "baseline queries failed"
ip netns exec "$NS2" tc qdisc add dev eth0 root tbf rate 1mbit burst 32kb latency 400ms ||
  fail "tc tbf in $NS2"
f1=$(median_ms 1 3 "$BIG"); f2=$(median_ms 2 3 "$BIG")
ip netns exec "$NS2" tc qdisc del dev eth0 root
info "with tbf 1mbit on $NS2/eth0: node1 ${f1} ms, node2 ${f2} ms"
[ "$f2" -ge 300 ] && [ "$f2" -ge $(( 5 * b2 + 50 )) ] || fail "tbf did not slow node2 (${b2} -> ${f2} ms)"
[ "$f1" -ge 0 ] && [ "$f1" -le $(( 3 * b1 + 100 )) ] || fail "tbf on node2 slowed node1 (${b1} -> ${f1} ms)"
ok "tc tbf in $NS2 slows node2 only (node2 ${b2}->${f2} ms, node1 ${b1}->${f1} ms)"

# ---- network: nftables drop in node2's namespace -----------------------------
ip netns exec "$NS2" nft add table inet dbpecker_fault &&
ip netns exec "$NS2" nft 'add chain inet dbpecker_fault out { type filter hook output priority 0; }' &&
ip netns exec "$NS2" nft 'add rule inet dbpecker_fault out tcp sport 3306 drop' ||
  fail "nftables rule in $NS2"
e1=0; e2=0
for _ in 1 2 3; do
  "$MYSQL" --defaults-extra-file="$LAB_CLIENT_CNF" -h "$LAB_NODE1_HOST" -P "$LAB_NODE1_PORT" --connect-timeout=2 \
    -N -B -e 'SELECT 1' >/dev/null 2>&1 || e1=$((e1 + 1))
  "$MYSQL" --defaults-extra-file="$LAB_CLIENT_CNF" -h "$LAB_NODE2_HOST" -P "$LAB_NODE2_PORT" --connect-timeout=2 \
    -N -B -e 'SELECT 1' >/dev/null 2>&1 || e2=$((e2 + 1))
done
ip netns exec "$NS2" nft delete table inet dbpecker_fault
info "with nft drop (tcp sport 3306) in $NS2: errors node1 $e1/3, node2 $e2/3"
[ "$e2" = 3 ] || fail "nftables drop in $NS2 did not make node2 fail ($e2/3 errors)"
[ "$e1" = 0 ] || fail "nftables drop in $NS2 made node1 fail ($e1/3 errors)"
q 2 'SELECT 1' >/dev/null || fail "node2 not reachable after removing the nft table"
ok "nftables drop in $NS2 breaks node2 only, and node2 is back after the rule is removed"

# ---- CPU: quota on node3's cgroup ------------------------------------------
CPU3=
for d in /sys/fs/cgroup/cpu/dbpecker-lab/node3 /sys/fs/cgroup/cpu,cpuacct/dbpecker-lab/node3; do
  [ -f "$d/cpu.cfs_quota_us" ] && CPU3=$d
done
[ -n "$CPU3" ] || fail "no cgroup v1 cpu dir for node3 (LAB_CGROUP_DIRS=$LAB_CGROUP_DIRS)"
grep -qx "$(cat "$LAB/node3/mariadbd.pid")" "$CPU3/cgroup.procs" || fail "node3's mariadbd is not in $CPU3"
CPUQ="SELECT BENCHMARK(1000000, MD5('dbpecker'))"
c1=$(median_ms 1 3 "$CPUQ"); c3=$(median_ms 3 3 "$CPUQ")
info "baseline BENCHMARK: node1 ${c1} ms, node3 ${c3} ms"
echo 10000 > "$CPU3/cpu.cfs_quota_us"
q1=$(median_ms 1 3 "$CPUQ"); q3=$(median_ms 3 1 "$CPUQ")
echo -1 > "$CPU3/cpu.cfs_quota_us"
info "with cpu.cfs_quota_us=10000 (10% of a CPU) on node3: node1 ${q1} ms, node3 ${q3} ms"
[ "$q3" -ge $(( 3 * c3 )) ] || fail "CPU quota did not slow node3 (${c3} -> ${q3} ms)"
[ "$q1" -le $(( 2 * c1 + 100 )) ] || fail "CPU quota on node3 slowed node1 (${c1} -> ${q1} ms)"
ok "cpu.cfs_quota_us on node3's cgroup slows node3 only (node3 ${c3}->${q3} ms, node1 ${c1}->${q1} ms)"

# ---- CPU: stress-ng confined to node3's cgroups -----------------------------
# node3's query shares node3's CPU share with 4 hogs; node1 keeps its own
# share.  The machine may be busy with other work: up to 2 attempts.
stress_ok=0
for attempt in 1 2; do
  c1=$(median_ms 1 3 "$CPUQ"); c3=$(median_ms 3 3 "$CPUQ")
  "$LAB_SH" exec 3 -- stress-ng --cpu 4 --timeout 30s >/dev/null 2>&1 &
  STRESS_PID=$!
  sleep 1
  grep -qx "$STRESS_PID" "$CPU3/cgroup.procs" || fail "stress-ng is not in node3's cgroup"
  s1=$(median_ms 1 3 "$CPUQ"); s3=$(median_ms 3 3 "$CPUQ")
  kill "$STRESS_PID" 2>/dev/null || true; wait "$STRESS_PID" 2>/dev/null || true; STRESS_PID=
  info "attempt $attempt: baseline node1 ${c1} ms, node3 ${c3} ms; with stress-ng --cpu 4 in node3's cgroup: node1 ${s1} ms, node3 ${s3} ms"
  r1=$(( s1 * 100 / (c1 > 0 ? c1 : 1) )); r3=$(( s3 * 100 / (c3 > 0 ? c3 : 1) ))
  if [ "$r3" -ge 150 ] && [ "$r3" -ge $(( r1 * 3 / 2 )) ]; then stress_ok=1; break; fi
done
[ "$stress_ok" = 1 ] || fail "stress-ng in node3's cgroup did not slow node3 clearly more than node1 (node1 x${r1}%, node3 x${r3}%)"
ok "stress-ng in node3's cgroup slows node3 (${c3}->${s3} ms) much more than node1 (${c1}->${s1} ms)"

# ---- IO: blkio write IOPS throttle on node2's cgroup -------------------------
BLK2=/sys/fs/cgroup/blkio/dbpecker-lab/node2
if [ -f "$BLK2/blkio.throttle.write_iops_device" ] && [ -n "${LAB_DATA_BLKDEV:-}" ]; then
  q 1 "CREATE TABLE IF NOT EXISTS sbtest.lab_io_check (i INT AUTO_INCREMENT PRIMARY KEY, v CHAR(10))" || fail "create lab_io_check"
  W="INSERT INTO sbtest.lab_io_check (v) VALUES ('a'); INSERT INTO sbtest.lab_io_check (v) VALUES ('b'); INSERT INTO sbtest.lab_io_check (v) VALUES ('c'); INSERT INTO sbtest.lab_io_check (v) VALUES ('d')"
  w1=$(median_ms 1 3 "$W"); w2=$(median_ms 2 3 "$W")
  echo "$LAB_DATA_BLKDEV 10" > "$BLK2/blkio.throttle.write_iops_device"
  x1=$(median_ms 1 3 "$W"); x2=$(median_ms 2 3 "$W")
  echo "$LAB_DATA_BLKDEV 0" > "$BLK2/blkio.throttle.write_iops_device"
  q 1 "DROP TABLE IF EXISTS sbtest.lab_io_check" || true
  info "4 autocommit inserts: baseline node1 ${w1} ms, node2 ${w2} ms; with 10 write IOPS on node2's blkio: node1 ${x1} ms, node2 ${x2} ms"
  [ "$x2" -ge $(( 3 * w2 + 100 )) ] || fail "blkio throttle did not slow node2's commits (${w2} -> ${x2} ms)"
  [ "$x1" -le $(( 3 * w1 + 100 )) ] || fail "blkio throttle on node2 slowed node1's commits (${w1} -> ${x1} ms)"
  ok "blkio write IOPS throttle on node2's cgroup slows node2's commits only (node2 ${w2}->${x2} ms, node1 ${w1}->${x1} ms)"
else
  info "no blkio throttle files or data disk unknown: IO check not run"
fi

"$LAB_SH" status >/dev/null 2>&1 || fail "lab not healthy after the fault tests"
ok "faults removed, lab healthy"
echo "PASS: test_lab_isolation"
