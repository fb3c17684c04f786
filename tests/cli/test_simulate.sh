#!/usr/bin/env bash
# End-to-end test of the `simulate` CLI contract: JSON
# fields and values, usage errors (exit 2, one line), --help everywhere.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
fail=0; n=0
check() { # name, condition result
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
tmp_err=$(mktemp "${TMPDIR:-/tmp}/pl_sim_err.XXXXXX") || exit 1
trap 'rm -f "$tmp_err"' EXIT
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

out=$($P simulate --schedule 1f1b --stages 4 --microbatches 8 --format json)
check "simulate json exits 0" $?
for key in schedule stages microbatches chunks time_unit makespan max_rank_span bubble_ratio bubble_ratio_span ranks; do
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if '$key' in d else 1)"
  check "json has $key" $?
done
[ "$(echo "$out" | json_get 'd["makespan"]')" = "33" ]; check "1f1b makespan 33" $?
[ "$(echo "$out" | json_get 'd["schedule"]')" = "1f1b" ]; check "schedule name" $?
[ "$(echo "$out" | json_get '[r["peak_activation_units"] for r in d["ranks"]]')" = "[4, 3, 2, 1]" ]
check "1f1b peaks 4 3 2 1" $?
for key in rank busy first_start last_end bubble_ratio peak_activation_units; do
  echo "$out" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if all('$key' in r for r in d['ranks']) else 1)"
  check "ranks[] have $key" $?
done
b=$(echo "$out" | json_get 'round(d["bubble_ratio"], 12) == round(1 - 8*3/33, 12)')
[ "$b" = "True" ]; check "bubble_ratio = 1 - m(tf+tb+tw)/makespan" $?

out=$($P simulate --schedule interleaved --chunks 2 --stages 4 --microbatches 8 --format json)
[ "$(echo "$out" | json_get 'd["makespan"]')" = "28.5" ]; check "interleaved v=2 makespan 28.5" $?
[ "$(echo "$out" | json_get 'd["chunks"]')" = "2" ]; check "interleaved chunks 2" $?

out=$($P simulate --schedule 1f1b --stages 4 --microbatches 8 --tf 2 --tb 1 --tw 1 --comm 0.5 --format json)
# (m+p-1)(tf+tb+tw) + comm(2(p-1)m/p + 2(p-2)) = 44 + 0.5*16 = 52
[ "$(echo "$out" | json_get 'd["makespan"]')" = "52" ]; check "1f1b with comm 52" $?

csv=$($P simulate --schedule gpipe --stages 2 --microbatches 2 --format csv)
[ "$(echo "$csv" | head -1 | cut -d, -f1-3)" = "schedule,rank,busy" ]; check "csv header" $?
[ "$(echo "$csv" | wc -l)" = "3" ]; check "csv one row per rank" $?

# Usage errors: exit 2 and exactly one line on stderr, nothing on stdout.
usage_case() {
  local so se rc
  so=$("$P" "$@" 2>/tmp/pl_err.$$); rc=$?
  se=$(cat /tmp/pl_err.$$)
  [ "$rc" = 2 ] && [ -z "$so" ] && [ "$(printf '%s\n' "$se" | wc -l)" = 1 ]
  check "usage error (exit 2, one line): $*" $?
}
usage_case simulate --stages 4 --microbatches 8
usage_case simulate --schedule 1f1b --microbatches 8
usage_case simulate --schedule 1f1b --stages 0 --microbatches 8
usage_case simulate --schedule 1f1b --stages four --microbatches 8
usage_case simulate --schedule nosuch --stages 4 --microbatches 8
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --format xml
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --tf -1
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --bogus
usage_case simulate --schedule interleaved --stages 4 --microbatches 6
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --mem-w-frac 2
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 extra
usage_case nosuchcommand
rm -f /tmp/pl_err.$$

# --help on every command exits 0 and prints a usage line.
for c in $($P --help | awk '/^commands:/{f=1;next} f && NF>=2 && /^   /{print $1}'); do
  $P "$c" --help | grep -q "usage: pipelab $c"
  check "$c --help" $?
  $P help "$c" >/dev/null
  check "help $c" $?
