#!/bin/sh
# Diagnosis and training costs on synthetic data shaped like the mariadb
# catalog: training time and peak RSS for 1k and 10k node windows, diagnosis
# latency for 3, 9 and 30 nodes (see tests/bench/bench_diagnosis.c).
# Usage: tests/bench/diagnosis.sh [BUILD_DIR] [--quick]   (default build dir: build)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-"$root/build"}
[ $# -gt 0 ] && shift
if [ ! -x "$build/tests/bench_diagnosis" ]; then
    cmake -S "$root" -B "$build" >/dev/null
    make -C "$build" bench_diagnosis >/dev/null
fi
echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "xgboost: $(dpkg-query -W -f '${Version}' libxgboost0 2>/dev/null || echo unknown)"
exec "$build/tests/bench_diagnosis" "$root/config/catalog" "$@"
