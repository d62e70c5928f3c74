#!/usr/bin/env bash
# SIGKILL (the OOM killer, systemd after TimeoutStopSec, a power cut of the
# daemon) at the three bad moments: during a campaign, during an apply,
# during a revert.  The faults may outlive the daemon; the next start on the
# same data_dir must revert them all from the journal: GET
# /api/anomaly/anomalies shows no part in place (polled with a deadline),
# and the machine is clean (assert_clean), with the new daemon running and
# again after it stopped.
# shellcheck disable=SC2119
# shellcheck source=tests/chaos/common.sh
. "$(dirname "$0")/common.sh"

baseline
write_config "$CH_TMP/c.yaml"

# restart_and_check WHAT: start on the same data_dir, wait for the replay
restart_and_check() {
  local what=$1 n l
  l=$(leftovers | wc -l)
  info "$what: the kill left $l thing(s) in place for the next start to revert"
  start_daemon
  for _ in $(seq 1 300); do
    n=$(parts_in_place 2>/dev/null || echo '?')
    [ "$n" = 0 ] && break
    sleep 0.2
  done
  if [ "$n" != 0 ]; then
    bad "$what: $n fault part(s) still in place 60 s after the restart"
    api GET /api/anomaly/anomalies | head -c 600; echo
  else
    ok "$what: the restart reverted everything from the journal (no part in place)"
  fi
  # the new daemon's own collector sessions (one per node) are allowed
  CONN_SLACK=2 assert_clean "$what, restarted daemon running" || true
  stop_like_systemd TERM
  assert_clean "$what, restarted daemon stopped" || recover
}

# -- 1. during a campaign
start_daemon
wait_collected
plan='{"name":"chaos-kill","groups":["single_node"],"types":["network_bottleneck"],"repetitions":2,"test_repetitions":1,"pre_s":1,"fault_s":120,"post_s":0,"normal_s":0,"workload":false}'
out=$(api POST /api/experiments "$plan")
[ "$(code | cut -c1)" = 2 ] || fail "campaign refused: $(code) $out"
for _ in $(seq 1 300); do [ "$(parts_in_place)" -ge 1 ] && break; sleep 0.2; done
[ "$(parts_in_place)" -ge 1 ] || fail "the campaign applied no fault within 60 s"
kill9
restart_and_check "SIGKILL during a campaign"

# -- 2. during an apply
rm -rf "$CH_TMP/data"
start_daemon
wait_collected
curl -s -m 90 -o /dev/null -XPOST -H 'Content-Type: application/json' \
  -d '{"type":["cpu_stress","io_bottleneck","too_many_indexes"],"target_node":"node3","severity":"low","duration":300,"experiment_name":"chaos-kill-apply"}' \
  "$CH_URL/api/anomaly/inject" &
inj=$!
CH_CLEANUPS+=("kill $inj 2>/dev/null")
for _ in $(seq 1 200); do ls "$CH_TMP/data/anomaly/"*.json >/dev/null 2>&1 && break; sleep 0.02; done
ls "$CH_TMP/data/anomaly/"*.json >/dev/null 2>&1 || fail "no journal record within 4 s of the inject"
sleep 0.3 # some parts applied, some not yet
kill9
wait "$inj" 2>/dev/null || true
restart_and_check "SIGKILL during an apply"

# -- 3. during a revert
rm -rf "$CH_TMP/data"
start_daemon
wait_collected
id=$(inject '{"type":["cpu_stress","network_bottleneck","connection_storm","cache_bottleneck"],"target_node":"node2","severity":"medium","duration":300,"experiment_name":"chaos-kill-revert"}')
wait_active "$id"
curl -s -m 90 -o /dev/null -XPOST -H 'Content-Type: application/json' "$CH_URL/api/anomaly/stop-all" &
sa=$!
CH_CLEANUPS+=("kill $sa 2>/dev/null")
for _ in $(seq 1 100); do
  st=$(api GET "/api/anomaly/anomalies/$id" | jget 'd["status"]' 2>/dev/null || echo '?')
  [ "$st" != active ] && break
  sleep 0.02
done
info "injection $id is '$st' when SIGKILL is sent"
kill9
wait "$sa" 2>/dev/null || true
restart_and_check "SIGKILL during a revert"

finish
