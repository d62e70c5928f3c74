#!/usr/bin/env bash
# GET /docs in headless Chromium: the page loads /openapi.json and renders
# one entry per route of the daemon's route table.
set -euo pipefail
bin=${DBP_BINARY:?}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "SKIP: chromium not installed"; exit 77; }
tmp=$(mktemp -d)
pid=
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$tmp"' EXIT
port=$((20000 + RANDOM % 20000))
DBPECKER_LOG_LEVEL=warn "$bin" --port "$port" 2>"$tmp/log" &
pid=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$port/health" >/dev/null && break; sleep 0.05; done

timeout 60 "$browser" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$tmp/profile" --virtual-time-budget=10000 \
  --dump-dom "http://127.0.0.1:$port/docs" > "$tmp/dom.html" 2>"$tmp/chromium.log" || true
[ -s "$tmp/dom.html" ] || { echo "FAIL: no DOM from chromium"; tail -5 "$tmp/chromium.log"; exit 1; }

missing=0
total=0
while IFS='|' read -r _ method path _; do
  method=$(echo "$method" | tr -d ' ')
  path=$(echo "$path" | tr -d ' `')
  case "$method" in GET|POST|PUT|DELETE|PATCH) ;; *) continue ;; esac
  total=$((total + 1))
  if ! grep -qF "data-path=\"$path\" data-method=\"$method\"" "$tmp/dom.html"; then
    echo "missing on the page: $method $path"
    missing=$((missing + 1))
  fi
done < <("$bin" --dump-routes)
grep -q "$total routes" "$tmp/dom.html" || { echo "FAIL: status line does not count $total routes"; exit 1; }
[ "$missing" = 0 ] || { echo "FAIL: $missing of $total routes not rendered"; exit 1; }
echo "ok: /docs rendered all $total routes in headless Chromium"
