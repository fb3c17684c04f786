#!/usr/bin/env bash
# End-to-end test of `pipelab convert` (PyTorch schedule CSV): lowering the
# PyTorch artifact reproduces its comms file byte for byte, the unit-time dry
# run gives PyTorch's 113 steps, generated schedules round-trip through
# files, and bad input exits 2 (usage) or 3 (malformed CSV, naming file, line
# and cell) with one line on stderr.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
D=${PL_TEST_DATA:?set PL_TEST_DATA to tests/data}/pytorch
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_csv.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}

# Golden: compute -> comms equals PyTorch's lowered artifact.
$P convert --schedule-file "$D/zb1p_2rank_2stagep_compute.csv" --to comms -o "$T/comms.csv" 2>"$T/err"
check "lower zb1p exits 0" $?
cmp -s "$T/comms.csv" "$D/zb1p_2rank_2stagep_comms.csv"
check "lowered zb1p equals zb1p_2rank_2stagep_comms.csv" $?
grep -q "current dialect (detected)" "$T/err"
check "detected dialect printed on stderr" $?

# Golden: unit-time dry run, lowered and direct.
out=$($P convert --schedule-file "$D/zb1p_2rank_2stagep_compute.csv" --unit-time --format json 2>/dev/null)
check "unit-time json exits 0" $?
v=$(echo "$out" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["steps"], [(r["slots"], r["idle"], r["actions"]) for r in d["ranks"]])')
[ "$v" = "113 [(112, 32, 80), (113, 17, 96)]" ]
check "zb1p unit time: 113 steps, rank rows 112/32 and 113/17 (got $v)" $?
out=$($P convert --schedule-file "$D/zb1p_2rank_2stagep_comms.csv" --unit-time --format csv 2>/dev/null)
[ "$(echo "$out" | tail -n 1 | cut -d, -f5)" = "113" ]
check "comms file simulated directly: 113 steps" $?
[ "$(echo "$out" | head -n 1)" = "rank,actions,slots,idle,steps" ]
check "unit-time csv header" $?

# Compute fixture through convert: idle cells dropped, otherwise identical.
$P convert --schedule-file "$D/zb1p_2rank_2stagep_compute.csv" -o "$T/c.csv" 2>/dev/null
check "compute round trip exits 0" $?
sed -e 's/,,/,/g' -e 's/^,//' "$D/zb1p_2rank_2stagep_compute.csv" | cmp -s - "$T/c.csv"
check "compute fixture round trip (idle cells dropped)" $?
$P convert --schedule-file "$D/dualpipev_4rank_10mb.csv" -o "$T/dpv.csv" 2>/dev/null
cmp -s "$T/dpv.csv" "$D/dualpipev_4rank_10mb.csv"
check "DualPipeV fixture round trip byte for byte" $?
# The generators of PyTorch's schedules print its artifacts.
$P convert --schedule dualpipev --stages 4 --microbatches 10 | cmp -s - "$D/dualpipev_4rank_10mb.csv"
check "convert --schedule dualpipev p=4 m=10 prints PyTorch's DualPipeV CSV" $?
$P convert --schedule interleaved-zb --stages 2 --microbatches 8 --chunks 2 |
  cmp -s - "$T/c.csv"
check "convert --schedule interleaved-zb p=2 m=8 v=2 prints the zb1p CSV (idle cells dropped)" $?
v=$($P convert --schedule dualpipev --stages 4 --microbatches 10 --unit-time --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"])')
[ "$v" = 152 ]
check "generated DualPipeV lowered and dry-run: 152 steps like the artifact (got $v)" $?
v=$($P convert --schedule interleaved-zb --stages 2 --microbatches 8 --unit-time --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["steps"])')
[ "$v" = 113 ]
check "generated interleaved-zb lowered and dry-run: PyTorch's 113 steps (got $v)" $?

# Generated schedules: CSV -> file -> CSV is a fixed point, and the file
# simulates to the same makespan as the generator.
for spec in "gpipe 4 8 1" "1f1b 4 8 1" "interleaved 4 8 2" "1f1b 3 5 1" \
            "dualpipev 4 10 2" "looped-bfs 3 5 2" "zbv-pytorch 4 6 2" \
            "interleaved-relaxed 4 10 3"; do
  set -- $spec
  $P convert --schedule "$1" --stages "$2" --microbatches "$3" --chunks "$4" -o "$T/g.csv"
  check "convert $spec exits 0" $?
  $P convert --schedule-file "$T/g.csv" -o "$T/g2.csv" 2>/dev/null
  cmp -s "$T/g.csv" "$T/g2.csv"
  check "$spec: file round trip is a fixed point" $?
  a=$($P simulate --schedule "$1" --stages "$2" --microbatches "$3" --chunks "$4" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["makespan"])')
  b=$($P simulate --schedule-file "$T/g.csv" --format json 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["makespan"])')
  [ -n "$a" ] && [ "$a" = "$b" ]
  check "$spec: same makespan from the generator and the file ($a vs $b)" $?
  # Lowering merges an I directly followed by its W into one B (PyTorch's
  # _merge_bw), so only schedules without such pairs come back unchanged.
  case $1 in dualpipev|zbv-pytorch) continue ;; esac
  $P convert --schedule-file "$T/g.csv" --to comms -o "$T/gc.csv" 2>/dev/null &&
    $P convert --schedule-file "$T/gc.csv" --to compute 2>/dev/null | cmp -s - "$T/g.csv"
  check "$spec: comms -> compute gives the compute file back" $?
