#!/usr/bin/env bash
# Run a diagnosis campaign (POST /api/experiments) and print its report.
#
#   scripts/campaign.sh [--ci | --full] [--body JSON] [--url URL] [--out DIR]
#
#   --ci        a small campaign (a few minutes): cpu_stress and
#               cache_bottleneck, single-node and single-node compound groups,
#               3 repetitions (1 held out).  The test suite runs this one.
#   --full      every group of the paper's Table 2 with the lab's four host and
#               cache faults, 4 repetitions (1 held out) of 30 s faults under a
#               sysbench load: about 55 minutes on the lab (52 min measured).  (default)
#   --body J    the request body yourself (see docs/diagnosis.md, Campaigns).
#   --url URL   a daemon that is already running (DBP_TOKEN = its bearer
#               token).  Without --url the script starts the lab if needed and
#               a daemon of its own (build/dbpecker, collector every second)
#               on a free port, and stops that daemon at the end.
#   --out DIR   where report.json and report.md are copied
#               (default: data/campaigns/<id>).
#
# Ctrl-C cancels the campaign: the daemon reverts the fault in flight.
# Exit status: 0 when the campaign completed, 1 otherwise.
set -euo pipefail

here="$(cd "$(dirname "$0")/.." && pwd)"
mode=full body="" url="" out=""
while [ $# -gt 0 ]; do
  case "$1" in
    --ci) mode=ci ;;
    --full) mode=full ;;
    --body) body="$2"; shift ;;
    --url) url="$2"; shift ;;
    --out) out="$2"; shift ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "campaign: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if [ -z "$body" ]; then
  case "$mode" in
    ci) body='{"name":"ci","groups":["single_node","single_node_compound"],
               "types":["cpu_stress","cache_bottleneck"],"repetitions":3,"test_repetitions":1,
               "pre_s":3,"fault_s":15,"post_s":3,"normal_s":10,"normal_every":3,
               "severity":"high","workload":true,"workload_threads":2,
               "window":5,"stride":1,"rounds":40}' ;;
    full) body='{"name":"full","types":["cpu_stress","io_bottleneck","network_bottleneck",
               "cache_bottleneck"],"repetitions":4,"test_repetitions":1,
               "pre_s":5,"fault_s":30,"post_s":5,"normal_s":20,"normal_every":4,
               "severity":"medium","workload":true,"workload_threads":4,
               "window":6,"stride":1,"rounds":100}' ;;
  esac
fi

command -v curl >/dev/null || { echo "campaign: curl is required" >&2; exit 1; }
command -v python3 >/dev/null || { echo "campaign: python3 is required" >&2; exit 1; }

daemon_pid="" tmp=""
cleanup() {
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.2; done
  fi
}
trap cleanup EXIT

auth=()
[ -n "${DBP_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $DBP_TOKEN")

if [ -z "$url" ]; then
  bin="${DBP_BINARY:-$here/build/dbpecker}"
  [ -x "$bin" ] || { echo "campaign: $bin not built (cmake -S . -B build && cmake --build build)" >&2; exit 1; }
  if ! "$here/scripts/lab.sh" status >/dev/null 2>&1; then
    echo "campaign: starting the lab"
    "$here/scripts/lab.sh" start
  fi
  lab="${DBP_LAB_DIR:-${DBPECKER_LAB_DIR:-$here/.lab}}"  # lab.sh's variable too
  tmp="$(mktemp -d /tmp/dbp-campaign.XXXXXX)"
  port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
  cat > "$tmp/dbpecker.yaml" <<EOF
server: {listen: 127.0.0.1, port: $port}
log: {level: info}
data_dir: $tmp/data
database:
  catalog: mariadb
  catalog_dir: $here/config/catalog
  user: dbpecker
  password_file: $lab/secrets/dbpecker.password
  nodes_file: $lab/nodes.yaml
collector: {interval_ms: 1000}
workload:
  lua_dir: $here/scripts/lua
  user: bench
  password_file: $lab/secrets/bench.password
anomaly: {executor: local}
training:
  data_dir: $tmp/data/training
  models_dir: $tmp/data/models
  experiments_dir: $tmp/data/experiments
EOF
  "$bin" --config "$tmp/dbpecker.yaml" > "$tmp/daemon.log" 2>&1 &
  daemon_pid=$!
  url="http://127.0.0.1:$port"
  for _ in $(seq 1 100); do curl -sf "$url/health" >/dev/null 2>&1 && break; sleep 0.1; done
  curl -sf "$url/health" >/dev/null || { echo "campaign: the daemon did not start:" >&2; cat "$tmp/daemon.log" >&2; exit 1; }
  echo "campaign: daemon on $url (log $tmp/daemon.log)"
fi

json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

resp="$(curl -s "${auth[@]}" -H 'Content-Type: application/json' -X POST "$url/api/experiments" -d "$body" -w '\n%{http_code}')"
code="${resp##*$'\n'}"; resp="${resp%$'\n'*}"
if [ "$code" != 202 ]; then
  echo "campaign: POST /api/experiments answered $code: $resp" >&2
  exit 1
fi
id="$(printf '%s' "$resp" | json 'd["id"]')"
est="$(printf '%s' "$resp" | json 'd["plan"]["estimated_s"]')"
echo "campaign: $id started, about ${est} s"
trap 'echo; echo "campaign: cancelling $id"; curl -s "${auth[@]}" -X DELETE "$url/api/experiments/$id" >/dev/null; sleep 1' INT TERM

status=running last=""
while :; do
  st="$(curl -s "${auth[@]}" "$url/api/experiments/$id")"
  status="$(printf '%s' "$st" | json 'd.get("status","?")')"
  msg="$(printf '%s' "$st" | json '"%s%% %s" % (round(d.get("progress") or 0), d.get("message",""))')"
  [ "$msg" != "$last" ] && echo "campaign: $msg" && last="$msg"
  case "$status" in completed|failed|cancelled|interrupted) break ;; esac
  sleep 5
done

out="${out:-$here/data/campaigns/$id}"
mkdir -p "$out"
curl -s "${auth[@]}" "$url/api/experiments/$id" | json 'json.dumps(d.get("report", {}), indent=1)' > "$out/report.json"
curl -s "${auth[@]}" "$url/api/experiments/$id/report" > "$out/report.md" || true
echo
cat "$out/report.md"
echo
echo "campaign: $status; report in $out"
[ "$status" = completed ]
