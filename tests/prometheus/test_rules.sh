#!/usr/bin/env bash
# The Prometheus rules in config/prometheus/ (docs/prometheus.md):
#   1. promtool check rules on every *.rules.yml;
#   2. promtool test rules on every *_test.yml;
#   3. every alert and recording rule is exercised by a unit test;
#   4. every metric a rule reads is one the daemon exports: the names are
#      looked up in the exporters' source and, with $DBP_BINARY, in the
#      "# TYPE" lines of a real /metrics (a daemon watching one unreachable
#      node, so that the collector's families are there too), and every
#      metric="..." label value is a metric of a catalog in config/catalog/.
# A renamed metric, a rule without a test or a broken rule fails here.
# Exit 77 (skipped) without promtool (Debian: prometheus) or python3-yaml.
set -euo pipefail

src=${DBP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
dir=$src/config/prometheus

if ! command -v promtool >/dev/null 2>&1; then
  echo "SKIP: promtool not installed (Debian package prometheus)"
  exit 77
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
  echo "SKIP: python3 with yaml (Debian package python3-yaml) is needed to read the rules"
  exit 77
fi

shopt -s nullglob
rules=("$dir"/*.rules.yml)
tests=("$dir"/*_test.yml)
[ ${#rules[@]} -gt 0 ] || { echo "FAIL: no $dir/*.rules.yml"; exit 1; }
[ ${#tests[@]} -gt 0 ] || { echo "FAIL: no $dir/*_test.yml"; exit 1; }

echo "== promtool check rules"
promtool check rules "${rules[@]}"

echo "== promtool test rules"
# rule_files in a test file are relative to it: run from its folder
(cd "$dir" && promtool test rules "${tests[@]##*/}")

tmp=$(mktemp -d /tmp/dbp-promrules.XXXXXX)
daemon_pid=
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  rm -rf -- "$tmp"
}
trap cleanup EXIT

# The names the running daemon declares, when it is built.
exported=$tmp/exported.txt
: > "$exported"
if [ -n "${DBP_BINARY:-}" ] && [ -x "$DBP_BINARY" ]; then
  echo "== /metrics of $DBP_BINARY"
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  # port 1 on loopback refuses at once: the node is down, the collector runs
  cat > "$tmp/nodes.yaml" <<EOF
- name: ghost
  host: 127.0.0.1
  port: 1
EOF
  cat > "$tmp/dbpecker.yaml" <<EOF
server: {listen: 127.0.0.1, port: $port}
data_dir: $tmp/data
database:
  catalog: mariadb
  catalog_dir: $src/config/catalog
  user: dbpecker
  nodes_file: $tmp/nodes.yaml
collector: {interval_ms: 1000}
EOF
  "$DBP_BINARY" --config "$tmp/dbpecker.yaml" > "$tmp/daemon.log" 2>&1 &
  daemon_pid=$!
  python3 - "$port" "$tmp/metrics.txt" "$daemon_pid" <<'EOF' || { cat "$tmp/daemon.log"; exit 1; }
import os, sys, time, urllib.request
port, out, pid = sys.argv[1], sys.argv[2], int(sys.argv[3])
deadline = time.monotonic() + 60  # generous: sanitizer builds start slowly
while True:
    try:
        body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % port, timeout=10).read()
        # the collector's families are there once it has run a cycle
        if b"\ndbpecker_node_up{" in body:
            open(out, "wb").write(body)
            break
    except OSError:
        pass
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("the daemon exited")
    if time.monotonic() > deadline:
        sys.exit("no /metrics with the collector's families within 60 s")
    time.sleep(0.2)
EOF
  awk '$1 == "#" && $2 == "TYPE" { print $3; if ($4 == "histogram" || $4 == "summary") {
         print $3 "_bucket"; print $3 "_sum"; print $3 "_count" } }' "$tmp/metrics.txt" \
    | sort -u > "$exported"
  echo "the daemon declares $(wc -l < "$exported") metric names"
else
  echo "== DBP_BINARY not set: metric names are checked against the source only"
fi

echo "== rules against tests, exporters and catalogs"
python3 - "$src" "$exported" "${rules[@]}" -- "${tests[@]}" <<'EOF'
import glob, os, re, subprocess, sys, yaml

