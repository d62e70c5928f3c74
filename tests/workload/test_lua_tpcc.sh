#!/usr/bin/env bash
# tests/workload/test_lua_tpcc.sh - end-to-end test of scripts/lua/tpcc.lua (sysbench 1.0.20).
#
# Runs, exactly the way the daemon does (connection settings and script options in a 0600
# --config-file, no password on any command line):
#   cleanup (leftovers) -> prepare (1 warehouse, 2 threads) -> check -> run (20 s,
#   --report-interval=5, 4 threads) -> check (consistency after the run) -> cleanup
# and asserts: every step's exit status, "Check: PASSED", >= 2 standard interval lines and
# >= 2 "[ Ns ] tpmC:" lines, a final "TpmC: x" with x > 0, the per-transaction summary line,
# that the script options written in the config file are honoured, and that cleanup dropped
# the tables. Output formats: docs/workloads-lua.md.
#
# Environment (exit 77 = skip when the server is not given or sysbench is missing):
#   DBP_TEST_MYSQL_HOST + DBP_TEST_MYSQL_PORT   the server (or DBP_TEST_MYSQL_SOCKET)
#   DBP_TEST_MYSQL_USER                         default root
#   DBP_TEST_MYSQL_PASSWORD_FILE                optional; file whose first line is the password
#   DBP_TEST_MYSQL_DB                           an existing database; its TPC-C tables (warehouse,
#                                               district, customer, history, new_orders, orders,
#                                               order_line, item, stock) are dropped
#   DBP_TEST_KEEP_LOGS=1                        keep the temp dir with the sysbench logs
# Exit: 0 pass, 1 fail, 77 skip.
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="${DBP_SOURCE_DIR:-$(cd "$here/../.." && pwd)}"
script="$root/scripts/lua/tpcc.lua"

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
        # script options in the config file (sysbench itself ignores them; tpcc.lua reads them)
        echo "warehouses=1"
        echo "mysql_storage_engine=InnoDB"
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
sb prepare 300 --threads=2 "$script" prepare || fail "prepare failed"
t1=$(date +%s.%N)
grep -q "engine InnoDB" "$tmp/prepare.log" || fail "script option from the config file was ignored"
grep -q "^Prepare done: warehouses: 1 " "$tmp/prepare.log" || fail "no 'Prepare done' line"
echo "# prepare: $(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b-a}') s"

sb check 300 "$script" check || fail "check after prepare failed"
grep -q "^Check: PASSED" "$tmp/check.log" || fail "check did not pass"

# --- run ----------------------------------------------------------------------------------
sb run 120 --threads=4 --time=20 --report-interval=5 "$script" run || fail "run failed"
std=$(grep -cE '^\[ [0-9]+s \] thds: [0-9]+ tps: [0-9.]+ qps: [0-9.]+ \(r/w/o: [0-9./]+\) lat \(ms,95%\): [0-9.]+ err/s: [0-9.]+ reconn/s: [0-9.]+$' "$tmp/run.log")
tpm=$(grep -cE '^\[ [0-9]+s \] tpmC: [0-9.]+ tpmTotal: [0-9.]+$' "$tmp/run.log")
(( std >= 2 )) || fail "expected >= 2 standard interval lines, got $std"
(( tpm >= 2 )) || fail "expected >= 2 tpmC interval lines, got $tpm"
tpmc=$(sed -n 's/^TpmC: \([0-9.]*\)$/\1/p' "$tmp/run.log")
[[ -n "$tpmc" ]] || fail "no 'TpmC:' summary line"
awk -v v="$tpmc" 'BEGIN{exit !(v > 0)}' || fail "TpmC is not > 0 ($tpmc)"
grep -qE '^NewOrder: [0-9]+, Payment: [0-9]+, OrderStatus: [0-9]+, Delivery: [0-9]+, StockLevel: [0-9]+$' \
    "$tmp/run.log" || fail "no per-transaction summary line"
grep -qE '^Rollbacks: [0-9]+, Errors: [0-9]+, Reconnects: [0-9]+$' "$tmp/run.log" \
    || fail "no rollbacks/errors summary line"
echo "# run: TpmC $tpmc ($std interval lines)"
grep -E '^(NewOrder|Rollbacks):' "$tmp/run.log" | sed 's/^/# /'

sb check2 300 "$script" check || fail "check after run failed"
grep -q "^Check: PASSED" "$tmp/check2.log" || fail "consistency check after the run did not pass"

# --- cleanup ------------------------------------------------------------------------------
sb cleanup 120 "$script" cleanup || fail "cleanup failed"
if sb check3 120 "$script" check; then
    fail "check still passes after cleanup (tables not dropped?)"
fi
echo "PASS: tpcc.lua prepare/check/run/cleanup"
exit 0
