#!/usr/bin/env bash
# End-to-end test of the MPI transport: `mpirun -np 2` and `-np 4
# --oversubscribe` runs of `pipelab run --verify` (1f1b, interleaved, zb-h1,
# zb-v) pass the gradient check with the same loss as the threaded run and
# report the same per-rank peak activation bytes, end bytes and op counts
# (hand-computed values below, and the threaded run's JSON); only process 0
# prints; a rank that fails (PIPELAB_FAIL_RANK) stops every process with
# one message and a non-zero exit on each; an injected hang is found by the
# watchdog across processes, naming the blocked op on every rank; a remote
# rank computing long ops is not a hang; without a launcher,
# --transport mpi runs as one process. Skips (77) without mpirun or when
# the MPI transport plugin (libpipelab-mpi.so) is not available.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
# Under AddressSanitizer, Open MPI's own allocations still alive at exit are
# reported as leaks (and abort the run): leak checking is off for the MPI
# runs; every other test checks pipelab's code for leaks.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
command -v mpirun >/dev/null 2>&1 || { echo "skip: mpirun not found"; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_mpi.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
W="--hidden 8 --seq 3 --mb-size 2"

# Without the MPI plugin: one line, and skip.
$P run --schedule 1f1b --stages 2 --microbatches 2 $W --transport mpi \
  --format json >"$T/probe" 2>"$T/probe.err"
if grep -q "mpi plugin" "$T/probe.err"; then
  [ "$(wc -l <"$T/probe.err")" -eq 1 ]
  check "--transport mpi without the MPI plugin: one line" $?
  echo "skip: the MPI transport plugin is not available"
  exit 77
fi
# Without a launcher: MPI as one process (singleton), all ranks local.
v=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["transport"], d["processes"], [r["peak_activation_bytes"] for r in d["ranks"]])' "$T/probe")
[ "$v" = "mpi 1 [7776, 4272]" ]
check "--transport mpi without a launcher runs as one process (got $v)" $?

MPIRUN="mpirun --oversubscribe"
[ "$(id -u)" = 0 ] && MPIRUN="$MPIRUN --allow-run-as-root"
# Keep Open MPI to shared memory and loopback (CI containers have odd NICs).
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo \
  OMPI_MCA_oob_tcp_if_include=lo OMPI_MCA_rmaps_base_oversubscribe=1

summary='import json,sys
d=json.load(open(sys.argv[1])); g=d["gradient_check"]
print(d["schedule"], d["stages"], d["microbatches"],
      [r["peak_activation_bytes"] for r in d["ranks"]],
      [r["end_activation_bytes"] for r in d["ranks"]],
      [r["ops"] for r in d["ranks"]], d["peak_activation_bytes"],
      g["passed"], repr(g["loss"]), g["max_rel_error"] <= 1e-9)'

# np ranks, schedule args, expected peaks (hand-computed, docs/executor.md:
# one layer per virtual stage, M_B = 3888 bytes, last stage 4272).
cases=(
  "2|--schedule 1f1b --stages 2 --microbatches 4|[7776, 4272]"
  "2|--schedule zb-h1 --stages 2 --microbatches 4|"
  "4|--schedule 1f1b --stages 4 --microbatches 8|[15552, 11664, 7776, 4272]"
  "4|--schedule interleaved --stages 4 --chunks 2 --microbatches 8|"
  "4|--schedule zb-v --stages 4 --microbatches 8|"
  "2|--schedule 1f1b --stages 4 --microbatches 8|[15552, 11664, 7776, 4272]"
)
i=0
for c in "${cases[@]}"; do
  i=$((i+1))
  np=${c%%|*}; rest=${c#*|}; args=${rest%%|*}; want=${rest#*|}
  $P run $args $W --verify --transport threads --format json \
    >"$T/t$i.json" 2>/dev/null
  check "threaded $args exits 0" $?
  $MPIRUN -np "$np" $P run $args $W --verify --format json \
    >"$T/m$i.json" 2>"$T/m$i.err"
  check "mpirun -np $np $args --verify exits 0" $?
  a=$(python3 -c "$summary" "$T/t$i.json" 2>&1)
  b=$(python3 -c "$summary" "$T/m$i.json" 2>&1)
  [ -n "$a" ] && [ "$a" = "$b" ]
  check "np $np $args: peaks, end bytes, op counts, loss as threaded ($b vs $a)" $?
  case "$b" in *"True "*" True") true ;; *) false ;; esac
  check "np $np $args: gradient check passed" $?
  t=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["transport"], d["processes"])' "$T/m$i.json")
  [ "$t" = "mpi $np" ]
  check "np $np $args: JSON says transport mpi, $np processes (got $t)" $?
  if [ -n "$want" ]; then
    case "$b" in *" $want "*) true ;; *) false ;; esac
    check "np $np $args: peaks $want" $?
  fi
  # One JSON document on stdout: the other processes print nothing.
  [ "$(grep -c '"schedule"' "$T/m$i.json")" -eq 1 ]
  check "np $np $args: only process 0 prints" $?
done

# The result file and trace written by process 0 alone carry every rank.
$MPIRUN -np 2 $P run --schedule 1f1b --stages 2 --microbatches 4 $W \
  --save "$T/r.json" --trace "$T/tr.json" >/dev/null 2>&1
