#!/usr/bin/env bash
# README command (b) and CI: install what is missing, build with warnings as
# errors, run every test (ctest + cmocka; GPU tests skip with exit 77 when no
# GPU is found), then build again under AddressSanitizer + UBSan and run the
# suite once more, then fuzz every reader briefly when clang is available.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
jobs=$(nproc)
echo "== build (warnings as errors)"
cmake -S . -B build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPL_WERROR=ON >/dev/null
cmake --build build-ci -j"$jobs"
echo "== tests"
ctest --test-dir build-ci --output-on-failure -j"$jobs"
echo "== build (AddressSanitizer + UBSan)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPL_WERROR=ON \
  -DPL_SANITIZE="address;undefined" -DPL_BUILD_BENCH=OFF -DPL_WITH_CUDA=OFF >/dev/null
cmake --build build-asan -j"$jobs"
echo "== tests under sanitizers"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --test-dir build-asan --output-on-failure -j"$jobs"
# The readers' libFuzzer targets (docs/testing.md), 25 s each, two at a time:
# about two minutes with the build. They need clang, which the set-up does
# not install.
if command -v clang >/dev/null 2>&1; then
  echo "== fuzz targets (libFuzzer, 25 s each)"
  cmake -S . -B build-fuzz -DCMAKE_C_COMPILER=clang -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DPL_FUZZ=ON -DPL_WERROR=ON -DPL_BUILD_TESTS=OFF -DPL_BUILD_BENCH=OFF \
    -DPL_WITH_CUDA=OFF >/dev/null
  cmake --build build-fuzz -j"$jobs" --target fuzz_csv fuzz_result fuzz_kineto fuzz_db_import \
    fuzz_tables
  PL_FUZZ_JOBS=$jobs bash fuzz/run.sh build-fuzz 25
else
  echo "== fuzz targets skipped: clang not found (apt-get install clang to run them)"
fi
