#!/usr/bin/env bash
# tests/catalog/test_catalog_sql.sh - the metric catalogs' SQL against a real MariaDB.
#
# Checks config/catalog/*.yaml (format: config/catalog/README.md):
#  * static: keys, kinds, units, help, unique names, the original 58 OceanBase metrics with their
#    categories, the SQL IN-lists equal the declared metrics, match_version patterns;
#  * oceanbase4 / oceanbase3: loads the OceanBase test double (tests/data/ob_double, a MariaDB
#    schema `oceanbase` with OceanBase's view and column names), runs the catalogs' tenants,
#    discovery and metric SQL unchanged and checks that every metric comes back for every server
#    and tenant (META and internal tenants filtered out, unlisted statistics filtered out),
#    VALUE_TYPE agrees with the catalog, counters grow and gauges move after
#    CALL oceanbase.dbp_double_tick(), and CALL oceanbase.dbp_double_restart(ip) lowers that
#    server's counters (a counter reset);
#  * mariadb: runs its SQL against the server itself; every listed status variable must exist
#    (wsrep_* only when the server runs with wsrep_on; optional ones are reported when absent),
#    values are numeric (or in value_map) and counters do not go backwards.
#
# Starts nothing. Needs a MariaDB (>= 10.6, for JSON_TABLE) given by the environment:
#   DBP_TEST_MYSQL_SOCKET              a unix socket, or
#   DBP_TEST_MYSQL_HOST + DBP_TEST_MYSQL_PORT
#   DBP_TEST_MYSQL_USER                default root
#   DBP_TEST_MYSQL_PASSWORD_FILE       optional; a file holding the password (never on a command line)
#   DBP_TEST_KEEP_DOUBLE=1             leave the `oceanbase` schema in place afterwards
#   DBP_TEST_NO_PYYAML=1               use the built-in YAML-subset reader even if PyYAML is there
# Exit 77 (skip) when no server is given or no mysql client / python3 is installed.
# The user needs CREATE/DROP DATABASE, CREATE VIEW and CREATE ROUTINE. The schema `oceanbase` is
# dropped and recreated; the test refuses to touch one that is not an OceanBase test double.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"

if [[ -z "${DBP_TEST_MYSQL_SOCKET:-}" && ( -z "${DBP_TEST_MYSQL_HOST:-}" || -z "${DBP_TEST_MYSQL_PORT:-}" ) ]]; then
    echo "# SKIP: set DBP_TEST_MYSQL_SOCKET or DBP_TEST_MYSQL_HOST and DBP_TEST_MYSQL_PORT" >&2
    exit 77
fi
client="$(command -v mariadb || command -v mysql || true)"
if [[ -z "$client" ]]; then
    echo "# SKIP: no mariadb/mysql client" >&2
    exit 77
fi
if ! command -v python3 >/dev/null; then
    echo "# SKIP: no python3" >&2
    exit 77
fi

tmp="$(mktemp -d)"
# shellcheck disable=SC2317  # called by the trap
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
chmod 700 "$tmp"

# client options file: the password goes here, never on a command line
opt="$tmp/client.cnf"
(
    umask 077
    {
        echo "[client]"
        echo "user=${DBP_TEST_MYSQL_USER:-root}"
        if [[ -n "${DBP_TEST_MYSQL_SOCKET:-}" ]]; then
            echo "socket=${DBP_TEST_MYSQL_SOCKET}"
        else
            echo "host=${DBP_TEST_MYSQL_HOST}"
            echo "port=${DBP_TEST_MYSQL_PORT}"
            echo "protocol=TCP"
        fi
        if [[ -n "${DBP_TEST_MYSQL_PASSWORD_FILE:-}" ]]; then
            pw="$(head -n 1 "$DBP_TEST_MYSQL_PASSWORD_FILE")"
            pw="${pw//\\/\\\\}"
            pw="${pw//\"/\\\"}"
            echo "password=\"$pw\""
        fi
    } > "$opt"
)

export DBP_CAT_CLIENT="$client" DBP_CAT_OPTS="$opt" DBP_CAT_ROOT="$root"
rc=0
python3 - <<'PY' || rc=$?
import os, re, subprocess, sys

