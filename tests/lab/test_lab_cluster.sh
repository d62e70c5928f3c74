#!/usr/bin/env bash
# The lab comes up as a 3-node Galera cluster: status OK, 3 nodes Synced,
# a write on node 1 is readable on node 3, users and databases exist,
# secrets are private, Prometheus is ready and follows scrape-target, and a
# node can be stopped and restarted (it rejoins and catches up).
# shellcheck disable=SC2119,SC2016,SC2009
# shellcheck source=tests/lab/common.sh
. "$(dirname "$0")/common.sh"
[ "$(id -u)" = 0 ] || [ -w "$(dirname "$LAB")" ] || skip "cannot write the lab folder $LAB"
trap restore_lab EXIT

t0=$(date +%s)
lab_start
ok "scripts/lab.sh start ($(( $(date +%s) - t0 ))s)"
load_env

out=$("$LAB_SH" status 2>&1) || { printf '%s\n' "$out"; fail "status exited non-zero"; }
printf '%s\n' "$out" | sed 's/^/  | /'
[ "$(grep -c 'wsrep_cluster_size=3 .*wsrep_local_state_comment=Synced' <<< "$out")" = 3 ] ||
  fail "status does not show 3 Synced nodes with wsrep_cluster_size=3"
grep -q '^prometheus: up' <<< "$out" || fail "status does not show prometheus up"
grep -q '^faults available: ' <<< "$out" || fail "status does not list the available fault types"
ok "status: 3 nodes Synced, wsrep_cluster_size=3, prometheus up, fault types listed"

json=$("$LAB_SH" status --json) || fail "status --json exited non-zero"
grep -q '"ok":true' <<< "$json" || fail "status --json has no \"ok\":true"
if command -v jq >/dev/null 2>&1; then
  [ "$(jq '[.nodes[] | select(.wsrep_local_state_comment=="Synced" and .wsrep_cluster_size==3)] | length' <<< "$json")" = 3 ] ||
    fail "status --json: not 3 synced nodes"
  jq -e '.prometheus.ready and (.faults.available | length > 0)' <<< "$json" >/dev/null || fail "status --json: prometheus/faults"
fi
ok "status --json is valid and healthy"

