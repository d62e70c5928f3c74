#!/usr/bin/env bash
# SIGHUP reloads, through the API, on a daemon bound to the lab bridge
# address (beyond loopback, so a token is mandatory):
#   - a token change: the old token is refused, the new one accepted;
#   - a listen change with the token removed (review H1): the daemon keeps
#     its bound address, says a restart is needed, and a mutating request
#     through that address without a token is still 401;
#   - an invalid file: the old configuration is kept, the daemon answers.
# shellcheck disable=SC2119
# shellcheck source=tests/chaos/common.sh
. "$(dirname "$0")/common.sh"

bridge=10.213.0.1
ip -o addr show | grep -q " $bridge/" || skip "no $bridge on this machine (the lab bridge)"
CH_PORT=$(free_port)
CH_URL=http://$bridge:$CH_PORT
CH_HEALTH_URL=$CH_URL
tokA=chaosA$RANDOM$RANDOM tokB=chaosB$RANDOM$RANDOM tokC=chaosC$RANDOM$RANDOM
cfg=$CH_TMP/c.yaml

# mutate TOKEN: status of a harmless mutating request (resume collection)
mutate() {
  local a=()
  [ -n "$1" ] && a=(-H "Authorization: Bearer $1")
  curl -s -m 10 -o /dev/null -w '%{http_code}' -XPOST "${a[@]}" -H 'Content-Type: application/json' \
    "$CH_URL/api/metrics/start" || echo 000
}
# reload: SIGHUP, then wait for the daemon's verdict on this reload in its log
reload() {
  local before
  before=$(grep -c -i 'reload' "$CH_TMP/log" || true)
  kill -HUP "$CH_PID"
  for _ in $(seq 1 100); do
    [ "$(grep -c -i 'reload' "$CH_TMP/log" || true)" -gt "$before" ] && { sleep 0.2; return 0; }
    sleep 0.1
  done
  fail "no reload message in the log 10 s after SIGHUP"
}
# wait_status TOKEN WANT: poll mutate until it answers WANT (a reload is
# applied asynchronously); prints the last status
wait_status() {
  local s
  for _ in $(seq 1 50); do s=$(mutate "$1"); [ "$s" = "$2" ] && break; sleep 0.1; done
  echo "$s"
}

write_config "$cfg" "$bridge" "$tokA"
start_daemon "$cfg"
[ "$(mutate "")" = 401 ] || fail "no token through $bridge: $(mutate "") (want 401)"
[ "$(mutate "$tokA")" = 200 ] || fail "token A through $bridge: $(mutate "$tokA") (want 200)"
ok "bound to $bridge with token A: no token 401, token A 200"

# -- token change
write_config "$cfg" "$bridge" "$tokB"
reload
s=$(wait_status "$tokA" 401)
[ "$s" = 401 ] || bad "token change: the old token still answers $s (want 401)"
s=$(mutate "$tokB")
[ "$s" = 200 ] || bad "token change: the new token answers $s (want 200)"
[ "$(mutate "")" = 401 ] || bad "token change: no token answers $(mutate "") (want 401)"
[ "${#CH_BAD[@]}" = 0 ] && ok "SIGHUP token change: old token 401, new token 200"

# -- listen change to loopback, token removed (H1)
nbad=${#CH_BAD[@]}
lines=$(wc -l < "$CH_TMP/log")
write_config "$cfg" 127.0.0.1 ""
reload
kill -0 "$CH_PID" 2>/dev/null || fail "the daemon died on a listen-change reload"
curl -sf -m 5 "$CH_URL/health" >/dev/null || bad "listen change: the daemon no longer answers on its bound address $bridge"
tail -n +"$((lines + 1))" "$CH_TMP/log" | grep -qi 'restart' ||
  bad "listen change: the log does not say a restart is needed"
sleep 0.5
s=$(mutate "")
[ "$s" = 401 ] || bad "listen change + no token while still bound to $bridge: a mutating request without a token answers $s (want 401; review H1)"
[ "${#CH_BAD[@]}" = "$nbad" ] && ok "SIGHUP listen change: still bound to $bridge, restart needed, no token still 401"

# -- a valid file with token C, then an invalid file: C is kept
lines=$(wc -l < "$CH_TMP/log")
write_config "$cfg" "$bridge" "$tokC"
reload
# the file's listen is again the bound address: no restart is needed (the
# daemon must remember the address it is bound to, not the last file's)
if tail -n +"$((lines + 1))" "$CH_TMP/log" | grep -q 'need a restart'; then
  bad "reload with listen = the bound $bridge still says a restart is needed: $(tail -n +"$((lines + 1))" "$CH_TMP/log" | grep 'need a restart' | sed 's/.*main: //')"
fi
s=$(wait_status "$tokC" 200)
[ "$s" = 200 ] || fail "token C not accepted after a valid reload: $s"
nbad=${#CH_BAD[@]}
printf 'server:\n  listen: %s\n  port: %s\n  token: [unterminated\n' "$bridge" "$CH_PORT" > "$cfg"
lines=$(wc -l < "$CH_TMP/log")
kill -HUP "$CH_PID"
for _ in $(seq 1 100); do
  tail -n +"$((lines + 1))" "$CH_TMP/log" | grep -q 'reload refused' && break
  sleep 0.1
done
tail -n +"$((lines + 1))" "$CH_TMP/log" | grep -q 'reload refused' || bad "invalid file: no 'reload refused' in the log"
kill -0 "$CH_PID" 2>/dev/null || fail "the daemon died on an invalid reload"
curl -sf -m 5 "$CH_URL/health" >/dev/null || bad "invalid file: /health does not answer"
[ "$(mutate "$tokC")" = 200 ] || bad "invalid file: token C answers $(mutate "$tokC") (the old config should be kept)"
[ "$(mutate "")" = 401 ] || bad "invalid file: no token answers $(mutate "") (want 401)"
[ "${#CH_BAD[@]}" = "$nbad" ] && ok "SIGHUP with an invalid file: old config kept (token C 200, no token 401), daemon answers"

stop_like_systemd TERM
finish