done
$P --version | grep -q "^pipelab "; check "--version" $?

# The main job prints the comparison table with every schedule name.
out=$($P whatif)
check "whatif exits 0" $?
for s in $($P schedules --format csv | tail -n +2 | cut -d, -f1); do
  echo "$out" | grep -q "^$s "; check "whatif lists $s" $?
done

# --record stores the run in the history database.
hdb=$(mktemp -u /tmp/pl_hist.XXXXXX.db)
PIPELAB_DB=$hdb $P simulate --schedule 1f1b --stages 4 --microbatches 8 --record >/dev/null 2>&1
check "simulate --record exits 0" $?
[ "$(sqlite3 "$hdb" "select count(*) from runs")" = 1 ]; check "one run stored" $?
[ "$(sqlite3 "$hdb" "select count(*) from run_ops")" = 64 ]; check "its 64 ops stored" $?
rm -f "$hdb" "$hdb"-wal "$hdb"-shm

# With the executor's workload flags, simulate predicts exactly the peak
# activation bytes that `pipelab run --backend cpu` measures.
peaks() { python3 -c "import json,sys; d=json.load(sys.stdin); assert d['mem_unit']=='bytes'; print([r['peak_activation_bytes'] for r in d['ranks']])"; }
for sch in 1f1b zb-h1 interleaved zb-v; do
  pred=$($P simulate --schedule $sch --stages 2 --microbatches 4 --layers 8 --hidden 32 --seq 16 --format json 2>/dev/null | peaks)
  meas=$($P run --backend cpu --schedule $sch --stages 2 --microbatches 4 --layers 8 --hidden 32 --seq 16 --format json 2>/dev/null | peaks)
  [ -n "$pred" ] && [ "$pred" = "$meas" ]; check "$sch: predicted peak bytes $pred = measured $meas" $?
done
# The same with --attention (its stash includes the [seq, seq]
# probabilities, so seq 16 at mb-size 2 weighs on the B-part), and it
# really changes the prediction.
for sch in 1f1b zb-v; do
  pred=$($P simulate --schedule $sch --stages 2 --microbatches 4 --layers 8 --hidden 32 --seq 16 --mb-size 2 --attention --format json 2>/dev/null | peaks)
  meas=$($P run --backend cpu --schedule $sch --stages 2 --microbatches 4 --layers 8 --hidden 32 --seq 16 --mb-size 2 --attention --format json 2>/dev/null | peaks)
  plain=$($P simulate --schedule $sch --stages 2 --microbatches 4 --layers 8 --hidden 32 --seq 16 --mb-size 2 --format json 2>/dev/null | peaks)
  [ -n "$pred" ] && [ "$pred" = "$meas" ] && [ "$pred" != "$plain" ]
  check "$sch --attention: predicted peak bytes $pred = measured $meas (without: $plain)" $?
done
$P simulate --schedule 1f1b --stages 2 --microbatches 4 --layers 2 --attention --gpu cpu >/dev/null 2>&1; [ $? = 2 ]
check "--attention with a calibrated --gpu: usage error" $?
$P simulate --schedule 1f1b --stages 2 --microbatches 4 --layers 3 >/dev/null 2>&1; [ $? = 2 ]
check "layers not divisible by stages: usage error" $?

