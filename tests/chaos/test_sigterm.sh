#!/usr/bin/env bash
# SIGTERM (systemctl stop) at the three bad moments: while a fault campaign
# runs, while a fault is being applied, while faults are being reverted.
# Each time the daemon must be gone within TimeoutStopSec of
# config/dbpecker.service (this test plays systemd: it SIGKILLs after it)
# and must have left nothing behind (assert_clean).
# shellcheck disable=SC2119
# shellcheck source=tests/chaos/common.sh
. "$(dirname "$0")/common.sh"

baseline
write_config "$CH_TMP/c.yaml"

# -- 1. during a campaign: one fault case on a node, stopped while the fault is on
start_daemon
wait_collected
plan='{"name":"chaos-term","groups":["single_node"],"types":["cpu_stress"],"repetitions":2,"test_repetitions":1,"pre_s":1,"fault_s":120,"post_s":0,"normal_s":0,"workload":false}'
out=$(api POST /api/experiments "$plan")
[ "$(code | cut -c1)" = 2 ] || fail "campaign refused: $(code) $out"
for _ in $(seq 1 300); do [ "$(parts_in_place)" -ge 1 ] && break; sleep 0.2; done
[ "$(parts_in_place)" -ge 1 ] || fail "the campaign applied no fault within 60 s"
info "campaign running, its fault applied"
stop_like_systemd TERM
if [ "$STOP_KILLED" = 1 ]; then bad "SIGTERM during a campaign: not gone within TimeoutStopSec=${STOP_TIMEOUT}s (H3)"
else ok "SIGTERM during a campaign: gone in ${STOP_S} s"; fi
assert_clean "SIGTERM during a campaign" || recover

# -- 2. during an apply: TERM as soon as the journal says the apply began
rm -rf "$CH_TMP/data"
start_daemon
wait_collected
curl -s -m 90 -o /dev/null -XPOST -H 'Content-Type: application/json' \
  -d '{"type":["cpu_stress","io_bottleneck"],"target_node":"node3","severity":"low","duration":300,"experiment_name":"chaos-term-apply"}' \
  "$CH_URL/api/anomaly/inject" &
inj=$!
CH_CLEANUPS+=("kill $inj 2>/dev/null")
for _ in $(seq 1 200); do ls "$CH_TMP/data/anomaly/"*.json >/dev/null 2>&1 && break; sleep 0.02; done
ls "$CH_TMP/data/anomaly/"*.json >/dev/null 2>&1 || fail "no journal record within 4 s of the inject"
info "apply under way (its journal record is written)"
stop_like_systemd TERM
wait "$inj" 2>/dev/null || true
if [ "$STOP_KILLED" = 1 ]; then bad "SIGTERM during an apply: not gone within TimeoutStopSec=${STOP_TIMEOUT}s"
else ok "SIGTERM during an apply: gone in ${STOP_S} s"; fi
assert_clean "SIGTERM during an apply" || recover

# -- 3. during a revert: stop-all in flight, then TERM
rm -rf "$CH_TMP/data"
start_daemon
wait_collected
id=$(inject '{"type":["cpu_stress","network_bottleneck","connection_storm","cache_bottleneck"],"target_node":"node2","severity":"medium","duration":300,"experiment_name":"chaos-term-revert"}')
wait_active "$id"
curl -s -m 90 -o /dev/null -XPOST -H 'Content-Type: application/json' "$CH_URL/api/anomaly/stop-all" &
sa=$!
CH_CLEANUPS+=("kill $sa 2>/dev/null")
for _ in $(seq 1 100); do
  st=$(api GET "/api/anomaly/anomalies/$id" | jget 'd["status"]' 2>/dev/null || echo '?')
  [ "$st" != active ] && break
  sleep 0.02
done
info "injection $id is '$st' when SIGTERM is sent"
stop_like_systemd TERM
wait "$sa" 2>/dev/null || true
if [ "$STOP_KILLED" = 1 ]; then bad "SIGTERM during a revert: not gone within TimeoutStopSec=${STOP_TIMEOUT}s"
else ok "SIGTERM during a revert: gone in ${STOP_S} s"; fi
assert_clean "SIGTERM during a revert" || recover
grep -q '"status":"reverted"' "$CH_TMP/data/anomaly/$id.json" || bad "the journal of $id does not say reverted after SIGTERM"

finish
