#!/usr/bin/env bash
# The journal's disk is full: data_dir on a small tmpfs, filled to the last
# block while the daemon runs.  An inject must be refused with a clear error
# (a 4xx/5xx with a detail, no crash), nothing may be injected (the journal
# is written before the apply: a fault it cannot record must not happen),
# and the daemon keeps running; once space is back, injects work again.
# shellcheck disable=SC2119
# shellcheck source=tests/chaos/common.sh
. "$(dirname "$0")/common.sh"

baseline
mkdir -p "$CH_TMP/data"
mount -t tmpfs -o size=4m,mode=0700 chaos-journal "$CH_TMP/data" || skip "cannot mount a tmpfs"
write_config "$CH_TMP/c.yaml"
start_daemon
wait_collected

# fill it: the daemon's own files are there already
dd if=/dev/zero of="$CH_TMP/data/fill" bs=4k 2>/dev/null || true
df -k "$CH_TMP/data" | awk 'NR==2 {print "  .. tmpfs data_dir: " $4 " KiB free"}'
# a few bytes must not fit anywhere
if echo x > "$CH_TMP/data/probe" 2>/dev/null; then rm -f "$CH_TMP/data/probe"; fail "the tmpfs is not full"; fi

out=$(api POST /api/anomaly/inject '{"type":["cpu_stress","network_bottleneck","cache_bottleneck"],"target_node":"node3","severity":"low","duration":120,"experiment_name":"chaos-full"}')
st=$(code)
info "inject with the journal's disk full -> $st $(head -c 300 <<<"$out")"
case "$st" in
  4??|5??)
    det=$(jget 'd.get("detail") or d.get("error") or d.get("message") or ""' <<<"$out" 2>/dev/null || true)
    if [ -n "$det" ]; then ok "the inject is refused ($st) with a detail: $det"
    else bad "the inject is refused ($st) but without a detail: $out"; fi ;;
  *) bad "the inject was accepted ($st) although its journal cannot be written" ;;
esac
kill -0 "$CH_PID" 2>/dev/null || fail "the daemon died with its disk full"
curl -sf -m 5 "$CH_URL/health" >/dev/null || bad "the daemon does not answer /health with its disk full"
n=$(parts_in_place 2>/dev/null || echo '?')
[ "$n" = 0 ] || bad "the API shows $n fault part(s) in place although the journal could not be written"
CONN_SLACK=2 assert_clean "a refused inject (disk full)" || recover

# space is back: the daemon was not wedged by the error
rm -f "$CH_TMP/data/fill"
id=$(inject '{"type":"cpu_stress","target_node":"node3","severity":"low","duration":120,"experiment_name":"chaos-full-after"}')
wait_active "$id"
api DELETE "/api/anomaly/anomalies/$id" >/dev/null
[ "$(code | cut -c1)" = 2 ] || bad "DELETE $id -> $(code)"
ok "with space back an inject works and reverts ($id)"
stop_like_systemd TERM
assert_clean "the daemon stopped" || recover
finish