ROOT = os.environ["DBP_CAT_ROOT"]
CLIENT = os.environ["DBP_CAT_CLIENT"]
OPTS = os.environ["DBP_CAT_OPTS"]
CATDIR = os.path.join(ROOT, "config", "catalog")
DOUBLE = os.path.join(ROOT, "tests", "data", "ob_double")
KEEP = os.environ.get("DBP_TEST_KEEP_DOUBLE") == "1"

n_test = 0
n_fail = 0


def ok(cond, desc, detail=None):
    global n_test, n_fail
    n_test += 1
    print(("ok %d - %s" if cond else "not ok %d - %s") % (n_test, desc))
    if not cond:
        n_fail += 1
        if detail:
            for line in str(detail).splitlines()[:25]:
                print("#   " + line)
    sys.stdout.flush()
    return cond


def note(msg):
    print("# " + msg)


# ------------------------------------------------------------------ YAML
def load_yaml(path):
    text = open(path, encoding="utf-8").read()
    try:
        if os.environ.get("DBP_TEST_NO_PYYAML") == "1":
            raise ImportError("forced")
        import yaml  # PyYAML when present
        return yaml.safe_load(text)
    except ImportError:
        return MiniYaml(text).parse()


class MiniYaml:
    """The YAML subset the catalogs use (block maps and lists, flow maps, quoted and plain
    scalars, folded/literal block scalars, comments), for machines without PyYAML."""

    def __init__(self, text):
        self.lines = []
        for raw in text.splitlines():
            self.lines.append(raw.rstrip("\n"))
        self.i = 0

    @staticmethod
    def strip_comment(s):
        out, q = [], None
        for k, ch in enumerate(s):
            if q:
                out.append(ch)
                if ch == "\\" and q == '"':
                    continue
                if ch == q and not (q == '"' and k > 0 and s[k - 1] == "\\"):
                    q = None
            elif ch in "\"'":
                q = ch
                out.append(ch)
            elif ch == "#" and (k == 0 or s[k - 1] in " \t"):
                break
            else:
                out.append(ch)
        return "".join(out).rstrip()

    def next_content(self):
        while self.i < len(self.lines):
            s = self.strip_comment(self.lines[self.i])
            if s.strip():
                return self.i, len(s) - len(s.lstrip(" ")), s.strip()
            self.i += 1
        return None

    def parse(self):
        c = self.next_content()
        return None if c is None else self.block(c[1])

    def block(self, indent):
        c = self.next_content()
        if c is None:
            return None
        if c[2].startswith("- ") or c[2] == "-":
            return self.seq(indent)
        return self.map(indent)

    def seq(self, indent):
        out = []
        while True:
            c = self.next_content()
            if c is None or c[1] != indent or not (c[2].startswith("- ") or c[2] == "-"):
                return out
            line = self.lines[c[0]]
            rest = line[c[1] + 1:]
            if not rest.strip():
                self.i += 1
                out.append(self.block(self.next_content()[1]))
                continue
            sub = indent + 1 + (len(rest) - len(rest.lstrip(" ")))
            self.lines[c[0]] = " " * sub + rest.lstrip(" ")
            if re.match(r'^\s*("[^"]*"|[^:{\["]+):(\s|$)', self.lines[c[0]]):
                out.append(self.map(sub))
            else:
                self.i += 1
                out.append(self.scalar(self.strip_comment(rest).strip()))

    def map(self, indent):
        out = {}
        while True:
            c = self.next_content()
            if c is None or c[1] != indent or c[2].startswith("- "):
                return out
            s = c[2]
            m = re.match(r'^("(?:[^"\\]|\\.)*"|[^:]+?):(?:\s+(.*))?$', s)
            if not m:
                raise ValueError("line %d: cannot parse %r" % (c[0] + 1, s))
            key = self.scalar(m.group(1))
            val = (m.group(2) or "").strip()
            self.i += 1
            if val in (">", ">-", "|", "|-"):
                out[key] = self.block_scalar(indent, val)
            elif val == "":
                nc = self.next_content()
                if nc is not None and (nc[1] > indent or (nc[1] == indent and nc[2].startswith("- "))):
                    out[key] = self.block(nc[1])
                else:
                    out[key] = None
            else:
                out[key] = self.scalar(val)

    def block_scalar(self, indent, style):
        parts, ind = [], None
        while self.i < len(self.lines):
            raw = self.lines[self.i]
            if raw.strip() == "":
                parts.append("")
                self.i += 1
                continue
            lead = len(raw) - len(raw.lstrip(" "))
            if lead <= indent:
                break
            if ind is None:
                ind = lead
            parts.append(raw[ind:])
            self.i += 1
        while parts and parts[-1] == "":
            parts.pop()
        if style.startswith("|"):
            return "\n".join(parts)
        out = ""
        for p in parts:  # folding; more-indented lines keep their newline
            if not out:
                out = p
            elif p.startswith(" ") or out.endswith("\n"):
                out += "\n" + p
            else:
                out += " " + p
        return out

    def scalar(self, s):
        s = s.strip()
        if s.startswith("{") and s.endswith("}"):
            res = {}
            for item in self.split_flow(s[1:-1]):
                k, _, v = item.partition(":")
                res[self.scalar(k)] = self.scalar(v)
            return res
        if s.startswith("[") and s.endswith("]"):
            return [self.scalar(x) for x in self.split_flow(s[1:-1])]
        if s.startswith('"') and s.endswith('"'):
            return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), s[1:-1])
        if s.startswith("'") and s.endswith("'"):
            return s[1:-1].replace("''", "'")
        if s in ("true", "True"):
            return True
        if s in ("false", "False"):
            return False
        if s in ("null", "~", ""):
            return None
        if re.fullmatch(r"-?\d+", s):
            return int(s)
        if re.fullmatch(r"-?\d+\.\d*", s):
            return float(s)
        return s

    @staticmethod
    def split_flow(s):
        out, cur, q, depth = [], "", None, 0
        for ch in s:
            if q:
                cur += ch
                if ch == q:
                    q = None
            elif ch in "\"'":
                q = ch
                cur += ch
            elif ch in "{[":
                depth += 1
                cur += ch
            elif ch in "}]":
                depth -= 1
                cur += ch
            elif ch == "," and depth == 0:
                out.append(cur.strip())
                cur = ""
            else:
                cur += ch
        if cur.strip():
            out.append(cur.strip())
        return out