# Fused F&B ops and the MoE all-to-all (docs/pytorch-schedules.md).
out=$($P simulate --schedule 1f1b --stages 4 --microbatches 8 --a2a 0.5 --format json)
[ "$(echo "$out" | json_get 'd["makespan"], d["costs"]["a2a"]')" = "(44, 0.5)" ]
check "1f1b with --a2a 0.5: makespan (m+p-1)(F+B+W+2T) = 44" $?
a=$($P simulate --schedule dualpipev --stages 4 --microbatches 8 --tf 2 --tb 2 --tw 2 --format json | json_get 'd["makespan"]')
b=$($P simulate --schedule dualpipev --stages 4 --microbatches 8 --tf 2 --tb 2 --tw 2 --fb-overlap 1 --format json | json_get 'd["makespan"]')
[ "$a" = 54 ] && [ "$b" = 44 ]
check "dualpipev p=4 m=8: makespan 54 at --fb-overlap 0; 44 at 1 (last rank: 48 - 7 fused ops saving 1, + bubble 3) (got $a, $b)" $?
$P simulate --schedule dualpipev --stages 4 --microbatches 8 --fb-overlap 1.5 >/dev/null 2>"$tmp_err"; [ $? = 2 ] && [ "$(wc -l <"$tmp_err")" = 1 ]
check "--fb-overlap above 1: usage error, one line" $?
out=$($P whatif --stages 4 --microbatches 16 --tf 10 --tb 10 --tw 8 --comm 0.2 --time-unit ms --a2a 4 --schedules zb-v,dualpipev --format csv)
[ "$(echo "$out" | awk -F, '$1=="zb-v"||$1=="dualpipev"{printf "%s=%s ", $1, $3}')" = "zb-v=600 dualpipev=528.6 " ]
check "whatif --a2a 4: dualpipev 528.6 beats zb-v 600" $?
$P whatif --stages 4 --microbatches 8 --format csv | grep -q "^dualpipev,2,"
check "whatif lists dualpipev" $?

T=$(mktemp -d "${TMPDIR:-/tmp}/pl_sim_bidir.XXXXXX") || exit 1
trap 'rm -f "$tmp_err"; rm -rf "$T"' EXIT
# Wave and bidirectional schedules (docs/bidirectional.md).
for s in hanayo chimera dualpipe; do
  $P whatif --stages 4 --microbatches 8 --format csv | grep -q "^$s,"
  check "whatif lists $s" $?
done
v=$($P simulate --schedule hanayo --waves 1 --stages 4 --microbatches 8 --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["chunks"], d["makespan"])')
[ "$v" = "2 32.5" ]; check "hanayo --waves 1: 2 chunks, makespan 32.5 (got $v)" $?
$P simulate --schedule 1f1b --stages 4 --microbatches 8 --waves 2 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ]; check "--waves refused for 1f1b (rc $rc)" $?
v=$($P simulate --schedule chimera --stages 4 --microbatches 4 --tw 0 --replica-allreduce 1.5 --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["makespan"])')
[ "$v" = "13" ]; check "chimera p=4 m=4 F=B: 10 + 2 x 1.5 all-reduce = 13 (got $v)" $?
$P convert --schedule dualpipe --stages 4 --microbatches 8 >"$T/o" 2>"$T/e"; rc=$?
[ $rc != 0 ] && [ ! -s "$T/o" ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "cannot express" "$T/e"
check "convert dualpipe: refused with one line (rc $rc)" $?
printf 'stage,F,B,W,act,kept,p2p\n0,2,2,1,100,50\n1,1,1,1,80,40,0.5\n2,1,1,1,80,40\n3,1,3,2,120,60\n' >"$T/sc.csv"
v=$($P simulate --schedule 1f1b --stages 4 --microbatches 8 --stage-costs "$T/sc.csv" --format json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["makespan"], d["mem_unit"], [r["busy"] for r in d["ranks"]])')
[ "$v" = "60 bytes [40, 24, 24, 48]" ]; check "--stage-costs: makespan 60, bytes, per-rank busy (got $v)" $?
printf '0,1,1,1,10,5\n' >"$T/sc2.csv"
$P simulate --schedule 1f1b --stages 4 --microbatches 8 --stage-costs "$T/sc2.csv" >/dev/null 2>"$T/e"; rc=$?
[ $rc != 0 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "stage 1 has no row" "$T/e"
check "--stage-costs missing a stage: one line (rc $rc)" $?
for c in "simulate --schedule 1f1b" whatif; do
  $P $c --stages 4 --microbatches 8 --stage-costs "$T/sc.csv" --model llama3-8b --gpu h100 --db :memory: >/dev/null 2>"$T/e"; rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "drop --model/--gpu" "$T/e"
  check "$c: --stage-costs with --model is refused in one line (rc $rc)" $?
done
$P simulate --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 4,3,3,2 >/dev/null
check "zb-auto takes one --mem-limit per rank" $?
$P simulate --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 4,3 >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ]; check "per-rank --mem-limit with the wrong count: usage (rc $rc)" $?

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
