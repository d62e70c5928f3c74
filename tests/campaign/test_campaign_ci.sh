#!/usr/bin/env bash
# The CI campaign, end to end on the lab: scripts/campaign.sh --ci starts a
# daemon of its own, injects real faults (cpu_stress, cache_bottleneck)
# under a sysbench load, records the cases with labels from the fault
# registry, trains on the training repetitions and reports AC@1/3/5 on the
# held-out ones.  Checked: the report's shape, every fault case labelled
# with the node and type injected, the method above chance, and the graph
# method not far below XGBoost alone at AC@3.
# Skipped (77) when the lab is not running.
set -euo pipefail
src="${DBP_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"
if ! "$src/scripts/lab.sh" status >/dev/null 2>&1; then
  echo "SKIP: the lab is not running (scripts/lab.sh start)"
  exit 77
fi
out="$(mktemp -d /tmp/dbp-campaign-ci.XXXXXX)"
trap 'rm -rf "$out"' EXIT
"$src/scripts/campaign.sh" --ci --out "$out"
python3 - "$out/report.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
def fail(msg):
    print("FAIL:", msg); sys.exit(1)
if r.get("status") != "completed":
    fail("status %r: %s" % (r.get("status"), r.get("error")))
if r.get("nodes") != 3:
    fail("nodes %r" % r.get("nodes"))
cases = r["cases"]
faults = [c for c in cases if c.get("group") not in ("normal", "workload")]
if len(faults) != 9:
    fail("expected 9 fault cases, got %d" % len(faults))
# Labels come from the registry: the planned faults, exact nodes.
good = 0
for c in faults:
    planned = sorted((f["type"], f["node"]) for f in c["faults"])
    got = sorted((a["type"], a["node"]) for a in c.get("label", {}).get("anomalies", []))
    if planned == got:
        good += 1
    else:
        print("note: %s planned %s, labelled %s (%s)" % (c.get("case"), planned, got, c.get("inject_error", "")))
if good < 8:
    fail("only %d of 9 fault cases labelled as planned" % good)
acc = r["accuracy"]
for g in ("single_node", "single_node_compound"):
    grp = acc["by_group"].get(g)
    if not grp:
        fail("no accuracy for group %s" % g)
    for m in ("graph", "xgboost", "rule", "chance"):
        for k in ("AC@1", "AC@3", "AC@5"):
            v = grp[m][k]
            if not (0 <= v <= 1):
                fail("%s %s %s = %r" % (g, m, k, v))
    if grp["instances"] < 5:
        fail("%s: only %d test instances" % (g, grp["instances"]))
ov = acc["overall"]
print("overall AC@1/3/5: graph %.2f/%.2f/%.2f  xgboost %.2f/%.2f/%.2f  rule %.2f/%.2f/%.2f  chance %.2f/%.2f/%.2f" % tuple(
    ov[m][k] for m in ("graph", "xgboost", "rule", "chance") for k in ("AC@1", "AC@3", "AC@5")))
if not ov["graph"]["AC@1"] > ov["chance"]["AC@1"] or not ov["graph"]["AC@3"] > ov["chance"]["AC@3"]:
    fail("the method is not better than chance")
for g, grp in sorted(acc["by_group"].items()):
    print("%s AC@1/3: graph %.2f/%.2f  xgboost %.2f/%.2f  chance %.2f/%.2f  (%d instances)" % (
        g, grp["graph"]["AC@1"], grp["graph"]["AC@3"], grp["xgboost"]["AC@1"],
        grp["xgboost"]["AC@3"], grp["chance"]["AC@1"], grp["chance"]["AC@3"], grp["instances"]))
# The graph step (PageRank over the node graph) must not cost much against
# the boosters alone: the project's claim is graph >= XGBoost.  Margin
# GRAPH_MARGIN below XGBoost at AC@3, overall.
GRAPH_MARGIN = 0.15
if ov["graph"]["AC@3"] < ov["xgboost"]["AC@3"] - GRAPH_MARGIN:
    fail("graph AC@3 %.2f is more than %.2f below XGBoost alone (%.2f)" % (
        ov["graph"]["AC@3"], GRAPH_MARGIN, ov["xgboost"]["AC@3"]))
if "model" not in r or not r["model"].get("name"):
    fail("no model in the report")
print("PASS")
PY
grep -q '| single_node |' "$out/report.md" || { echo "FAIL: report.md lacks the group table"; exit 1; }
