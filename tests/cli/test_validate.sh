#!/usr/bin/env bash
# `pipelab validate` / `simulate` on bad schedules: a deadlocking CSV exits 7
# naming every blocked rank, the op it waits for and what that op waits for;
# a malformed CSV exits 3 naming the file; a good one validates.
set -u
P=${PIPELAB:?}
D=${PL_TEST_DATA:?}
fail=0; n=0
check() { n=$((n+1)); if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Rank 0 wants the full backward of mb 0 before sending F1; rank 1 wants F1
# before running its backward of mb 0: a cyclic wait.
printf '0F0,0B0,0F1,0B1\n1F0,1F1,1B0,1B1\n' > "$tmp/dead.csv"
$P validate --schedule-file "$tmp/dead.csv" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 7 ]; check "deadlock exits 7" $?
grep -q "rank 0 blocked at BW0s0" "$tmp/err"; check "names rank 0 and its op" $?
grep -q "rank 1 blocked at F1s1" "$tmp/err"; check "names rank 1 and its op" $?
grep -q "waiting for BW0s1" "$tmp/err" && grep -q "waiting for F1s0" "$tmp/err"
check "names what each op waits for" $?
$P simulate --schedule-file "$tmp/dead.csv" >/dev/null 2>&1; [ $? = 7 ]; check "simulate refuses it too (7)" $?

printf '0F0,0B0\n1F0,1W0\n' > "$tmp/bad.csv"
$P validate --schedule-file "$tmp/bad.csv" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 7 ]; check "W without I exits 7 ($rc)" $?

printf '0F0,0X0\n' > "$tmp/garbage.csv"
$P validate --schedule-file "$tmp/garbage.csv" >/dev/null 2>"$tmp/err"; rc=$?
[ $rc = 3 ]; check "unparsable cell exits 3 ($rc)" $?
grep -q "garbage.csv" "$tmp/err"; check "parse error names the file" $?

$P validate --schedule-file "$tmp/missing.csv" >/dev/null 2>&1; [ $? = 3 ]; check "missing file exits 3" $?
head -c 3000 /dev/urandom > "$tmp/random.csv"
$P validate --schedule-file "$tmp/random.csv" >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || [ $rc = 7 ]; check "random bytes: clean error, no crash ($rc)" $?

$P validate --schedule-file "$D/pytorch/zb1p_2rank_2stagep_compute.csv" >"$tmp/out" 2>/dev/null
check "PyTorch fixture validates" $?
grep -q "valid: 2 ranks, 4 stages (loop placement), 8 microbatches" "$tmp/out"; check "fixture shape" $?
for s in $($P schedules --format csv | tail -n +2 | cut -d, -f1); do
  $P validate --schedule "$s" --stages 4 --microbatches 8 >/dev/null 2>&1
  check "built-in $s validates at p=4 m=8" $?
done
echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
