#!/usr/bin/env bash
# tests/workload/test_lua_tpch.sh - end-to-end test of scripts/lua/tpch.lua (sysbench 1.0.20).
#
# Runs, exactly the way the daemon does (connection settings and script options in a 0600
# --config-file, no password on any command line):
#   cleanup (leftovers) -> prepare (SF 0.01, 2 threads) -> check -> run (1 thread, one
#   stream of the 22 queries) -> cleanup
# and asserts: every step's exit status, "Check: PASSED" (row counts of the 8 tables match
# the specification for SF 0.01; lineitem within +-2%), one "Query N completed - Time: X.XXXs"
# line for each N in 1..22 (the format the original system's regex expects), the stream
# summary line and 0 failed queries, that script options from the config file are honoured,
# and that cleanup dropped the tables. Output formats: docs/workloads-lua.md.
#
# Environment (exit 77 = skip when the server is not given or sysbench is missing):
#   DBP_TEST_MYSQL_HOST + DBP_TEST_MYSQL_PORT   the server (or DBP_TEST_MYSQL_SOCKET)
#   DBP_TEST_MYSQL_USER                         default root
#   DBP_TEST_MYSQL_PASSWORD_FILE                optional; file whose first line is the password
#   DBP_TEST_MYSQL_DB                           an existing database; its TPC-H tables (region,
#                                               nation, supplier, part, partsupp, customer,
#                                               orders, lineitem) are dropped
#   DBP_TEST_KEEP_LOGS=1                        keep the temp dir with the sysbench logs
# Exit: 0 pass, 1 fail, 77 skip.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${DBP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}"
script="$root/scripts/lua/tpch.lua"

skip() { echo "# SKIP: $*" >&2; exit 77; }
if [[ -z "${DBP_TEST_MYSQL_SOCKET:-}" && ( -z "${DBP_TEST_MYSQL_HOST:-}" || -z "${DBP_TEST_MYSQL_PORT:-}" ) ]]; then
    skip "set DBP_TEST_MYSQL_HOST and DBP_TEST_MYSQL_PORT (or DBP_TEST_MYSQL_SOCKET)"
fi
[[ -n "${DBP_TEST_MYSQL_DB:-}" ]] || skip "set DBP_TEST_MYSQL_DB"
command -v sysbench >/dev/null 2>&1 || skip "sysbench is not installed"
case "${DBP_TEST_MYSQL_DB,,}" in
    mysql|information_schema|performance_schema|sys)
        echo "FAIL: refusing to use system schema '$DBP_TEST_MYSQL_DB'" >&2; exit 1 ;;
esac

tmp="$(mktemp -d)"
if [[ "${DBP_TEST_KEEP_LOGS:-}" == 1 ]]; then
    trap 'echo "# logs kept in $tmp" >&2' EXIT
else
    trap 'rm -rf "$tmp"' EXIT
fi

