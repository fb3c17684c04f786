#!/usr/bin/env bash
# End-to-end test of `pipelab run` and `pipelab calibrate` on the CPU
# backend: --verify reports a passing gradient check, measured per-rank peak
# activation bytes equal the hand-computed values (kernels.h formula:
# hidden 8, seq 3, mb-size 2 -> T = 6; 1 layer per stage: M_B = 8*6*(2*8+2*32+1)
# = 3888 bytes, last stage + 8*6*8 = 4272), the JSON carries the simulate
# contract, usage errors exit 2 with one line, --backend cuda without a GPU
# exits 5 with one line, and calibrate prints F/B/W/BW and P2P figures.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_run.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
W="--hidden 8 --seq 3 --mb-size 2"

$P run --help >"$T/h" 2>&1
check "run --help exits 0" $?
grep -q -- "--backend" "$T/h" && grep -q -- "--verify" "$T/h" && grep -q -- "--layers" "$T/h"
check "run --help lists --backend, --verify, --layers" $?

out=$($P run --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --verify --format json 2>"$T/err")
check "run 1f1b --verify exits 0" $?
v=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); g=d["gradient_check"]; print(d["source"], d["time_unit"], d["mem_unit"], [r["peak_activation_bytes"] for r in d["ranks"]], [r["end_activation_bytes"] for r in d["ranks"]], g["passed"], g["max_rel_error"] <= 1e-9, d["makespan"] > 0, [r["ops"] for r in d["ranks"]])')
[ "$v" = "cpu us bytes [7776, 4272] [0, 0] True True True [8, 8]" ]
check "1f1b p=2 m=4: peaks 2*3888 and 4272 bytes, gradient check passed (got $v)" $?

# Every schedule of the table at p = 2 runs and verifies.
for s in $($P schedules --format csv 2>/dev/null | tail -n +2 | cut -d, -f1); do
  out=$($P run --schedule "$s" --stages 2 --microbatches 4 $W --layers 4 --verify --format json 2>"$T/err")
  rc=$?
  if [ $rc = 2 ] && grep -q "not divisible\|must\|needs" "$T/err"; then
    echo "skip: $s at p=2 m=4 ($(head -c 120 "$T/err"))"; continue
  fi
  p=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gradient_check"]["passed"])' 2>/dev/null)
  [ $rc = 0 ] && [ "$p" = "True" ]
  check "run $s p=2 --verify passes (rc $rc)" $?
done

# Table and CSV output.
$P run --schedule zb-h1 --stages 2 --microbatches 4 $W --layers 2 >"$T/t" 2>&1
check "table output exits 0" $?
grep -q "peak act. bytes" "$T/t" && grep -q "bubble ratio" "$T/t"
check "table names units" $?
$P run --schedule zb-h1 --stages 2 --microbatches 4 $W --layers 2 --format csv >"$T/c" 2>/dev/null
head -n 1 "$T/c" | grep -q "peak_activation_bytes"
check "csv header has peak_activation_bytes" $?

# Trace and result file of a measured run.
$P run --schedule zb-v --stages 2 --microbatches 4 $W --layers 4 --trace "$T/t.json" --save "$T/s.json" >/dev/null 2>&1
check "run --trace --save exits 0" $?
v=$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); t=json.load(open(sys.argv[2])); ev=t["traceEvents"] if isinstance(t, dict) else t; print(len(s["ops"]), s["source"], sum(1 for e in ev if e.get("ph") == "X") >= 48)' "$T/s.json" "$T/t.json" 2>&1)
[ "$v" = "48 cpu True" ]
check "result file has 48 ops (2 ranks x 2 chunks x 4 mb x F,B,W), trace has the op slices (got $v)" $?

# Usage errors: one line, exit 2.
$P run --schedule 1f1b --stages 2 --microbatches 4 $W --layers 3 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "not divisible" "$T/e"
check "--layers 3 at 2 stages: exit 2, one line (rc $rc)" $?
$P run --schedule 1f1b --stages 2 --microbatches 4 --backend tpu >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ]
check "--backend tpu: exit 2, one line" $?
$P run --schedule 1f1b --stages 2 --microbatches 4 --timeout 0 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ]
check "--timeout 0: exit 2" $?
$P run --stages 2 --microbatches 4 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ]
check "missing --schedule: exit 2" $?

# CUDA without a GPU: one line, exit 5 (skipped when a GPU answers).
$P run --schedule 1f1b --stages 2 --microbatches 2 $W --backend cuda >/dev/null 2>"$T/e"; rc=$?
if [ $rc != 0 ]; then
  [ $rc = 5 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "no GPU" "$T/e"
  check "--backend cuda without a GPU: exit 5, one line (rc $rc)" $?
fi

# Calibrate.
out=$($P calibrate $W --reps 3 --warmup 1 --format json 2>/dev/null)
check "calibrate --format json exits 0" $?
v=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(sorted(d["per_layer"]), all(d["per_layer"][k]["mean_us"] > 0 and d["per_layer"][k]["reps"] == 3 for k in d["per_layer"]), d["p2p"]["latency_us"] > 0, d["p2p"]["msg_bytes"])')
[ "$v" = "['B', 'BW', 'F', 'W'] True True 384.0" ]
check "calibrate json: F/B/W/BW with 3 reps, p2p latency, 384-byte messages (got $v)" $?
$P calibrate $W --reps 1 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ]
check "calibrate --reps 1: exit 2" $?
$P calibrate $W --db "$T/x.db" >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ]
check "calibrate --db without --gpu: exit 2, one line" $?

echo "$((n-fail))/$n passed"
[ $fail = 0 ]