# ------------------------------------------------------------------ SQL client
class SqlError(Exception):
    pass


def sql(query, db=None):
    args = [CLIENT, "--defaults-extra-file=" + OPTS, "--batch", "--raw", "--skip-column-names",
            "--default-character-set=utf8mb4"]
    if db:
        args.append(db)
    r = subprocess.run(args + ["-e", query], capture_output=True, text=True)
    if r.returncode != 0:
        raise SqlError(r.stderr.strip() or "exit %d" % r.returncode)
    rows = []
    for line in r.stdout.splitlines():
        rows.append([None if c == "NULL" else c for c in line.split("\t")])
    return rows


def sql_file(path):
    args = [CLIENT, "--defaults-extra-file=" + OPTS, "--batch"]
    with open(path, "rb") as f:
        r = subprocess.run(args, stdin=f, capture_output=True, text=True)
    if r.returncode != 0:
        raise SqlError("%s: %s" % (os.path.basename(path), r.stderr.strip()))


def try_sql(query, desc):
    try:
        return sql(query)
    except SqlError as e:
        ok(False, desc, e)
        return None


# ------------------------------------------------------------------ static checks
ORIGINAL_58 = {
    "cpu": ["cpu usage", "worker time", "cpu time"],
    "memory": ["active memstore used", "total memstore used", "memstore limit", "memory usage",
               "observer memory hold size"],
    "io": ["row cache hit", "row cache miss", "io read count", "io read delay", "io write count",
           "io write delay", "accessed data micro block count", "data micro block cache hit",
           "index micro block cache hit", "blockscaned data micro block count",
           "palf write io count to disk", "palf write size to disk", "clog trans log total size"],
    "network": ["rpc packet in", "rpc packet in bytes", "rpc packet out", "rpc packet out bytes",
                "rpc deliver fail", "rpc net delay", "rpc net frame delay", "mysql packet in",
                "mysql packet in bytes", "mysql packet out", "mysql packet out bytes", "mysql deliver fail"],
    "transactions": ["request queue time", "trans system trans count", "trans user trans count",
                     "trans commit count", "trans rollback count", "trans timeout count",
                     "commit log replay count", "local trans total used time",
                     "distributed trans total used time", "sql select count", "sql update count",
                     "sql delete count", "sql other count", "ps prepare count", "ps execute count",
                     "sql local count", "sql remote count", "sql distributed count", "active sessions",
                     "sql inner insert count", "sql inner update count", "sql fail count",
                     "memstore write lock succ count", "memstore write lock fail count", "DB time"],
}
# the kinds the original's name heuristic got wrong (reference §4.2); checked explicitly
HEURISTIC_WRONG = {"palf write size to disk": "counter", "rpc deliver fail": "counter",
                   "mysql deliver fail": "counter", "request queue time": "counter",
                   "active sessions": "gauge"}
