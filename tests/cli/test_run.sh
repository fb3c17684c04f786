#!/usr/bin/env bash
# End-to-end test of `pipelab run` and `pipelab calibrate` on the CPU
# backend: --verify reports a passing gradient check, measured per-rank peak
# activation bytes equal the hand-computed values (kernels.h formula:
# hidden 8, seq 3, mb-size 2 -> T = 6; 1 layer per stage: M_B = 8*6*(2*8+2*32+1)
# = 3888 bytes, last stage + 8*6*8 = 4272), the JSON carries the simulate
# contract, usage errors exit 2 with one line, --backend cuda without a GPU
# exits 5 with one line, and calibrate prints F/B/W/BW and P2P figures.
# The same with --attention (byte counts derived below).
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

# --attention (kernels.h): per layer the W-part is T*(8H+2F) = 6*(64+64) =
# 768 doubles and the B-part T*(seq+2) = 6*5 = 30, so with one layer per
# stage M_B = 8*798 = 6384 bytes and the last stage 8*(798+6*8) = 6768;
# 1f1b p=2 keeps two microbatches on rank 0: [12768, 6768]. Simulate with
# the same flags predicts the same bytes.
out=$($P run --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --attention --verify --format json 2>"$T/err")
check "run --attention --verify exits 0" $?
v=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["workload"]["attention"], d["gradient_check"]["passed"], [r["peak_activation_bytes"] for r in d["ranks"]])')
[ "$v" = "True True [12768, 6768]" ]
check "run --attention: gradient check passed, peaks 2*6384 and 6768 bytes (got $v)" $?
v=$($P simulate --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --attention --format json | python3 -c 'import json,sys; print([r["peak_activation_bytes"] for r in json.load(sys.stdin)["ranks"]])')
[ "$v" = "[12768, 6768]" ]
check "simulate --attention predicts [12768, 6768] (got $v)" $?
v=$($P run --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["workload"]["attention"])')
[ "$v" = "False" ]; check "run without --attention reports attention false (got $v)" $?
for s in zb-h1 zb-v interleaved; do
  r=$($P run --schedule $s --stages 2 --microbatches 4 $W --layers 4 --attention --verify --format json 2>"$T/err" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["gradient_check"]["passed"], [r["peak_activation_bytes"] for r in d["ranks"]])')
  m=$($P simulate --schedule $s --stages 2 --microbatches 4 $W --layers 4 --attention --format json | python3 -c 'import json,sys; print(True, [r["peak_activation_bytes"] for r in json.load(sys.stdin)["ranks"]])')
  [ -n "$r" ] && [ "$r" = "$m" ]
  check "run $s --attention --verify passes and its peaks equal simulate's (run $r, simulate $m)" $?
done
$P run --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --attention --backend cuda >/dev/null 2>"$T/e"; rc=$?
[ $rc != 0 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "attention is not implemented on the CUDA backend yet" "$T/e"
check "run --attention --backend cuda: refused with one line (rc $rc)" $?
v=$($P calibrate $W --attention --reps 2 --warmup 0 --format json 2>/dev/null | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["workload"]["attention"], all(d["per_layer"][k]["mean_us"] > 0 for k in d["per_layer"]))')
[ "$v" = "True True" ]; check "calibrate --attention json says attention true (got $v)" $?
$P calibrate $W --attention --reps 2 >"$T/t" 2>/dev/null && grep -q "causal attention" "$T/t"
check "calibrate --attention table names the attention block" $?
$P calibrate $W --attention --reps 2 --db "$T/att.db" >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && [ ! -s "$T/att.db" ]
check "calibrate --attention --db: exit 2, one line, nothing stored (rc $rc)" $?

# Every schedule of the table at p = 2 runs and verifies.
for s in $($P schedules --format csv 2>/dev/null | tail -n +2 | cut -d, -f1); do
  out=$($P run --schedule "$s" --stages 2 --microbatches 4 $W --layers 4 --verify --format json 2>"$T/err")
  rc=$?
  if [ $rc = 2 ] && grep -q "not divisible\|must\|needs" "$T/err"; then
    echo "skip: $s at p=2 m=4 ($(head -c 120 "$T/err"))"; continue
  fi
  if grep -q "copies of its stages" "$T/err"; then
    # chimera, dualpipe: the executor holds one copy per stage.
    [ $rc != 0 ] && [ "$(wc -l <"$T/err")" = 1 ]
    check "run $s: stage copies refused with one line (rc $rc)" $?
    continue
  fi
  p=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["gradient_check"]["passed"])' 2>/dev/null)
  [ $rc = 0 ] && [ "$p" = "True" ]
  check "run $s p=2 --verify passes (rc $rc)" $?
done

# Table and CSV output.
$P run --schedule zb-h1 --stages 2 --microbatches 4 $W --layers 2 >"$T/t" 2>&1
check "table output exits 0" $?
grep -q "bubble ratio" "$T/t" &&
  grep -Eq "^makespan +[0-9]+(\.[0-9]+)? (us|ms|s) " "$T/t" &&
  grep -Eq "^peak activation [0-9]+\.[0-9][0-9] (KiB|MiB) " "$T/t" &&
  grep -Eq "^ +0 +[0-9.]+ (us|ms|s) +[0-9.]+ (us|ms|s) +[0-9.]+ (us|ms|s) +[0-9.]+% +[0-9]+\.[0-9][0-9] (KiB|MiB)$" "$T/t"
