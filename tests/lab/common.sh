# shellcheck shell=bash
# Sourced by tests/lab/test_*.sh (not a test itself).
# Exit codes of the tests: 0 pass, 1 fail, 77 skip.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
LAB_SH=$REPO/scripts/lab.sh
LAB=$(realpath -m -- "${DBPECKER_LAB_DIR:-$REPO/.lab}")
MYSQL=$(command -v mariadb || command -v mysql || true)

ok()   { printf 'ok: %s\n' "$*"; }
fail() { printf 'FAIL: %s\n' "$*"; exit 1; }
skip() { printf 'SKIP: %s\n' "$*"; exit 77; }
info() { printf '  .. %s\n' "$*"; }

[ -n "$MYSQL" ] || skip "no mariadb client installed"

# Was the lab healthy before this test?  Tests put it back that way.
LAB_WAS_UP=0
if [ -x "$LAB_SH" ] && "$LAB_SH" status >/dev/null 2>&1; then LAB_WAS_UP=1; fi
restore_lab() {
  if [ "$LAB_WAS_UP" = 0 ]; then
    info "stopping the lab (it was not running before this test)"
    "$LAB_SH" stop >/dev/null 2>&1 || true
  fi
}

lab_start() { # [start args...]
  local out rc=0
  out=$("$LAB_SH" start "$@" 2>&1) || rc=$?
  if [ "$rc" != 0 ]; then
    printf '%s\n' "$out" | tail -n 30
    fail "scripts/lab.sh start $* exited $rc"
  fi
}

load_env() {
  [ -f "$LAB/lab.env" ] || fail "no $LAB/lab.env"
  # shellcheck disable=SC1091
  . "$LAB/lab.env"
}

node_host() { local v="LAB_NODE$1_HOST"; printf '%s' "${!v}"; }
node_port() { local v="LAB_NODE$1_PORT"; printf '%s' "${!v}"; }

# q N SQL: run SQL on node N over TCP as user dbpecker (password from the
# 0600 client.cnf, never on the command line)
q() {
  local n=$1; shift
  "$MYSQL" --defaults-extra-file="$LAB_CLIENT_CNF" -h "$(node_host "$n")" -P "$(node_port "$n")" \
    --connect-timeout=3 -N -B -e "$*"
}

# q_ms N SQL: elapsed milliseconds of q (output discarded); prints "MS RC"
q_ms() {
  local t0 t1 rc=0
  t0=$(date +%s%N)
  q "$@" >/dev/null 2>&1 || rc=$?
  t1=$(date +%s%N)
  printf '%s %s\n' $(( (t1 - t0) / 1000000 )) "$rc"
}

# median_ms N COUNT SQL: median latency of COUNT runs (fails on errors)
median_ms() {
  local n=$1 count=$2; shift 2
  local ms rc all=()
  for _ in $(seq 1 "$count"); do
    read -r ms rc <<< "$(q_ms "$n" "$@")"
    [ "$rc" = 0 ] || { echo "-1"; return 0; }
    all+=("$ms")
  done
  printf '%s\n' "${all[@]}" | sort -n | sed -n "$(( (count + 1) / 2 ))p"
}