HOST_SOURCES = {"proc_stat_cpu", "proc_io_read", "proc_io_write", "proc_rss", "cgroup_cpu_throttled"}
METRIC_KEYS = {"name", "category", "kind", "unit", "stat_id", "help", "note", "value_type",
               "kind_override", "optional", "original", "value_map", "source"}
VERSIONS = {
    "oceanbase4": (["5.7.25-OceanBase_CE-v4.2.1.2", "5.7.25-OceanBase-v4.3.5.0"],
                   ["5.7.25-OceanBase_CE-v3.1.5", "10.11.19-MariaDB-0+deb12u1"]),
    "oceanbase3": (["5.7.25-OceanBase_CE-v3.1.5", "5.7.25-OceanBase-v3.2.4.1"],
                   ["5.7.25-OceanBase_CE-v4.2.1.2", "10.11.19-MariaDB-0+deb12u1"]),
    "mariadb": (["10.11.19-MariaDB-0+deb12u1", "11.4.2-MariaDB"],
                ["5.7.25-OceanBase_CE-v4.2.1.2", "8.0.36"]),
}


def in_list(query_sql):
    m = re.search(r"\bIN\s*\(([^()]*)\)\s*$", query_sql.strip(), re.S | re.I)
    return None if not m else re.findall(r"'([^']*)'", m.group(1))