done
[ "$($P convert --schedule 1f1b --stages 2 --microbatches 2)" = "$(printf '0F0,0F1,0B0,0B1\n1F0,1B0,1F1,1B1')" ]
check "1f1b p=2 m=2 CSV (B = full backward)" $?

# Usage errors: exit 2, one line.
expect_usage() { # name, args...
  local name=$1; shift
  $P convert "$@" >/dev/null 2>"$T/err"; local rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$T/err")" = 1 ]
  check "$name: exit 2 with one line (rc $rc)" $?
}
expect_usage "bad --to" --schedule 1f1b --stages 2 --microbatches 2 --to bogus
expect_usage "no schedule" --stages 2 --microbatches 2
expect_usage "both schedule and file" --schedule 1f1b --schedule-file "$D/zb1p_2rank_2stagep_compute.csv"
expect_usage "bad --dialect" --schedule-file "$D/zb1p_2rank_2stagep_compute.csv" --dialect newest
expect_usage "unknown option" --schedule 1f1b --stages 2 --microbatches 2 --bogus
expect_usage "--format without --unit-time" --schedule 1f1b --stages 2 --microbatches 2 --format json
expect_usage "--stages mismatch" --schedule-file "$D/dualpipev_4rank_10mb.csv" --stages 3
expect_usage "stray argument" --schedule 1f1b --stages 2 --microbatches 2 extra

# Malformed CSV: exit 3, message names file, line and cell.
printf '0F0,0I0,0W0\n1F0,1I0,1W0x\n' >"$T/bad.csv"
$P convert --schedule-file "$T/bad.csv" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 3 ]; check "trailing garbage exits 3 (rc $rc)" $?
grep -q "bad.csv': line 2, cell 3: '1W0x'" "$T/err"; check "error names file, line 2, cell 3" $?
printf '0F0,"0B0\n' >"$T/q.csv"
$P convert --schedule-file "$T/q.csv" >/dev/null 2>&1; rc=$?
[ $rc = 3 ]; check "unclosed quote exits 3 (rc $rc)" $?
: >"$T/empty.csv"
$P convert --schedule-file "$T/empty.csv" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "empty" "$T/err"; check "empty file exits 3 (rc $rc)" $?
printf '0F0,0BW0\n' >"$T/legacy.csv"
$P convert --schedule-file "$T/legacy.csv" --dialect current >/dev/null 2>&1; rc=$?
[ $rc = 3 ]; check "legacy token under --dialect current exits 3 (rc $rc)" $?
[ "$($P convert --schedule-file "$T/legacy.csv" 2>/dev/null)" = "0F0,0B0" ]
check "legacy BW converts to current B" $?
$P convert --schedule-file "$T/nonexistent.csv" >/dev/null 2>&1; rc=$?
[ $rc = 3 ]; check "missing file exits 3 (rc $rc)" $?
head -c 3000 /dev/urandom >"$T/rand.csv"
$P convert --schedule-file "$T/rand.csv" >/dev/null 2>&1; rc=$?
[ $rc = 3 ] || [ $rc = 7 ]; check "random bytes exit 3 or 7, no crash (rc $rc)" $?

# A dry run that cannot progress: exit 7, names each stuck rank.
printf '0F0,0RECV_B0,0B0\n1RECV_F0,1F0,1B0,1SEND_B0\n' >"$T/stuck.csv"
$P convert --schedule-file "$T/stuck.csv" --unit-time >/dev/null 2>"$T/err"; rc=$?
[ $rc = 7 ] && grep -q "rank 0 next action 0RECV_B0" "$T/err" && grep -q "rank 1 next action 1RECV_F0" "$T/err"
check "stuck dry run exits 7 naming both ranks (rc $rc)" $?

$P convert --help | grep -q "^usage: pipelab convert"; check "--help on stdout" $?

echo "$((n-fail)) of $n passed"
[ $fail = 0 ]
