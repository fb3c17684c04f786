#!/usr/bin/env bash
# README command (a): install what is missing, build, and run the main job:
# a what-if that compares every built-in schedule, first for the Zero Bubble
# paper's measured 1.5B costs (the preset zb-1.5b; reproduces its published
# bubble rates), then
# for Llama-3 8B on one 8-GPU H100 node (tp 2 x pp 4) priced by the kernel-level cost model
# (created on first use at $PIPELAB_DB or the XDG data directory). Writes the
# pipeline timeline of each schedule of the first case to out/timelines/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPL_BUILD_TESTS=OFF -DPL_BUILD_BENCH=OFF >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
./build/pipelab whatif --preset zb-1.5b --plots out/timelines "$@"
echo
./build/pipelab whatif --model llama3-8b --gpu h100 --tp 2 --stages 4 --microbatches 32 \
  --seq 4096 --flash-attn "$@"
