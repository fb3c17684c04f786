#!/usr/bin/env bash
# Start-up cost of the pipelab tool: wall time and peak resident memory of
# `pipelab simulate --schedule 1f1b --stages 4 --microbatches 8` (a small
# case: start-up dominates), over N runs. Neither the CUDA backend nor the
# MPI transport is loaded by it (they are plugins, docs/executor.md
# "Plugins"), so the figures do not depend on whether CUDA or MPI is
# installed. docs/performance.md records them.
#
#   scripts/bench_startup.sh [pipelab binary (default build/pipelab)] [N (default 50)]
#
# Prints, e.g.
#   pipelab simulate --schedule 1f1b --stages 4 --microbatches 8
#   runs 50: wall median 2.9 ms, min 2.5 ms, max 4.1 ms; max RSS 5.6 MB
#   loaded libraries: 10 (no CUDA, no MPI)
# Wall time from bash's EPOCHREALTIME around each run (fork + exec + the
# run); max RSS from GNU time (%M, kilobytes) over separate runs.
set -euo pipefail
P=${1:-build/pipelab}
N=${2:-50}
[ -x "$P" ] || { echo "no pipelab binary at $P" >&2; exit 2; }
TIME=/usr/bin/time
[ -x "$TIME" ] || { echo "GNU time ($TIME) is needed for the RSS" >&2; exit 2; }
args=(simulate --schedule 1f1b --stages 4 --microbatches 8)

"$P" "${args[@]}" >/dev/null # warm the page cache
walls=()
for ((i = 0; i < N; i++)); do
  t0=$EPOCHREALTIME
  "$P" "${args[@]}" >/dev/null
  t1=$EPOCHREALTIME
  walls+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) * 1000 }')")
done
rss=0
for ((i = 0; i < 5; i++)); do
  k=$("$TIME" -f %M "$P" "${args[@]}" 2>&1 >/dev/null | tail -1)
  [ "$k" -gt "$rss" ] && rss=$k
done
libs=$(ldd "$P" | wc -l)
gpu=$(ldd "$P" | grep -cE 'lib(cuda|cudart|cublas|nccl|mpi|open-pal)\.so' || true)
echo "pipelab ${args[*]}"
printf '%s\n' "${walls[@]}" | sort -n | awk -v n="$N" -v rss="$rss" '
  { w[NR] = $1 }
  END {
    med = (n % 2) ? w[(n + 1) / 2] : (w[n / 2] + w[n / 2 + 1]) / 2
    printf "runs %d: wall median %.1f ms, min %.1f ms, max %.1f ms; max RSS %.1f MB\n",
      n, med, w[1], w[n], rss / 1024
  }'
if [ "$gpu" = 0 ]; then
  echo "loaded libraries: $libs (no CUDA, no MPI)"
else
  echo "loaded libraries: $libs ($gpu of them CUDA or MPI)"
fi