src, exported_file = sys.argv[1], sys.argv[2]
rest = sys.argv[3:]
rule_files, test_files = rest[:rest.index("--")], rest[rest.index("--") + 1:]
exported = set(open(exported_file).read().split())
fail = []

records, alerts, exprs = set(), set(), []
for f in rule_files:
    for g in yaml.safe_load(open(f))["groups"]:
        for r in g["rules"]:
            exprs.append((r.get("record") or r.get("alert"), str(r["expr"])))
            if "record" in r:
                records.add(r["record"])
            else:
                alerts.add(r["alert"])
                lab, ann = r.get("labels", {}), r.get("annotations", {})
                if lab.get("severity") not in ("critical", "warning", "info"):
                    fail.append("%s: no severity label (critical|warning|info)" % r["alert"])
                for a in ("summary", "description"):
                    if not str(ann.get(a, "")).strip():
                        fail.append("%s: no %s annotation" % (r["alert"], a))
    # the Prometheus naming convention level:metric:operations
    for r in records:
        if not re.fullmatch(r"[a-z_]+:[a-z0-9_]+:[a-z0-9_]+", r):
            fail.append("recording rule %s is not level:metric:operations" % r)

# 3. coverage: an alert is tested when some test expects it to fire, a
# recording rule when a promql_expr_test expression names it
fired, queried = set(), set()
for f in test_files:
    for t in yaml.safe_load(open(f))["tests"]:
        for a in t.get("alert_rule_test", []):
            if a.get("exp_alerts"):
                fired.add(a["alertname"])
        for p in t.get("promql_expr_test", []):
            queried.update(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", p["expr"]))
for a in sorted(alerts - fired):
    fail.append("alert %s has no unit test that makes it fire" % a)
for r in sorted(records - queried):
    fail.append("recording rule %s has no promql_expr_test" % r)

# 4. metric names: identifiers in the expressions that are neither a
# function, a keyword, a label name nor a recorded name
strip_strings = lambda e: re.sub(r'"(?:[^"\\]|\\.)*"', '""', e)
words = set()
labelvals = set()
for name, e in exprs:
    labelvals.update(re.findall(r'metric\s*=~?\s*"([^"]*)"', e))
    e = strip_strings(e)
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"\{[^}]*\}", " ", e)           # label matchers
    e = re.sub(r"\[[^\]]*\]", " ", e)          # ranges
    for w in re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*(?=\s*\(?)", e):
        words.add((name, w, bool(re.search(r"\b%s\s*\(" % re.escape(w), e))))
keywords = {"and", "or", "unless", "bool", "offset"}
used = set()
for name, w, is_call in words:
    if is_call or w in keywords:
        continue
    if ":" in w:
        if w not in records:
            fail.append("%s reads %s, which no recording rule defines" % (name, w))
        continue
    used.add(w)
srcfiles = [p for p in glob.glob(os.path.join(src, "src", "**", "*.c"), recursive=True)]
text = "\n".join(open(p, errors="replace").read() for p in srcfiles)
for m in sorted(used):
    if m == "up":  # Prometheus' own, per scrape target
        continue
    # a whole word in the exporters' source (the HELP/TYPE and sample lines)
    if not re.search(r"(?<![A-Za-z0-9_])%s(?![A-Za-z0-9_])" % re.escape(m), text):
        fail.append("metric %s is not in the exporters' source (src/)" % m)
    if exported and m not in exported:
        fail.append("metric %s is not declared on the daemon's /metrics" % m)
print("metrics the rules read: " + ", ".join(sorted(used)))

# catalog metric names used as metric="..." (alternations split)
names = set()
for f in glob.glob(os.path.join(src, "config", "catalog", "*.yaml")):
    c = yaml.safe_load(open(f))
    for sect in ("host", "metrics"):
        for m in c.get(sect) or []:
            names.add(m["name"])
for v in sorted(labelvals):
    for n in v.split("|"):
        if n not in names:
            fail.append('metric="%s" is not a metric of any catalog in config/catalog/' % n)

if fail:
    print("\n".join("FAIL: " + f for f in fail))
    sys.exit(1)
print("%d alerts, %d recording rules: all tested, all names exported" % (len(alerts), len(records)))
EOF
echo "PASS"
