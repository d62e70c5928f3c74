#!/usr/bin/env bash
# Run the libFuzzer targets for a while.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]    default: 60 s each, all targets
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(fuzz_request fuzz_config)
scripts/install-deps.sh build test
CC=clang cmake -S . -B build-fuzz -DDBP_FUZZ=ON -DDBP_TESTS=OFF \
  -DDBP_SANITIZE=address,undefined -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_C_FLAGS="-fsanitize=fuzzer-no-link" > build-fuzz.cmake.log
cmake --build build-fuzz -j "$(nproc)" --target "${targets[@]}" | grep -E 'error|warning' || true
for t in "${targets[@]}"; do
  corpus=tests/fuzz/corpus/${t#fuzz_}
  work=build-fuzz/corpus-$t
  mkdir -p "$work"
  echo "== $t for ${secs}s (seeds: $corpus)"
  build-fuzz/tests/fuzz/"$t" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix=build-fuzz/"$t"- "$work" "$corpus" 2>&1 | tail -15
done
