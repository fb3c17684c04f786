#!/usr/bin/env bash
# The executor's plugins (docs/executor.md "Plugins"): the CUDA + NCCL
# backend (libpipelab-cuda.so) and the MPI transport (libpipelab-mpi.so) are
# loadable modules, so that
#   - the pipelab tool and libpipelab.so link no CUDA and no MPI library
#     (ldd), and `simulate` loads none (the loader's own trace, LD_DEBUG);
#   - `--version` lists every plugin of the build tree with its file and
#     what it was built against;
#   - a missing or broken plugin is one line with the loader's reason and
#     the documented exit code: --backend cuda exits 5, --transport mpi 1;
#   - PIPELAB_PLUGIN_DIR replaces the search path.
P=${PIPELAB:?set PIPELAB to the pipelab binary}
B=$(cd "$(dirname "$P")" && pwd)
PLUG=$B/plugins
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_plug.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
GPU_MPI_LIBS='lib(cuda|cudart|cublas|cublasLt|nccl|mpi|open-rte|open-pal)\.so'
W="--schedule 1f1b --stages 2 --microbatches 2 --hidden 8 --seq 3 --mb-size 2"

# ---- linking: no CUDA, no MPI in the tool or the shared library
ldd "$P" >"$T/ldd" 2>&1
check "ldd pipelab runs" $?
! grep -E "$GPU_MPI_LIBS" "$T/ldd"
check "pipelab links no CUDA and no MPI library" $?
if [ -e "$B/libpipelab.so" ]; then
  ! ldd "$B/libpipelab.so" | grep -E "$GPU_MPI_LIBS"
  check "libpipelab.so links no CUDA and no MPI library" $?
fi

# ---- simulate loads no plugin (and so no CUDA or MPI library)
LD_DEBUG=files "$P" simulate --schedule 1f1b --stages 4 --microbatches 8 \
  >"$T/sim.out" 2>"$T/sim.dbg"
check "simulate exits 0" $?
grep -q "makespan" "$T/sim.out"
check "simulate prints its summary" $?
! grep -E "libpipelab-|$GPU_MPI_LIBS" "$T/sim.dbg"
check "simulate opens no plugin, CUDA or MPI library" $?

# Start-up footprint of that small case (scripts/bench_startup.sh prints
# the time too): at most 10 MB resident; not under the sanitizers, whose
# shadow memory is most of it.
if [ -x /usr/bin/time ] && ! ldd "$P" | grep -qE 'lib(asan|tsan|ubsan)'; then
  rss=$(/usr/bin/time -f %M "$P" simulate --schedule 1f1b --stages 4 \
        --microbatches 8 2>&1 >/dev/null | tail -1)
  [ "$rss" -le 10240 ]
  check "simulate start-up: ${rss} KB resident <= 10 MB" $?
fi