def static_checks(name, cat):
    errs = []
    if cat.get("name") != name:
        errs.append("name %r != file name %r" % (cat.get("name"), name))
    qs = cat.get("queries") or []
    if not qs:
        errs.append("no queries")
    for q in qs:
        if q.get("scope") not in ("cluster", "node"):
            errs.append("query %s: bad scope" % q.get("id"))
        cols = q.get("columns") or {}
        if "metric" not in cols or "value" not in cols:
            errs.append("query %s: columns need metric and value" % q.get("id"))
        if "kind" in cols and not q.get("kind_values"):
            errs.append("query %s: kind column without kind_values" % q.get("id"))
        if q.get("keep") not in ("listed", "all"):
            errs.append("query %s: keep must be listed|all" % q.get("id"))
    for blk in ("tenants", "discovery"):
        if blk in cat and not (cat[blk] or {}).get("sql"):
            errs.append("%s without sql" % blk)
    mets = cat.get("metrics") or []
    seen = {}
    for mt in mets + (cat.get("host") or []):
        n = mt.get("name")
        if not n or not isinstance(n, str):
            errs.append("metric without name: %r" % mt)
            continue
        if n.lower() in seen:
            errs.append("duplicate metric %r" % n)
        seen[n.lower()] = mt
        extra = set(mt) - METRIC_KEYS
        if extra:
            errs.append("%s: unknown keys %s" % (n, sorted(extra)))
        if not re.fullmatch(r"[a-z][a-z0-9_]*", str(mt.get("category", ""))):
            errs.append("%s: category %r not lower-case" % (n, mt.get("category")))
        if mt.get("kind") not in ("counter", "gauge"):
            errs.append("%s: kind %r" % (n, mt.get("kind")))
        if not mt.get("unit") or not mt.get("help"):
            errs.append("%s: unit and help are required" % n)
        for k, v in (mt.get("value_map") or {}).items():
            if not isinstance(v, (int, float)):
                errs.append("%s: value_map %r is not numeric" % (n, k))
    for h in cat.get("host") or []:
        if h.get("source") not in HOST_SOURCES:
            errs.append("host metric %s: source %r" % (h.get("name"), h.get("source")))
    ok(not errs, "%s: catalog is well formed (%d metrics, %d host metrics)"
       % (name, len(mets), len(cat.get("host") or [])), "\n".join(errs))

    # the SQL's IN-list is exactly the declared metrics (keep: listed)
    declared = {m["name"].lower() for m in mets}
    for q in qs:
        if q.get("keep") != "listed":
            continue
        lst = in_list(q["sql"])
        if lst is None:
            note("%s/%s: no IN-list, filtering is left to keep: listed" % (name, q.get("id")))
            continue
        got = {x.lower() for x in lst}
        ok(got == declared and len(lst) == len(got),
           "%s/%s: the SQL's IN-list names exactly the declared metrics" % (name, q.get("id")),
           "only in SQL: %s\nonly declared: %s" % (sorted(got - declared), sorted(declared - got)))

    pat = cat.get("match_version")
    if pat:
        yes, no = VERSIONS.get(name, ([], []))
        rx = re.compile(pat)
        bad = [v for v in yes if not rx.search(v)] + ["(should not match) " + v for v in no if rx.search(v)]
        ok(not bad, "%s: match_version %r tells its servers apart" % (name, pat), "\n".join(bad))

    if name.startswith("oceanbase"):
        errs = []
        for catg, names in ORIGINAL_58.items():
            for n in names:
                mt = seen.get(n.lower())
                if mt is None:
                    errs.append("missing %r" % n)
                elif mt["name"] != n:
                    errs.append("%r spelled %r" % (n, mt["name"]))
                elif mt.get("category") != catg:
                    errs.append("%r: category %r, the original has %r" % (n, mt.get("category"), catg))
                elif not mt.get("original"):
                    errs.append("%r: not marked original" % n)
        origs = [m["name"] for m in mets if m.get("original")]
        if len(origs) != 58:
            errs.append("%d metrics marked original" % len(origs))
        for n, k in HEURISTIC_WRONG.items():
            if seen.get(n.lower(), {}).get("kind") != k:
                errs.append("%r must be a %s" % (n, k))
        for mt in mets:
            if not isinstance(mt.get("stat_id"), int):
                errs.append("%s: stat_id missing" % mt["name"])
        ok(not errs, "%s: all 58 metrics of the original catalogue, same categories, right kinds" % name,
           "\n".join(errs))
    if name == "oceanbase4":
        errs = []
        kv = qs[0].get("kind_values") or {}
        by_vt = {v: k for k, v in kv.items()}
        for mt in mets:
            vt = mt.get("value_type")
            if vt not in by_vt:
                errs.append("%s: value_type %r" % (mt["name"], vt))
                continue
            differs = by_vt[vt] != mt["kind"]
            if differs and not mt.get("kind_override"):
                errs.append("%s: kind %s but VALUE_TYPE %s says %s and no kind_override"
                            % (mt["name"], mt["kind"], vt, by_vt[vt]))
            if mt.get("kind_override") and not differs:
                errs.append("%s: kind_override where VALUE_TYPE already agrees" % mt["name"])
        ok(not errs, "oceanbase4: kind agrees with VALUE_TYPE except where kind_override says why",
           "\n".join(errs))
    return seen


# ------------------------------------------------------------------ OceanBase test double
def effective_kind(cat, q, mt, row):
    cols = q["columns"]
    if "kind" in cols and not mt.get("kind_override"):
        by_vt = {v: k for k, v in q["kind_values"].items()}
        return by_vt.get(row[cols["kind"]])
    return mt["kind"]


def sample(cat, q):
    cols = q["columns"]
    rows = sql(q["sql"])
    out = {}
    for r in rows:
        key = (int(r[cols["tenant"]]), r[cols["node_host"]], int(r[cols["node_port"]]), r[cols["metric"]].lower())
        out[key] = r
    return out