check "mpirun --save --trace exits 0" $?
v=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(sorted({o["rank"] for o in d["ops"]}), len(d["ops"]))' "$T/r.json" 2>&1)
[ "$v" = "[0, 1] 16" ]
check "result file has the ops of both processes' ranks (got $v)" $?

# Failure propagation: every process exits non-zero (each records its own
# status through a wrapper, so that mpirun does not kill the others first),
# and one message is printed, by process 0, naming the failing rank.
wrap='"$@"; echo "$OMPI_COMM_WORLD_RANK $?" >>"$PL_STATUS"'
for spec in "1:2|2|1f1b --stages 2 --microbatches 4" \
            "3|4|zb-h1 --stages 4 --microbatches 8" \
            "0:5|4|1f1b --stages 4 --microbatches 8"; do
  fr=${spec%%|*}; rest=${spec#*|}; np=${rest%%|*}; args=${rest#*|}
  rk=${fr%%:*}
  rm -f "$T/status"
  PL_STATUS="$T/status" PIPELAB_FAIL_RANK=$fr $MPIRUN -np "$np" \
    bash -c "$wrap" _ $P run --schedule $args $W --verify >"$T/f.out" 2>"$T/f.err"
  v=$(sort "$T/status" | awk '{print $2}' | sort -u | tr '\n' ' ')
  [ "$(wc -l <"$T/status")" -eq "$np" ] && [ "$v" = "3 " ]
  check "rank $rk fails (np $np): all $np processes exit 3 (got $(sort "$T/status" | tr '\n' ' '))" $?
  [ "$(grep -c "injected failure" "$T/f.err")" -eq 1 ] &&
    [ "$(grep -c "^error:" "$T/f.err")" -eq 1 ] &&
    grep -q "^error: rank $rk: injected failure" "$T/f.err"
  check "rank $rk fails (np $np): one message naming it ($(grep '^error' "$T/f.err"))" $?
  [ ! -s "$T/f.out" ]
  check "rank $rk fails (np $np): nothing on stdout" $?
done

# Without the wrapper too: mpirun's own status is the failure.
PIPELAB_FAIL_RANK=1 $MPIRUN -np 2 $P run --schedule 1f1b --stages 2 \
  --microbatches 4 $W >/dev/null 2>"$T/f.err"
[ $? -ne 0 ] && [ "$(grep -c "^error:" "$T/f.err")" -eq 1 ]
check "mpirun exits non-zero with one pipelab message" $?

# The watchdog across processes: rank 1 hangs at position 1 (waits for a
# message nobody sends), rank 0 then waits for its gradient; one message
# names both, every process exits 1, in well under the 60 s default.
rm -f "$T/status"
start=$(date +%s)
PL_STATUS="$T/status" PIPELAB_FAIL_RANK=1:1:hang $MPIRUN -np 2 bash -c "$wrap" _ \
  $P run --schedule 1f1b --stages 2 --microbatches 4 $W --timeout 0.3 \
  >/dev/null 2>"$T/w.err"
el=$(( $(date +%s) - start ))
[ "$(sort -u "$T/status" | awk '{print $2}' | sort -u)" = "1" ] &&
  [ "$(wc -l <"$T/status")" -eq 2 ]
check "watchdog: both processes exit 1 (got $(sort "$T/status" | tr '\n' ' '))" $?
[ "$(grep -c "^error:" "$T/w.err")" -eq 1 ] &&
  grep -q "watchdog: every rank waiting, no progress for 0.3 s" "$T/w.err" &&
  grep -q "rank 0 blocked at BW0s0 (position 2) waiting for the gradient of microbatch 0 from stage 1 on rank 1" "$T/w.err" &&
  grep -q "rank 1 blocked at BW0s1 (position 1) in an injected hang" "$T/w.err"
check "watchdog: one message naming both ranks' blocked ops" $?
[ "$el" -lt 20 ]
check "watchdog fired in ${el}s" $?

# A rank waiting while a remote rank computes is not a hang: ops of several
# milliseconds under --timeout 0.005 finish.
$MPIRUN -np 2 $P run --schedule 1f1b --stages 2 --microbatches 4 \
  --hidden 128 --seq 64 --timeout 0.005 --format json >"$T/long.json" 2>"$T/long.err"
check "long remote ops under --timeout 0.005 are not a hang ($(head -c 300 "$T/long.err"))" $?

# More processes than ranks: one usage line, from process 0.
$MPIRUN -np 4 $P run --schedule 1f1b --stages 2 --microbatches 4 $W \
  >/dev/null 2>"$T/e.err"
st=$?
[ $st -eq 2 ] && [ "$(grep -c "^error:" "$T/e.err")" -eq 1 ] &&
  grep -q "4 MPI processes for a schedule of 2 ranks" "$T/e.err"
check "4 processes for 2 ranks: exit 2, one message (exit $st)" $?

# A usage error is printed once, not once per process.
$MPIRUN -np 2 $P run --schedule 1f1b --stages 2 --microbatches 4 --bogus \
  >/dev/null 2>"$T/u.err"
[ "$(grep -c "pipelab run:" "$T/u.err")" -eq 1 ]
check "usage error printed once" $?

echo "$((n-fail))/$n passed"
[ "$fail" = 0 ]
