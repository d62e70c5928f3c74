#!/usr/bin/env bash
# The built-in web UI (/ui) in headless Chromium, driven through the DevTools
# protocol (tests/ui/cdp.py): every view loads with no console error and no
# failed request, the page asks no other host, the charts draw points, a
# campaign report draws its AC@k bars, and with the lab an injected fault
# shows in the active list and on the chart timeline and goes away after
# revert.  Screenshots of each view: build/ui-screenshots/ (DBP_UI_SHOTS).
# Uses the lab when it is up (hold /tmp/dbp-lab.lock around ctest, as for
# every lab test); skipped (77) only when chromium is missing.
set -euo pipefail
bin=${DBP_BINARY:?}
src=${DBP_SOURCE_DIR:?}
browser=$(command -v chromium || command -v chromium-browser || true)
[ -n "$browser" ] || { echo "SKIP: chromium not installed"; exit 77; }
lab=$(realpath -m -- "${DBPECKER_LAB_DIR:-$src/.lab}")
shots=${DBP_UI_SHOTS:-$(dirname "$bin")/ui-screenshots}
mkdir -p "$shots"
rm -f "$shots"/*.png
tmp=$(mktemp -d)
pid=
cleanup() {
  # a clean stop reverts any fault a failed run left behind
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -TERM "$pid"; wait "$pid" || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port=$((20000 + RANDOM % 20000))
base="http://127.0.0.1:$port"

use_lab=0
if [ -f "$lab/lab.env" ] && [ -f "$lab/nodes.yaml" ] && "$src/scripts/lab.sh" status >/dev/null 2>&1; then
  use_lab=1
fi

# A finished campaign as the daemon writes it (request.json + report.json),
# so the Campaigns view has a report to chart without a 20-minute run.
exp=$tmp/experiments/expuifixture01
mkdir -p "$exp"
cat > "$exp/request.json" <<'JSON'
{"request": {"name": "ui-fixture", "groups": ["single_node", "multi_node"], "repetitions": 1},
 "cases": 4, "estimated_s": 0}
JSON
cat > "$exp/report.json" <<'JSON'
{"status": "completed", "finished_at": "2026-12-04T12:00:00.000Z",
 "accuracy": {"test_instances": 4,
  "overall": {"graph": {"AC@1": 0.75, "AC@3": 1, "AC@5": 1}, "xgboost": {"AC@1": 0.5, "AC@3": 0.75, "AC@5": 1},
              "rule": {"AC@1": 0.25, "AC@3": 0.5, "AC@5": 0.75}, "chance": {"AC@1": 0.06, "AC@3": 0.18, "AC@5": 0.3}},
  "by_group": {
   "single_node": {"graph": {"AC@1": 1, "AC@3": 1, "AC@5": 1}, "xgboost": {"AC@1": 0.5, "AC@3": 1, "AC@5": 1},
                   "rule": {"AC@1": 0.5, "AC@3": 0.5, "AC@5": 1}, "chance": {"AC@1": 0.06, "AC@3": 0.18, "AC@5": 0.3}, "test_cases": 2},
   "multi_node": {"graph": {"AC@1": 0.5, "AC@3": 1, "AC@5": 1}, "xgboost": {"AC@1": 0.5, "AC@3": 0.5, "AC@5": 1},
                  "rule": {"AC@1": 0, "AC@3": 0.5, "AC@5": 0.5}, "chance": {"AC@1": 0.12, "AC@3": 0.33, "AC@5": 0.5}, "test_cases": 2}}},
 "cases": [
  {"scenario": "A1", "group": "single_node", "split": "test", "faults": [{"type": "cpu_stress", "node": "node2"}], "case": "anomaly_0001"},
  {"scenario": "A2", "group": "single_node", "split": "test", "faults": [{"type": "cache_bottleneck", "node": "node1"}], "case": "anomaly_0002"},
  {"scenario": "B1", "group": "multi_node", "split": "test", "faults": [{"type": "cpu_stress", "node": "node1"}, {"type": "cpu_stress", "node": "node3"}], "case": "anomaly_0003"},
  {"scenario": "B2", "group": "multi_node", "split": "test", "faults": [{"type": "io_bottleneck", "node": "node2"}], "case": "anomaly_0004"}]}
JSON

{
  echo "data_dir: $tmp/data"
  echo "training:"
  echo "  data_dir: $tmp/training"
  echo "  experiments_dir: $tmp/experiments"
  if [ "$use_lab" = 1 ]; then
    cat <<YAML
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
  fi
} > "$tmp/c.yaml"

DBPECKER_LOG_LEVEL=warn "$bin" --config "$tmp/c.yaml" --port "$port" >"$tmp/log" 2>&1 &
pid=$!
for _ in $(seq 200); do curl -sf "$base/health" >/dev/null && break; sleep 0.05; done
curl -sf "$base/health" >/dev/null || { echo "FAIL: daemon did not come up"; tail -20 "$tmp/log"; exit 1; }

# The assets come from the binary, with a same-origin CSP.
for a in /ui /ui/app.js /ui/app.css /ui/chart.min.js; do
  code=$(curl -s -o "$tmp/asset" -w '%{http_code}' "$base$a")
  [ "$code" = 200 ] && [ -s "$tmp/asset" ] || { echo "FAIL: GET $a answered $code"; exit 1; }
done
grep -q 'Chart.js v3' "$tmp/asset" || { echo "FAIL: /ui/chart.min.js is not Chart.js"; exit 1; }
curl -sI "$base/ui" | grep -qi "content-security-policy: default-src 'self'" || { echo "FAIL: /ui has no same-origin CSP"; exit 1; }
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/ui/nope.js")" = 404 ] || { echo "FAIL: unknown asset is not 404"; exit 1; }
echo "ok: /ui and its assets are served from the binary"

cdp=(python3 "$src/tests/ui/cdp.py" "$base" "$shots" --report expuifixture01)
if [ "$use_lab" = 1 ]; then
  cdp+=(--lab node2 cpu_stress)
  echo "using the lab ($lab)"
else
  # without the lab the collector, fault and model services are absent and
  # answer 503 by design; nothing else may fail
  export DBP_UI_ALLOW="HTTP 503|status of 503 (Service Unavailable)"
  echo "no lab: checking the pages without database nodes"
fi
if ! timeout 240 "${cdp[@]}"; then
  echo "--- chromium log (tail)"; tail -15 "$shots/chromium.log" || true
  echo "--- daemon log (tail)"; tail -15 "$tmp/log"
  exit 1
fi
rm -f "$shots/chromium.log"
echo "ok: every view of /ui loaded in headless Chromium; screenshots in $shots:"
ls -1 "$shots"/*.png