for n in 1 2 3; do
  s=$(q "$n" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_LOCAL_STATE_COMMENT'") ||
    fail "node$n not reachable over TCP at $(node_host "$n"):$(node_port "$n")"
  [ "$s" = Synced ] || fail "node$n is $s"
  c=$(q "$n" "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_SIZE'")
  [ "$c" = 3 ] || fail "node$n sees cluster size $c"
done
ok "each node answers over TCP as dbpecker: Synced, wsrep_cluster_size=3"

token="w$(date +%s%N)"
q 1 "CREATE TABLE IF NOT EXISTS sbtest.lab_check (id VARCHAR(40) PRIMARY KEY, node VARCHAR(10)); INSERT INTO sbtest.lab_check VALUES ('$token','node1')" ||
  fail "write on node1"
got=$(q 3 "SET SESSION wsrep_sync_wait=1; SELECT node FROM sbtest.lab_check WHERE id='$token'")
[ "$got" = node1 ] || fail "row written on node1 not readable on node3 (got '$got')"
ok "a write on node1 is readable on node3"

for db in sbtest tpcc tpch; do
  "$MYSQL" --defaults-extra-file="$LAB_BENCH_CNF" -h "$LAB_NODE2_HOST" -P "$LAB_NODE2_PORT" -N -B \
    -e "CREATE TABLE IF NOT EXISTS $db.bench_check (i INT PRIMARY KEY); DROP TABLE $db.bench_check" ||
    fail "bench user cannot create tables in $db"
done
if "$MYSQL" --defaults-extra-file="$LAB_BENCH_CNF" -h "$LAB_NODE2_HOST" -P "$LAB_NODE2_PORT" -N -B \
     -e "CREATE DATABASE bench_forbidden" >/dev/null 2>&1; then
  fail "bench user can create other databases"
fi
g=$(q 1 "SHOW GRANTS FOR 'dbpecker'@'%'")
grep -q 'ALL PRIVILEGES ON \*\.\* TO `dbpecker`@`%`.*WITH GRANT OPTION' <<< "$g" || fail "dbpecker grants: $g"
ok "users: bench limited to sbtest/tpcc/tpch, dbpecker has ALL WITH GRANT OPTION"

[ "$(stat -c %a "$LAB/secrets")" = 700 ] || fail "secrets dir is not 0700"
for f in dbpecker.password bench.password client.cnf bench.cnf; do
  [ -f "$LAB/secrets/$f" ] || fail "missing secrets/$f"
  [ "$(stat -c %a "$LAB/secrets/$f")" = 600 ] || fail "secrets/$f is not 0600"
done
[ "$(tail -c1 "$LAB/secrets/dbpecker.password" | od -An -c | tr -d ' ')" != '\n' ] || fail "dbpecker.password ends with a newline"
pw=$(cat "$LAB/secrets/dbpecker.password"); bpw=$(cat "$LAB/secrets/bench.password")
if ps -eo args | grep -F -e "$pw" -e "$bpw" | grep -v grep >/dev/null; then fail "a password appears in a process command line"; fi
ok "secrets: dir 0700, files 0600, no trailing newline, no password in any command line"

[ "$(grep -c '^- name: node' "$LAB/nodes.yaml")" = 3 ] || fail "nodes.yaml does not list 3 nodes"
for k in host port datadir pid_file netns iface cgroup; do
  [ "$(grep -c "^  $k: " "$LAB/nodes.yaml")" = 3 ] || fail "nodes.yaml: key $k missing"
done
ok "nodes.yaml lists 3 nodes with all keys"

prom=$LAB_PROM_URL
curl -fsS -m 3 "$prom/-/ready" >/dev/null || fail "Prometheus $prom/-/ready"
grep -q 'scrape_interval: 5s' "$LAB/prometheus/prometheus.yml" || fail "scrape_interval is not 5s"
old=$(sed -n 's/.*"targets": *\["\([^"]*\)".*/\1/p' "$LAB_PROM_TARGETS")
"$LAB_SH" scrape-target 127.0.0.1:18997 2>/dev/null || fail "scrape-target"
seen=0
for _ in $(seq 1 40); do
  if curl -fsS -m 3 "$prom/api/v1/targets" | grep -q '127.0.0.1:18997'; then seen=1; break; fi
  sleep 0.5
done
"$LAB_SH" scrape-target "${old:-127.0.0.1:8000}" 2>/dev/null
[ "$seen" = 1 ] || fail "Prometheus did not pick up the new scrape target"
ok "Prometheus ready at $prom (5 s scrape), scrape-target rewrites targets.json and is picked up"

t1=$(date +%s)
"$LAB_SH" node-stop 2 2>/dev/null || fail "node-stop 2"
c=$(q 1 "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME='WSREP_CLUSTER_SIZE'")
[ "$c" = 2 ] || fail "after node-stop 2, node1 sees cluster size $c"
if "$LAB_SH" status >/dev/null 2>&1; then fail "status exits 0 with node2 down"; fi
token2="r$(date +%s%N)"
q 1 "INSERT INTO sbtest.lab_check VALUES ('$token2','node1')" || fail "write with node2 down"
"$LAB_SH" node-start 2 >/dev/null 2>&1 || fail "node-start 2"
got=$(q 2 "SET SESSION wsrep_sync_wait=1; SELECT node FROM sbtest.lab_check WHERE id='$token2'")
[ "$got" = node1 ] || fail "node2 did not catch up after rejoining"
"$LAB_SH" status >/dev/null 2>&1 || fail "status not OK after node-start 2"
ok "node-stop 2 / node-start 2: cluster went to 2, node2 rejoined and caught up ($(( $(date +%s) - t1 ))s)"

t1=$(date +%s)
lab_start
[ $(( $(date +%s) - t1 )) -le 10 ] || fail "start on a running lab took more than 10 s"
ok "start on a running lab is a quick no-op ($(( $(date +%s) - t1 ))s)"
q 1 "DROP TABLE IF EXISTS sbtest.lab_check" || true
echo "PASS: test_lab_cluster"
