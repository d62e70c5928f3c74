#!/usr/bin/env bash
# Start dbpecker (README: "Run").
#
#   scripts/run.sh [CONFIG]
#
# With no CONFIG (or config/lab.yaml) it installs what is missing, builds,
# starts the embedded lab (scripts/lab.sh: 3-node MariaDB Galera +
# Prometheus) and runs the daemon in the foreground.  Ctrl-C stops the
# daemon and leaves the lab running for a fast next start; `scripts/lab.sh
# stop` ends it.  With another CONFIG (an external cluster) the lab is not
# started.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
config=${1:-config/lab.yaml}

scripts/install-deps.sh all
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo > build.cmake.log 2>&1 || { cat build.cmake.log; exit 1; }
cmake --build build -j "$(nproc)" 2>&1 | grep -E 'error|warning' || true
[ -x build/dbpecker ] || { echo "run.sh: build failed" >&2; exit 1; }

if [ "$(realpath "$config")" = "$(realpath config/lab.yaml)" ]; then
  scripts/lab.sh start
fi
build/dbpecker --check-config "$config"
port=$(DBPECKER_LOG_LEVEL=error build/dbpecker --check-config "$config" | sed -n 's/.*listen [^:]*:\([0-9]*\).*/\1/p')
cat <<MSG

  dbpecker      http://127.0.0.1:${port:-8000}/
  API docs      http://127.0.0.1:${port:-8000}/docs
  health        curl http://127.0.0.1:${port:-8000}/health
  Prometheus    $( [ -f .lab/lab.env ] && . .lab/lab.env && echo "${LAB_PROM_URL:-}" )
  Ctrl-C stops the daemon; scripts/lab.sh stop stops the lab.

MSG
exec build/dbpecker --config "$config"