check "table: times in us/ms/s, memory in KiB/MiB with two decimals" $?
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
  [ $rc = 5 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -qE "no GPU|plugin" "$T/e"
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

# Calibrate into the database (schema 3: fp64 samples under the cpu device),
# then simulate prices the same workload from it.
$P calibrate $W --reps 3 --warmup 1 --db "$T/x.db" >/dev/null 2>"$T/e"
check "calibrate --db (device defaults to cpu) exits 0" $?
grep -q "stored calibration 1 in" "$T/e"; check "calibrate says which calibration it stored" $?
v=$(python3 - "$T/x.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
print(c.execute("""SELECT group_concat(s.layer_kind || ':' || s.op_kind, ' ')
  FROM (SELECT * FROM samples ORDER BY id) s JOIN calibrations k ON k.id = s.calibration_id
  JOIN gpus g ON g.id = k.gpu_id WHERE g.name = 'cpu' AND s.dtype = 'fp64'
  AND s.hidden = 8 AND s.seq_len = 3 AND s.mb_size = 2 AND s.count = 3""").fetchone()[0],
  c.execute("SELECT count(*) FROM p2p_links WHERE link_kind = 'local'").fetchone()[0])
PY
)
[ "$v" = "transformer:F transformer:B transformer:W transformer:BW embedding:F lm_head:F 1" ]
check "calibrate stored F/B/W/BW, input, loss and the local link (got $v)" $?
out=$($P simulate --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --gpu cpu --db "$T/x.db" --format json 2>"$T/e")
check "simulate --gpu cpu with the workload flags exits 0" $?
v=$(echo "$out" | python3 -c '
import json, sqlite3, sys
d = json.load(sys.stdin)
c = sqlite3.connect(sys.argv[1])
t = dict(c.execute("SELECT layer_kind || op_kind, mean_us FROM samples").fetchall())
lat, bw = c.execute("SELECT latency_us, bytes_per_s FROM p2p_links").fetchone()
k = d["costs"]
comm = lat + 384 / (bw / 1e6) if bw < 1e17 else lat
print(d["time_unit"], k["source"], k["tf"] == t["transformerF"] + t["embeddingF"],
      k["tb"] == t["transformerB"], k["tw"] == t["transformerW"],
      abs(k["comm"] - comm) <= 1e-9 * comm, [r["peak_activation_bytes"] for r in d["ranks"]])' "$T/x.db")
[ "$v" = "us measured True True True True [7776, 4272]" ]
check "simulate uses the calibration: stage 0 F = layer F + input, B, W, comm; run's bytes (got $v)" $?
v=$($P simulate --schedule 1f1b --stages 2 --microbatches 4 --hidden 8 --seq 6 --mb-size 2 --layers 2 --gpu cpu --db "$T/x.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["costs"]["source"])')
[ "$v" = "extrapolated" ]; check "an uncalibrated seq is flagged extrapolated (got $v)" $?
$P simulate --schedule 1f1b --stages 2 --microbatches 4 --hidden 16 --layers 2 --gpu cpu --db "$T/x.db" >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "pipelab calibrate --hidden 16" "$T/e"
check "simulate with an uncalibrated hidden: exit 2, one line naming the calibrate command" $?
$P calibrate $W --db "$T/x.db" --gpu h100 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "cannot be filed under GPU device 'h100'" "$T/e"
check "calibrate --backend cpu --gpu h100: exit 2, one line" $?
$P calibrate $W --db "$T/x.db" --gpu v100 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ]
check "calibrate --gpu v100 (unknown): exit 2, one line" $?
$P simulate --model gpt3-1.3b --gpu cpu --stages 2 --microbatches 4 --db "$T/x.db" >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && grep -q "calibration device" "$T/e"
check "simulate --model with the cpu device: exit 2" $?
$P calibrate $W --backend cuda --db "$T/x.db" >/dev/null 2>"$T/e"; rc=$?
{ [ $rc = 2 ] || [ $rc = 5 ]; } && [ "$(wc -l <"$T/e")" = 1 ]
check "calibrate --backend cuda --db without --gpu: one line, exit 2 (or 5 without a GPU)" $?

# Warm-up iterations: the result is the measured iteration's.
v=$($P run --schedule 1f1b --stages 2 --microbatches 4 $W --layers 2 --warmup 2 --verify --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["warmup_iterations"], d["gradient_check"]["passed"], [r["ops"] for r in d["ranks"]], [r["peak_activation_bytes"] for r in d["ranks"]])')
[ "$v" = "2 True [8, 8] [7776, 4272]" ]
check "run --warmup 2: gradients of one iteration, 8 ops per rank, same peaks (got $v)" $?
$P run --schedule 1f1b --stages 2 --microbatches 4 $W --warmup -1 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ]
check "run --warmup -1: exit 2, one line" $?

echo "$((n-fail))/$n passed"
[ $fail = 0 ]
