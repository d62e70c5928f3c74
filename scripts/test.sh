#!/usr/bin/env bash
# The whole test suite, as CI runs it (README: "Test").
#
#   scripts/test.sh            install deps, build, start the lab, run ctest,
#                              then the same suite under ASan+UBSan and the
#                              threaded parts under TSan; stop what it started
#   scripts/test.sh --quick    normal build only, no sanitizer passes
#
# Environment: DBP_TEST_NO_LAB=1 skips the lab (its tests then report
# "skipped"), JOBS=N parallel build jobs.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=${JOBS:-$(nproc)}
t0=$(date +%s)

log() { printf '\n=== %s (%ss)\n' "$*" "$(( $(date +%s) - t0 ))"; }

log "dependencies"
scripts/install-deps.sh all

build() { # dir extra-cmake-args...
  local dir=$1; shift
  cmake -S . -B "$dir" -DDBP_WERROR=ON "$@" > "$dir.cmake.log" 2>&1 || { cat "$dir.cmake.log"; exit 1; }
  # PIPESTATUS must be read before anything else runs (`|| true` resets it).
  local st
  cmake --build "$dir" -j "$jobs" > "$dir.build.log" 2>&1 && st=0 || st=$?
  grep -vE '^\[ *[0-9]+%\]|^(Scanning|Consolidate|Built target)' "$dir.build.log" || true
  [ "$st" -eq 0 ] || { echo "build in $dir failed"; exit 1; }
}

log "build (RelWithDebInfo, -Werror)"
mkdir -p build
build build

started_lab=0
cleanup() {
  if [ "$started_lab" = 1 ]; then
    log "stopping the lab"
    scripts/lab.sh stop || true
  fi
}
trap cleanup EXIT

if [ "${DBP_TEST_NO_LAB:-0}" != 1 ] && [ -x scripts/lab.sh ]; then
  log "starting the lab (3-node Galera + Prometheus)"
  # Stop at the end only what this run started: a lab that was already up
  # (a developer's) stays up.
  if scripts/lab.sh status >/dev/null 2>&1; then
    echo "the lab is already running: it will be left running"
  else
    started_lab=1
  fi
  scripts/lab.sh start
  scripts/lab.sh status
  # Shell suites that need one MariaDB (catalog SQL on the OceanBase test
  # double, the TPC-C/TPC-H Lua scripts) use the lab's node 1.
  # shellcheck disable=SC1091
  lab=${DBPECKER_LAB_DIR:-$here/.lab}
  . "$lab/lab.env"
  export DBP_TEST_MYSQL_HOST=$LAB_NODE1_HOST DBP_TEST_MYSQL_PORT=$LAB_NODE1_PORT
  export DBP_TEST_MYSQL_USER=dbpecker DBP_TEST_MYSQL_PASSWORD_FILE=$lab/secrets/dbpecker.password
  export DBP_TEST_MYSQL_DB=dbp_test
  mariadb --defaults-extra-file="$lab/secrets/client.cnf" -h "$LAB_NODE1_HOST" -P "$LAB_NODE1_PORT" \
    -e 'CREATE DATABASE IF NOT EXISTS dbp_test'
fi

log "ctest: unit, integration, shell suites"
(cd build && ctest --output-on-failure --timeout 900 -j1)

if [ "$quick" = 0 ]; then
  log "build with ASan+UBSan"
  mkdir -p build-asan
  build build-asan -DDBP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug
  # Under ASan+UBSan: every unit and in-process integration test, and of
  # the lab-driving ones the fault executors' (it_anomaly_lab: the most C
  # that talks to the outside).  The other lab tests drive code the unit
  # tests already run under ASan (the pollers, the workload runner) and ran
  # in the plain pass; repeating them would add ~4 minutes to every run.
  log "ctest under ASan+UBSan: unit + integration (+ it_anomaly_lab)"
  asan_env=(ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
            UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1)
  (cd build-asan && env "${asan_env[@]}" ctest --output-on-failure -L 'unit|integration' -LE lab -j1)
  if [ "${DBP_TEST_NO_LAB:-0}" != 1 ]; then
    (cd build-asan && env "${asan_env[@]}" ctest --output-on-failure -R '^it_anomaly_lab$' -j1)
  fi

  log "build with TSan"
  mkdir -p build-tsan
  build build-tsan -DDBP_SANITIZE=thread -DCMAKE_BUILD_TYPE=Debug
  # The lab-driving integration tests already ran twice (plain, ASan); under
  # TSan they would add ~8 minutes of the same code paths, so TSan covers the
  # threaded modules through the unit and in-process integration tests.
  log "ctest under TSan: the threaded parts"
  (cd build-tsan && TSAN_OPTIONS="halt_on_error=1 suppressions=$here/tests/tsan.supp" \
     ctest --output-on-failure -L 'unit|integration' -LE lab -j1)
fi
log "all tests passed"