# ---- --version lists the plugins found
"$P" --version >"$T/v" 2>&1
check "--version exits 0" $?
found=0
for f in "$PLUG"/libpipelab-*.so; do
  [ -e "$f" ] || continue
  found=$((found+1))
  name=$(basename "$f" .so); name=${name#libpipelab-}
  grep -qE "^  $name +(backend|transport) +$f \(.+\)$" "$T/v"
  check "--version lists the $name plugin with its file ($(grep "^  $name" "$T/v"))" $?
done
if [ -e "$PLUG/libpipelab-mpi.so" ]; then
  grep -qE "^  mpi +transport .*\(MPI [0-9]+\.[0-9]+, " "$T/v"
  check "--version: the mpi plugin says its MPI library" $?
fi
[ "$found" -gt 0 ] || grep -q "^plugins: none" "$T/v"
check "--version: plugins listed or 'none' ($found in $PLUG)" $?
mkdir -p "$T/empty"
PIPELAB_PLUGIN_DIR="$T/empty" "$P" --version >"$T/v0"
grep -q "^plugins: none" "$T/v0" && grep -q "^backends: cpu$" "$T/v0"
check "--version with an empty plugin path: none, backends cpu" $?

# ---- --backend cuda without the plugin: one line, exit 5
PIPELAB_PLUGIN_DIR="$T/empty" "$P" run $W --backend cuda >"$T/o" 2>"$T/e"
st=$?
[ $st -eq 5 ] && [ "$(wc -l <"$T/e")" -eq 1 ] && [ ! -s "$T/o" ] &&
  grep -qx "error: --backend cuda: the cuda plugin (libpipelab-cuda.so) is not installed (searched $T/empty)" "$T/e"
check "--backend cuda, no plugin: exit 5 and one line (exit $st: $(head -c 300 "$T/e"))" $?

# A file that is not a module: the loader's reason, one line, exit 5.
mkdir -p "$T/bad"
echo "not an ELF file" >"$T/bad/libpipelab-cuda.so"
PIPELAB_PLUGIN_DIR="$T/bad" "$P" run $W --backend cuda >"$T/o" 2>"$T/e"
st=$?
[ $st -eq 5 ] && [ "$(wc -l <"$T/e")" -eq 1 ] &&
  grep -q "^error: --backend cuda: cannot load the cuda plugin: $T/bad/libpipelab-cuda.so: .*\(invalid ELF header\|file too short\)" "$T/e"
check "--backend cuda, broken plugin: the loader's reason, exit 5 (exit $st: $(head -c 300 "$T/e"))" $?
PIPELAB_PLUGIN_DIR="$T/bad" "$P" calibrate --backend cuda --hidden 8 --seq 3 \
  >"$T/o" 2>"$T/e"
st=$?
[ $st -eq 5 ] && [ "$(wc -l <"$T/e")" -eq 1 ] && grep -q "cannot load the cuda plugin" "$T/e"
check "calibrate --backend cuda, broken plugin: one line, exit 5 (exit $st)" $?

# Another plugin's module under the cuda name: refused by its table.
if [ -e "$PLUG/libpipelab-mpi.so" ]; then
  mkdir -p "$T/swap"
  cp "$PLUG/libpipelab-mpi.so" "$T/swap/libpipelab-cuda.so"
  PIPELAB_PLUGIN_DIR="$T/swap" "$P" run $W --backend cuda >"$T/o" 2>"$T/e"
  st=$?
  [ $st -eq 5 ] && [ "$(wc -l <"$T/e")" -eq 1 ] &&
    grep -q "libpipelab-cuda.so: is the 'mpi' plugin, not 'cuda'" "$T/e"
  check "a module of another name is refused (exit $st: $(head -c 300 "$T/e"))" $?
fi

# The real plugin on a machine without a GPU or driver: one line, exit 5.
if [ -e "$PLUG/libpipelab-cuda.so" ]; then
  "$P" run $W --backend cuda >"$T/o" 2>"$T/e"
  st=$?
  if [ $st -ne 0 ]; then
    [ $st -eq 5 ] && [ "$(wc -l <"$T/e")" -eq 1 ] &&
      grep -q "^error: --backend cuda: no GPU: " "$T/e"
    check "--backend cuda without a GPU: 'no GPU' and the CUDA runtime's reason, exit 5 ($(head -c 300 "$T/e"))" $?
  fi
fi

# ---- --transport mpi without the plugin: one line, exit 1
PIPELAB_PLUGIN_DIR="$T/empty" "$P" run $W --transport mpi >"$T/o" 2>"$T/e"
st=$?
[ $st -eq 1 ] && [ "$(wc -l <"$T/e")" -eq 1 ] &&
  grep -qx "error: --transport mpi: the mpi plugin (libpipelab-mpi.so) is not installed (searched $T/empty)" "$T/e"
check "--transport mpi, no plugin: exit 1 and one line (exit $st: $(head -c 300 "$T/e"))" $?
# Launched as 2 processes without the plugin: one line, exit 1.
PIPELAB_PLUGIN_DIR="$T/empty" PL_WORLD_SIZE=2 PL_RANK=0 "$P" run $W \
  >"$T/o" 2>"$T/e"
st=$?
[ $st -eq 1 ] && [ "$(wc -l <"$T/e")" -eq 1 ] &&
  grep -q "launched as 2 processes (PL_RANK), but the MPI transport is not available (the mpi plugin (libpipelab-mpi.so) is not installed" "$T/e"
check "2 processes without the plugin: exit 1 and one line (exit $st)" $?

# ---- with the plugin: --transport mpi loads it (and libmpi) and runs
if [ -e "$PLUG/libpipelab-mpi.so" ] && command -v mpirun >/dev/null 2>&1; then
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" LD_DEBUG=files "$P" run $W --transport mpi --format json >"$T/m.json" 2>"$T/m.dbg"
  check "--transport mpi with the plugin exits 0" $?
  grep -q "file=$PLUG/libpipelab-mpi.so" "$T/m.dbg" && grep -q "file=libmpi" "$T/m.dbg"
  check "--transport mpi opens libpipelab-mpi.so and libmpi" $?
  v=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["transport"], d["processes"], [r["peak_activation_bytes"] for r in d["ranks"]])' "$T/m.json")
  [ "$v" = "mpi 1 [7776, 4272]" ]
  check "--transport mpi as one process: peaks as threaded (got $v)" $?
fi

echo "$((n-fail))/$n passed"
[ "$fail" = 0 ]