def check_double(name, cat, schema, version_label):
    note("--- %s against the OceanBase test double (%s)" % (name, os.path.basename(schema)))
    try:
        exists = sql("SELECT COUNT(*) FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'oceanbase'")[0][0]
        if exists != "0":
            ours = sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'oceanbase' "
                       "AND TABLE_NAME = 'dbp_double_state'")[0][0]
            if ours == "0":
                ok(False, "%s: schema `oceanbase` exists and is not an OceanBase test double; not touching it" % name)
                return
        sql_file(schema)
        sql_file(os.path.join(DOUBLE, "tick.sql"))
    except SqlError as e:
        ok(False, "%s: load the OceanBase test double" % name, e)
        return
    ok(True, "%s: OceanBase test double loaded (%s + tick.sql)" % (name, os.path.basename(schema)))

    mets = {m["name"].lower(): m for m in cat["metrics"]}
    required = {n for n, m in mets.items() if not m.get("optional")}

    rows = try_sql(cat["tenants"]["sql"], "%s: tenants SQL runs" % name)
    if rows is None:
        return
    tc = cat["tenants"].get("columns", {"id": 0, "name": 1})
    tenants = {int(r[tc["id"]]): r[tc["name"]] for r in rows}
    want = {1: "sys", 1002: "t1"} if name == "oceanbase4" else {1: "sys", 1001: "t1"}
    ok(tenants == want, "%s: tenants SQL returns sys and the user tenant, no META/internal tenant" % name,
       "got %r" % tenants)

    rows = try_sql(cat["discovery"]["sql"], "%s: discovery SQL runs" % name)
    if rows is None:
        return
    dc = cat["discovery"]["columns"]
    nodes = []
    errs = []
    for r in rows:
        try:
            nodes.append((r[dc["host"]], int(r[dc["port"]]), int(r[dc["rpc_port"]])))
        except (ValueError, TypeError, IndexError) as e:
            errs.append("%r: %s" % (r, e))
    ok(not errs and sorted(h for h, _, _ in nodes) == ["10.0.0.1", "10.0.0.2", "10.0.0.3"]
       and all(p == 2881 and rp == 2882 for _, p, rp in nodes),
       "%s: discovery lists the 3 observers with SQL port and RPC port" % name, "\n".join(errs) or repr(nodes))
    servers = {(h, rp) for h, _, rp in nodes}

    q = cat["queries"][0]
    try:
        s1 = sample(cat, q)
    except SqlError as e:
        ok(False, "%s: metric SQL runs unchanged" % name, e)
        return
    ok(len(s1) > 0, "%s: metric SQL runs unchanged and returns %d rows" % (name, len(s1)))

    bad_t = sorted({k[0] for k in s1} - set(tenants))
    ok(not bad_t, "%s: rows only for listed tenants (META and internal tenants filtered)" % name, bad_t)
    bad_s = sorted({(k[1], k[2]) for k in s1} - servers)
    ok(not bad_s, "%s: every row's (SVR_IP, SVR_PORT) is a discovered observer" % name, bad_s)
    unlisted = sorted({k[3] for k in s1} - set(mets))
    ok(not unlisted, "%s: statistics the catalog does not list are filtered out by the SQL" % name, unlisted)

    missing, absent_opt = [], set()
    for t in tenants:
        for (h, rp) in servers:
            for n in mets:
                if (t, h, rp, n) not in s1:
                    (missing.append("%s tenant %d on %s:%d" % (n, t, h, rp)) if n in required
                     else absent_opt.add(n))
    ok(not missing, "%s: every required metric present for every observer x tenant (%d x %d x %d)"
       % (name, len(servers), len(tenants), len(required)), "\n".join(missing))
    if absent_opt:
        note("%s: optional metrics the %s double does not define (reported missing, as on a real %s): %s"
             % (name, version_label, version_label, ", ".join(sorted(absent_opt))))

    errs = []
    cols = q["columns"]
    for key, r in s1.items():
        try:
            int(r[cols["value"]])
        except (TypeError, ValueError):
            errs.append("%s: value %r" % (key, r[cols["value"]]))
        mt = mets[key[3]]
        if "kind" in cols and r[cols["kind"]] != mt.get("value_type"):
            errs.append("%s: VALUE_TYPE %s, catalog value_type %s" % (key[3], r[cols["kind"]], mt.get("value_type")))
        if effective_kind(cat, q, mt, r) != mt["kind"]:
            errs.append("%s: the collector would take it as %s" % (key[3], effective_kind(cat, q, mt, r)))
    ok(not errs, "%s: values are integers%s and the effective kind agrees with the catalog"
       % (name, ", VALUE_TYPE" if "kind" in cols else ""),
       "\n".join(sorted(set(errs))))

    try:
        sql("CALL oceanbase.dbp_double_tick()")
        s2 = sample(cat, q)
    except SqlError as e:
        ok(False, "%s: CALL dbp_double_tick()" % name, e)
        return
    errs = []
    for key, r in s1.items():
        mt = mets[key[3]]
        v1, v2 = int(r[cols["value"]]), int(s2[key][cols["value"]])
        kind = effective_kind(cat, q, mt, r)
        if kind == "counter" and not v2 > v1:
            errs.append("counter %s %s: %d -> %d" % (key[3], key[:3], v1, v2))
        if kind == "gauge" and v2 == v1:
            errs.append("gauge %s %s stayed %d" % (key[3], key[:3], v1))
    ok(not errs, "%s: after a tick every counter grew and every gauge moved (%d series)" % (name, len(s1)),
       "\n".join(errs))

    try:
        sql("CALL oceanbase.dbp_double_restart('10.0.0.2')")
        s3 = sample(cat, q)
    except SqlError as e:
        ok(False, "%s: CALL dbp_double_restart('10.0.0.2')" % name, e)
        return
    errs, n_reset = [], 0
    for key, r in s2.items():
        mt = mets[key[3]]
        if effective_kind(cat, q, mt, r) != "counter":
            continue
        v2, v3 = int(r[cols["value"]]), int(s3[key][cols["value"]])
        if key[1] == "10.0.0.2":
            n_reset += 1
            if not v3 < v2:
                errs.append("%s %s not reset: %d -> %d" % (key[3], key[:3], v2, v3))
        elif v3 != v2:
            errs.append("%s %s changed without a tick: %d -> %d" % (key[3], key[:3], v2, v3))
    ok(not errs and n_reset > 0,
       "%s: a restart of 10.0.0.2 lowers its %d counters and leaves the others alone" % (name, n_reset),
       "\n".join(errs))
    try:
        sql("CALL oceanbase.dbp_double_restart('10.9.9.9')")
        ok(False, "%s: restarting an unknown observer is an error" % name)
    except SqlError:
        ok(True, "%s: restarting an unknown observer is an error" % name)

    for view in ("V$SYSSTAT", "v$sysstat"):
        local = try_sql("SELECT DISTINCT SVR_IP FROM oceanbase.`%s`" % view, "%s: %s runs" % (name, view))
        if local is not None:
            ok(local == [["10.0.0.1"]], "%s: %s shows only the local observer" % (name, view), local)
    for view in ("GV$SYSSTAT", "gv$sysstat"):
        n_rows = try_sql("SELECT COUNT(*) FROM oceanbase.`%s`" % view, "%s: %s runs" % (name, view))
        if n_rows is not None:
            ok(int(n_rows[0][0]) > len(s1), "%s: %s (any case) holds more than the catalog's rows" % (name, view))


