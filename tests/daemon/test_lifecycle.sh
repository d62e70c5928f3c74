#!/usr/bin/env bash
# The real binary: --version, --check-config with file:line errors, refusal
# to listen beyond loopback without a token, SIGHUP reload (a bad file keeps
# the old config), SIGTERM with a request in flight -> clean exit 0.
set -euo pipefail
bin=${DBP_BINARY:?}
src=${DBP_SOURCE_DIR:?}
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; [ -f "$tmp/log" ] && tail -20 "$tmp/log"; exit 1; }
port=$((20000 + RANDOM % 20000))

"$bin" --version | grep -q '^dbpecker [0-9]' || fail "--version"
"$bin" --check-config "$src/config/dbpecker.yaml" >/dev/null || fail "shipped config rejected"
printf 'server:\n  port: 8000\n  colour: blue\n' > "$tmp/bad.yaml"
out=$("$bin" --check-config "$tmp/bad.yaml" 2>&1) && fail "bad config accepted"
grep -q "bad.yaml:3:3: unknown key 'server.colour'" <<<"$out" || fail "no file:line in '$out'"
out=$("$bin" --listen 0.0.0.0 --port "$port" 2>&1) && fail "started on 0.0.0.0 without a token"
grep -q "bearer token is mandatory" <<<"$out" || fail "unclear refusal: $out"
echo "ok: --version, --check-config, token required beyond loopback"

printf 'log:\n  level: info\nserver:\n  cors_origins: ["http://a.example"]\n' > "$tmp/c.yaml"
"$bin" --config "$tmp/c.yaml" --port "$port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done
curl -sf "http://127.0.0.1:$port/health" >/dev/null || fail "daemon did not come up"

origin() { curl -s -D - -o /dev/null -H "Origin: $1" "http://127.0.0.1:$port/health" | tr -d '\r' | grep -i '^access-control-allow-origin' || true; }
[ -n "$(origin http://a.example)" ] || fail "CORS origin a not allowed before reload"
printf 'log:\n  level: info\nserver:\n  cors_origins: ["http://b.example"]\n' > "$tmp/c.yaml"
kill -HUP "$pid"; sleep 0.5
[ -n "$(origin http://b.example)" ] || fail "reload did not apply the new CORS list"
[ -z "$(origin http://a.example)" ] || fail "old origin still allowed after reload"
printf 'server:\n  cors_origins: [nonsense\n' > "$tmp/c.yaml"
kill -HUP "$pid"; sleep 0.5
grep -q "reload refused, keeping the old configuration" "$tmp/log" || fail "invalid reload not reported"
[ -n "$(origin http://b.example)" ] || fail "invalid reload changed the configuration"
kill -0 "$pid" || fail "daemon died on an invalid reload"
echo "ok: SIGHUP reload applies a valid file and keeps the old one on errors"

# A request in flight when SIGTERM arrives still gets its answer.
curl -sN --max-time 5 "http://127.0.0.1:$port/api/jobs/stream" > "$tmp/sse" &
cpid=$!
sleep 0.5
kill -TERM "$pid"
set +e
wait "$pid"; rc=$?
set -e
pid=
wait "$cpid" || true
[ "$rc" = 0 ] || fail "exit status $rc after SIGTERM"
grep -q "event: jobs" "$tmp/sse" || fail "in-flight stream got nothing"
grep -q "SIGTERM received: stopping" "$tmp/log" || fail "no stop message"
grep -q "stopped" "$tmp/log" || fail "no final message"
echo "ok: SIGTERM stops gracefully with exit 0"
