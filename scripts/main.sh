#!/usr/bin/env bash
# README command (a): install what is missing, build, and run the main job:
# a what-if that compares every built-in schedule for a default case.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/pipelab whatif "$@"