# ------------------------------------------------------------------ MariaDB itself
def check_mariadb(cat):
    note("--- mariadb against the server itself")
    try:
        wsrep = sql("SELECT @@GLOBAL.wsrep_on")[0][0] in ("1", "ON")
    except SqlError:
        wsrep = False
    note("server version %s, wsrep_on=%s" % (sql("SELECT VERSION()")[0][0], wsrep))
    rows = try_sql(cat["discovery"]["sql"], "mariadb: discovery SQL runs")
    if rows is not None:
        dc = cat["discovery"]["columns"]
        errs = []
        for r in rows:
            if not r[dc["host"]] or not str(r[dc["port"]]).isdigit():
                errs.append(repr(r))
        ok(not errs, "mariadb: discovery SQL runs, %d node(s) from wsrep_incoming_addresses" % len(rows),
           "\n".join(errs))

    q = cat["queries"][0]
    cols = q["columns"]
    mets = {m["name"].lower(): m for m in cat["metrics"]}

    def take():
        return {r[cols["metric"]].lower(): r[cols["value"]] for r in sql(q["sql"])}

    try:
        s1 = take()
        for _ in range(3):
            sql("SELECT COUNT(*) FROM information_schema.GLOBAL_STATUS")
        s2 = take()
    except SqlError as e:
        ok(False, "mariadb: metric SQL runs", e)
        return
    ok(len(s1) > 0, "mariadb: metric SQL runs and returns %d rows" % len(s1))
    missing, skipped, absent_opt = [], [], []
    for n, mt in mets.items():
        if n in s1:
            continue
        if n.startswith("wsrep_") and not wsrep:
            skipped.append(mt["name"])
        elif mt.get("optional"):
            absent_opt.append(mt["name"])
        else:
            missing.append(mt["name"])
    ok(not missing, "mariadb: every listed status variable exists on this server", "\n".join(missing))
    if skipped:
        note("SKIP %d wsrep_* metrics: the server does not run with wsrep_on" % len(skipped))
    if absent_opt:
        note("optional metrics absent on this server: %s" % ", ".join(absent_opt))
    if wsrep:
        ok(all(n.lower() in s1 for n in mets if n.startswith("wsrep_")),
           "mariadb: all wsrep_* metrics present on this Galera node")

    undeclared = sorted(n for n in s1 if n not in mets)
    ok(not undeclared, "mariadb: the SQL returns only declared metrics", undeclared)
    s1 = {n: v for n, v in s1.items() if n in mets}
    errs = []
    for n, v in s1.items():
        mt = mets[n]
        vm = {str(k).upper(): x for k, x in (mt.get("value_map") or {}).items()}
        if vm:
            if str(v).upper() not in vm:
                errs.append("%s: %r not in value_map" % (mt["name"], v))
            continue
        try:
            float(v)
        except (TypeError, ValueError):
            errs.append("%s: %r is not numeric" % (mt["name"], v))
    ok(not errs, "mariadb: every value is numeric or mapped by value_map", "\n".join(errs))
    errs = [n for n in s1 if mets[n]["kind"] == "counter" and n in s2 and not mets[n].get("value_map")
            and float(s2[n]) < float(s1[n])]
    ok(not errs, "mariadb: no counter went backwards between two samples", errs)
    ok("questions" in s1 and "questions" in s2 and float(s2["questions"]) > float(s1["questions"]),
       "mariadb: Questions counts the statements in between")


