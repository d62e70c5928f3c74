#!/usr/bin/env bash
# The real binary on the lab: faults survive SIGHUP (the registry is kept),
# a daemon killed with SIGKILL leaves its faults in place and reverts them at
# its next start (the journal), and SIGTERM reverts before exiting.
# Checked on node3: stress-ng in its cgroup, the nftables table and the tbf
# qdisc in its netns, the idle connections of a connection storm.
# Skipped (77) without the lab, without root, or with isolation off.
set -euo pipefail
bin=${DBP_BINARY:?}
src=${DBP_SOURCE_DIR:?}
lab=$(realpath -m -- "${DBPECKER_LAB_DIR:-$src/.lab}")
skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (netns, cgroups)"
[ -f "$lab/lab.env" ] && [ -f "$lab/nodes.yaml" ] || skip "no lab (scripts/lab.sh start)"
"$src/scripts/lab.sh" status >/dev/null 2>&1 || skip "the lab is not healthy"
# shellcheck disable=SC1091
. "$lab/lab.env"
[ "${LAB_ISOLATION:-off}" = on ] || skip "lab isolation is off"
MYSQL=$(command -v mariadb || command -v mysql) || skip "no mariadb client"
# one fault suite on the lab at a time (tests/integration/it_anomaly_lab.c too)
exec 9>"$lab/.faults.lock"
flock -w 800 9 || skip "another fault suite holds $lab/.faults.lock"

tmp=$(mktemp -d)
pid=
cleanup() {
  # a failed run must not leave faults behind: a clean stop reverts them
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  if [ -f "$tmp/c.yaml" ] && ls "$tmp/data/anomaly/"*.json >/dev/null 2>&1; then
    "$bin" --config "$tmp/c.yaml" --port "$port" >>"$tmp/log" 2>&1 &
    local p=$!
    sleep 6
    kill -TERM "$p" 2>/dev/null; wait "$p" || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -25 "$tmp/log" 2>/dev/null; exit 1; }
ok() { echo "ok: $*"; }
port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"
cg_cpu=/sys/fs/cgroup/cpu/$LAB_NODE3_CGROUP
ns=$LAB_NODE3_NETNS

cat > "$tmp/c.yaml" <<YAML
data_dir: $tmp/data
database:
  catalog: mariadb
  catalog_dir: $src/config/catalog
  user: dbpecker
  password_file: $lab/secrets/dbpecker.password
  nodes_file: $lab/nodes.yaml
collector:
  interval_ms: 1000
workload:
  user: bench
  password_file: $lab/secrets/bench.password
YAML

start() {
  "$bin" --config "$tmp/c.yaml" --port "$port" >>"$tmp/log" 2>&1 &
  pid=$!
  for _ in $(seq 200); do curl -sf "$base/health" >/dev/null && return 0; sleep 0.05; done
  fail "daemon did not come up"
}
field() { python3 -c "import json,sys; d=json.load(sys.stdin); print(d$1)"; }
status_of() { curl -sf "$base/api/anomaly/anomalies/$1" | field "['status']"; }
stress_in_cgroup() { # number of stress-ng processes in node3's cpu cgroup
  local n=0 p
  while read -r p; do
    case "$(cat "/proc/$p/comm" 2>/dev/null)" in stress-ng*) n=$((n + 1)) ;; esac
  done < "$cg_cpu/cgroup.procs"
  echo "$n"
}
nft_tables() { ip netns exec "$ns" nft list tables | grep -c dbpecker_fault || true; }
tbf_count() { ip netns exec "$ns" tc qdisc show dev "$LAB_NODE3_IFACE_NAME" 2>/dev/null | grep -c tbf || true; }
LAB_NODE3_IFACE_NAME=eth0
sessions() {
  "$MYSQL" --defaults-extra-file="$LAB_CLIENT_CNF" -h "$LAB_NODE3_HOST" -P "$LAB_NODE3_PORT" -N -B \
    -e "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE USER='dbpecker'"
}

start
s0=$(sessions)
body='{"type":["cpu_stress","network_bottleneck","connection_storm"],"target_node":"node3","severity":"medium","duration":300,"experiment_name":"crash-test"}'
out=$(curl -s -XPOST -H 'Content-Type: application/json' -d "$body" "$base/api/anomaly/inject")
id=$(field "['id']" <<<"$out") || fail "inject: $out"
[ "$(status_of "$id")" = active ] || fail "not active: $out"
[ "$(stress_in_cgroup)" -ge 1 ] || fail "no stress-ng in $cg_cpu"
[ "$(nft_tables)" = 1 ] || fail "no nftables table in $ns"
[ "$(tbf_count)" = 1 ] || fail "no tbf qdisc in $ns"
[ "$(sessions)" -ge $((s0 + 100)) ] || fail "no connection storm on node3 ($(sessions) sessions)"
ok "compound fault $id applied on node3 (stress-ng in its cgroup, nft + tbf in its netns, 150 sessions)"

kill -HUP "$pid"
sleep 1
kill -0 "$pid" || fail "daemon died on SIGHUP"
[ "$(status_of "$id")" = active ] || fail "SIGHUP changed the fault's status"
[ "$(stress_in_cgroup)" -ge 1 ] && [ "$(nft_tables)" = 1 ] || fail "SIGHUP removed the fault"
ok "SIGHUP keeps the registry and the fault"

kill -9 "$pid"
wait "$pid" 2>/dev/null || true
pid=
sleep 1
[ "$(stress_in_cgroup)" -ge 1 ] || fail "stress-ng did not outlive the daemon (nothing to recover)"
[ "$(nft_tables)" = 1 ] || fail "the nftables table did not outlive the daemon"
ok "after SIGKILL the faults are still in place (stress-ng, nft, tbf)"

start
for _ in $(seq 100); do [ "$(status_of "$id")" = reverted ] && break; sleep 0.2; done
rec=$(curl -sf "$base/api/anomaly/anomalies/$id")
[ "$(field "['status']" <<<"$rec")" = reverted ] || fail "not reverted after restart: $rec"
[ "$(field "['recovered']" <<<"$rec")" = True ] || fail "not marked recovered: $rec"
[ "$(stress_in_cgroup)" = 0 ] || fail "stress-ng left in node3's cgroup"
[ "$(nft_tables)" = 0 ] || fail "nftables table left in $ns"
[ "$(tbf_count)" = 0 ] || fail "tbf qdisc left in $ns"
[ "$(sessions)" -le $((s0 + 3)) ] || fail "connections left on node3: $(sessions)"
grep -q "was left applied by a previous run" "$tmp/log" || fail "no recovery message in the log"
ok "restart reverted the leftovers and GET /api/anomaly/anomalies/$id says reverted (recovered)"

out=$(curl -s -XPOST -H 'Content-Type: application/json' \
  -d '{"type":"cpu_stress","target_node":"node3","severity":"low","duration":300}' "$base/api/anomaly/inject")
id2=$(field "['id']" <<<"$out") || fail "inject: $out"
[ "$(stress_in_cgroup)" -ge 1 ] || fail "no stress-ng for the SIGTERM case"
kill -TERM "$pid"
rc=0
wait "$pid" || rc=$?
pid=
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
[ "$(stress_in_cgroup)" = 0 ] || fail "SIGTERM left stress-ng in node3's cgroup"
grep -q '"status":"reverted"' "$tmp/data/anomaly/$id2.json" || fail "journal of $id2 does not say reverted"
ok "SIGTERM reverts before exiting (journal says reverted)"