fail() {
    echo "FAIL: $*" >&2
    for f in "$tmp"/*.log; do
        [[ -f "$f" ]] || continue
        echo "----- $(basename "$f") (last 40 lines)" >&2
        tail -n 40 "$f" >&2
    done
    exit 1
}

# --- config file (0600), the way the daemon writes it --------------------------------------
password=""
if [[ -n "${DBP_TEST_MYSQL_PASSWORD_FILE:-}" ]]; then
    [[ -r "$DBP_TEST_MYSQL_PASSWORD_FILE" ]] || fail "cannot read $DBP_TEST_MYSQL_PASSWORD_FILE"
    IFS= read -r password < "$DBP_TEST_MYSQL_PASSWORD_FILE" || true
    password="${password%$'\r'}"
fi
# sysbench's config parser splits values on whitespace and ','; a value in "..." or '...'
# is taken literally up to the matching quote.
if [[ "$password" != *'"'* ]]; then
    qpassword="\"$password\""
elif [[ "$password" != *"'"* ]]; then
    qpassword="'$password'"
else
    skip "the password contains both quote characters; sysbench's config file cannot carry it"
fi

cfg="$tmp/sysbench.cfg"
(
    umask 077
    {
        if [[ -n "${DBP_TEST_MYSQL_SOCKET:-}" ]]; then
            echo "mysql-socket=$DBP_TEST_MYSQL_SOCKET"
        else
            echo "mysql-host=$DBP_TEST_MYSQL_HOST"
            echo "mysql-port=$DBP_TEST_MYSQL_PORT"
        fi
        echo "mysql-user=${DBP_TEST_MYSQL_USER:-root}"
        echo "mysql-password=$qpassword"
        echo "mysql-db=$DBP_TEST_MYSQL_DB"
        echo "db-driver=mysql"
        # script options in the config file (sysbench itself ignores them; tpch.lua reads them)
        echo "scale=0.01"
        echo "streams=1"
        echo "mysql_storage_engine=InnoDB"
        echo "query_timeout=300"
    } > "$cfg"
)
chmod 600 "$cfg"
[[ "$(stat -c %a "$cfg")" == 600 ]] || fail "config file mode is not 0600"

sb() { # sb <log> <timeout> <sysbench args...>
    local log="$tmp/$1.log" to="$2"
    shift 2
    timeout "$to" sysbench --config-file="$cfg" "$@" > "$log" 2>&1
}

# --- cleanup leftovers, prepare, check ------------------------------------------------------
sb cleanup0 120 "$script" cleanup || fail "initial cleanup failed"

t0=$(date +%s.%N)
sb prepare 600 --threads=2 "$script" prepare || fail "prepare failed"
t1=$(date +%s.%N)
grep -q "engine InnoDB" "$tmp/prepare.log" || fail "script option from the config file was ignored"
grep -q "^Prepare done: scale: 0.01 " "$tmp/prepare.log" || fail "no 'Prepare done' line"
echo "# prepare: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"

sb check 300 "$script" check || fail "check after prepare failed"
grep -q "^Check: PASSED" "$tmp/check.log" || fail "check did not pass"
for t in region:5 nation:25 supplier:100 part:2000 partsupp:8000 customer:1500 orders:15000; do
    grep -q "^Table ${t%%:*} rows: ${t##*:} expected: ${t##*:} tolerance: exact status: OK$" \
        "$tmp/check.log" || fail "row count of ${t%%:*} is not ${t##*:}"
done
grep -qE '^Table lineitem rows: [0-9]+ expected: 60000 tolerance: 2% status: OK$' "$tmp/check.log" \
    || fail "lineitem row count not within 2% of 60000"

# --- run: one stream of 22 queries --------------------------------------------------------
sb run 900 --threads=1 --time=0 --report-interval=5 "$script" run || fail "run failed"
for q in $(seq 1 22); do
    n=$(grep -cE "^Query $q completed - Time: [0-9]+\.[0-9]+s( |$)" "$tmp/run.log")
    [[ "$n" == 1 ]] || fail "expected one 'Query $q completed' line, got $n"
done
grep -qE '^Stream 0 completed - Time: [0-9]+\.[0-9]+s queries: 22 failed: 0$' "$tmp/run.log" \
    || fail "no successful 'Stream 0 completed' line"
grep -qE '^Streams: 1, Queries: 22, Failed: 0, Reconnects: 0$' "$tmp/run.log" \
    || fail "summary does not report 22 successful queries"
grep -q "^Query [0-9]* failed" "$tmp/run.log" && fail "a query failed"
grep -E '^Query [0-9]+ completed' "$tmp/run.log" | sed 's/^/# /'

# --- cleanup ------------------------------------------------------------------------------
sb cleanup 120 "$script" cleanup || fail "cleanup failed"
if sb check2 120 "$script" check; then
    fail "check still passes after cleanup (tables not dropped?)"
fi
echo "PASS: tpch.lua prepare/check/run/cleanup"
exit 0