# ------------------------------------------------------------------ main
cats = {}
for name in ("oceanbase4", "oceanbase3", "mariadb"):
    path = os.path.join(CATDIR, name + ".yaml")
    try:
        cats[name] = load_yaml(path)
        ok(isinstance(cats[name], dict), "%s: %s parses" % (name, os.path.relpath(path, ROOT)))
    except Exception as e:  # noqa: BLE001 - report any parse failure as a test failure
        ok(False, "%s: %s parses" % (name, os.path.relpath(path, ROOT)), e)
for name, cat in cats.items():
    if isinstance(cat, dict):
        static_checks(name, cat)
o4 = {m["name"] for m in cats["oceanbase4"]["metrics"] if m.get("original")}
o3 = {m["name"] for m in cats["oceanbase3"]["metrics"] if m.get("original")}
ok(o4 == o3, "oceanbase3 and oceanbase4 carry the same original 58 names", sorted(o4 ^ o3))

try:
    sql("SELECT 1")
except SqlError as e:
    ok(False, "connect to the test server", e)
    print("1..%d" % n_test)
    sys.exit(1)

try:
    if "oceanbase4" in cats:
        check_double("oceanbase4", cats["oceanbase4"], os.path.join(DOUBLE, "schema4.sql"), "4.x")
    if "oceanbase3" in cats:
        check_double("oceanbase3", cats["oceanbase3"], os.path.join(DOUBLE, "schema3.sql"), "3.x")
finally:
    if not KEEP:
        try:
            if sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'oceanbase' "
                   "AND TABLE_NAME = 'dbp_double_state'")[0][0] != "0":
                sql("DROP DATABASE oceanbase")
        except SqlError as e:
            note("could not drop the test double: %s" % e)
if "mariadb" in cats:
    check_mariadb(cats["mariadb"])

print("1..%d" % n_test)
sys.exit(1 if n_fail else 0)
PY
exit "$rc"
