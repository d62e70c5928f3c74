#!/bin/sh
# Build and run the dbp_series micro-benchmark with the compiler directly
# (no CMake needed).  Usage: tests/bench/series.sh [series [samples [history]]]
# Environment: CC (default gcc), CFLAGS (default -O2).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cc=${CC:-gcc}
cflags=${CFLAGS:--O2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# shellcheck disable=SC2086 # CFLAGS is a list of flags
"$cc" -std=c11 $cflags -Wall -Wextra -I"$root/include" \
    "$root/src/metrics/series.c" "$root/tests/bench/bench_series.c" -lm -o "$tmp/bench_series"
echo "compiler: $("$cc" --version | head -n 1) $cflags"
"$tmp/bench_series" "$@"
