#!/usr/bin/env bash
# End-to-end tests of `pipelab sweep` (constant costs): ranking, rejections
# with reasons, nothing valid -> exit 1, usage errors -> exit 2.
set -u
P=${PIPELAB:?}
fail=0; n=0
check() { n=$((n+1)); if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi; }
tmp_err=$(mktemp); trap 'rm -f "$tmp_err"' EXIT
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }

out=$($P sweep --gpus 8 --stages 2,4,8 --microbatches 8..16:8 --schedules 1f1b,gpipe \
      --tf-total 8 --tb-total 8 --tw-total 8 --mem-limit 1 --all --format json 2>/dev/null)
check "sweep json exits 0" $?
# Whole-model memory units: 1F1B holds p per-rank units of 1/p each = 1 (fits a limit of 1);
# GPipe holds m/p >= 1 and fits only when m == p.
echo "$out" | python3 -c "
import json,sys
d=json.load(sys.stdin)
rows=d['rows']
assert len(rows)==d['points']==12, len(rows)
for r in rows:
    want_ok = r['schedule']=='1f1b' or r['microbatches']==r['stages']
    assert (r['status']=='ok')==want_ok, r
    assert r['status']!='ok' or r['peak_activation_units']<=1
" ; check "accepted rows respect the limit" $?

# The runtime: 1F1B p=4 m=8, unit costs per rank, batched P2P of 0.5 and an
# op gap of 0.25: 11 (T_F + T_BW) + 19 c (batched, docs/transfers.md) plus
# 22 gaps less the first = 33 + 9.5 + 5.25 = 47.75, as simulate gives it.
out=$($P sweep --gpus 4 --stages 4 --schedules 1f1b --microbatches 8 --tf 1 --tb 1 \
      --tw 1 --comm 0.5 --p2p batched --op-gap 0.25 --format json 2>/dev/null)
[ "$(echo "$out" | json_get "d['rows'][0]['iteration_time']")" = "47.75" ]
check "sweep --p2p batched --op-gap: 1F1B p=4 m=8 iteration 47.75" $?
[ "$($P simulate --schedule 1f1b --stages 4 --microbatches 8 --comm 0.5 --p2p batched \
      --op-gap 0.25 --format json | json_get "d['makespan']")" = "47.75" ]
check "the same as simulate" $?
$P sweep --gpus 4 --p2p sideways >/dev/null 2>"$tmp_err"; [ $? = 2 ] && grep -q -- "--p2p must be" "$tmp_err"
check "sweep --p2p sideways: usage error" $?

# Host time per message: a one-microbatch chain through p = 4 stages costs
# p (T_F + T_B + T_W) + 2 (p - 1)(o_s + c + o_r) = 12 + 6 x 0.875 = 17.25.
out=$($P sweep --gpus 4 --stages 4 --schedules gpipe --microbatches 1 --tf 1 --tb 1 --tw 1 \
      --comm 0.5 --send-overhead 0.25 --recv-overhead 0.125 --format json 2>/dev/null)
[ "$(echo "$out" | json_get "d['rows'][0]['iteration_time']")" = "17.25" ]
check "sweep --send/--recv-overhead: chain closed form 17.25" $?
[ "$(echo "$out" | json_get "(d['runtime']['send_overhead'], d['runtime']['recv_overhead'], d['runtime']['local_handoff'])")" = "(0.25, 0.125, 'free')" ]
check "sweep JSON runtime names the overheads" $?
# ZB-V's turn on the last rank pays both only when copied; each as simulate.
for h in free copied; do
  a=$($P sweep --gpus 4 --stages 4 --schedules zb-v --microbatches 8 --tf 1 --tb 1 --tw 1 \
      --comm 0.5 --send-overhead 0.25 --recv-overhead 0.125 --local-handoff $h \
      --format json 2>/dev/null | json_get "d['rows'][0]['iteration_time']")
  b=$($P simulate --schedule zb-v --stages 4 --microbatches 8 --comm 0.5 --send-overhead 0.25 \
      --recv-overhead 0.125 --local-handoff $h --format json | json_get "d['makespan']")
  [ -n "$a" ] && [ -n "$b" ] && awk "BEGIN { exit !($a == $b) }"
  check "sweep --local-handoff $h: zb-v as simulate ($a)" $?
  eval "zbv_$h=\$a"
done
[ "$zbv_free" = "43.875" ] && [ "$zbv_copied" = "46.0" ]
check "a copied local hand-off costs zb-v 2.125 more" $?
$P sweep --gpus 4 --local-handoff sideways >/dev/null 2>"$tmp_err"; [ $? = 2 ] && grep -q -- "--local-handoff must be" "$tmp_err"
check "sweep --local-handoff sideways: usage error" $?

out=$($P sweep --gpus 8 --stages 2,4,8 --microbatches 8..16:8 --schedules 1f1b,zb-h1,gpipe \
      --tf-total 8 --tb-total 8 --tw-total 8 --format csv 2>/dev/null)
check "sweep csv exits 0" $?
[ "$(echo "$out" | head -1 | cut -d, -f1-3)" = "rank,schedule,stages" ]; check "csv header" $?
# Without a limit, throughput ranks: the first row's throughput is the maximum.
echo "$out" | python3 -c "
import csv,sys
rows=list(csv.DictReader(sys.stdin))
t=[float(r['throughput']) for r in rows if r['throughput']]
assert t and t[0]==max(t), t
"; check "first row has the best throughput" $?

$P sweep --gpus 8 --stages 8 --microbatches 8 --schedules gpipe --mem-limit 0.1 --all >/tmp/pl_sw.$$ 2>&1
rc=$?
[ $rc = 1 ]; check "nothing valid exits 1" $?
grep -q "out of memory" /tmp/pl_sw.$$; check "rejection reason printed" $?
grep -q "no configuration is valid" /tmp/pl_sw.$$; check "says nothing is valid" $?

$P sweep --gpus 6 --stages 4 --microbatches 8 --all --schedules 1f1b >/tmp/pl_sw.$$ 2>&1
grep -q "not a multiple of tp x cp x p = 4" /tmp/pl_sw.$$; check "gpus not divisible reason" $?
rm -f /tmp/pl_sw.$$

# --tf/--tb/--tw mean what they mean in simulate (per rank): with one --stages p
# the sweep's point is simulate's iteration; --t?-total is the whole model (p x).
sim=$($P simulate --schedule 1f1b --stages 4 --microbatches 8 --tf 2 --tb 1 --tw 1 --format json | json_get 'd["makespan"]')
[ "$sim" = "44" ]; check "simulate 1f1b p4 m8 tf 2: makespan 44 (got $sim)" $?
sw=$($P sweep --gpus 4 --stages 4 --microbatches 8 --schedules 1f1b --tf 2 --tb 1 --tw 1 --format json | json_get 'd["rows"][0]["iteration_time"]')
[ "$sw" = "44.0" ]; check "sweep --tf per rank = simulate's makespan (got $sw)" $?
sw=$($P sweep --gpus 4 --stages 4 --microbatches 8 --schedules 1f1b --tf-total 8 --tb-total 4 --tw-total 4 --format json | json_get 'd["rows"][0]["iteration_time"]')
[ "$sw" = "44.0" ]; check "sweep --tf-total = p x per rank (got $sw)" $?
for args in "--gpus 8 --tf 2" "--gpus 8 --stages 2,4 --tb 1" "--gpus 8 --stages 2 --tf 1 --tf-total 2" \
            "--gpus 8 --model llama3-8b --gpu h100 --tf 1"; do
  $P sweep $args >/dev/null 2>"$tmp_err"; rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$tmp_err")" = 1 ]; check "sweep $args: one usage line, exit 2 (rc $rc)" $?
done

for args in "--stages 4" "--gpus 0" "--gpus 8 --microbatches 9..3" "--gpus 8 --schedules nope" \
            "--gpus 8 --bogus"; do
  $P sweep $args >/dev/null 2>&1; [ $? = 2 ]; check "usage error: $args" $?
done
# Model-priced sweep (cost database): accepted rows fit the GPU's HBM, are
# sorted by tokens/s, and out-of-memory rejections say so in GiB.
export PIPELAB_DB=$(mktemp -u /tmp/pl_sweep.XXXXXX.db)
out=$($P sweep --model llama3-70b --gpu h100 --gpus 64 --stages 8,16 --microbatches 32..64:32 \
      --seq 4096 --flash-attn --distributed-optimizer --all --format json 2>/dev/null)
check "model sweep exits 0" $?
echo "$out" | python3 -c "
import json,sys
d=json.load(sys.stdin)
ok=[r for r in d['rows'] if r['status']=='ok']
assert ok, 'nothing accepted'
assert all(r['peak_gib'] <= 80 for r in ok)
t=[r['tokens_per_second'] for r in ok]
assert t==sorted(t, reverse=True)
assert all(0 < r['mfu'] < 1 for r in ok)
bad=[r for r in d['rows'] if r['status']!='ok']
assert any('out of memory' in r['reason'] and 'GiB' in r['reason'] for r in bad)
"; check "model sweep: fits HBM, sorted, OOM reasons" $?
$P sweep --model llama3-70b --gpu h100 --gpus 64 --tp 3 >/dev/null 2>&1; [ $? = 2 ]
check "gpus not a multiple of tp: usage error" $?
$P sweep --model nosuch --gpu h100 --gpus 8 >/dev/null 2>&1; [ $? = 2 ]; check "unknown model: usage error" $?
rm -f "$PIPELAB_DB" "$PIPELAB_DB"-wal "$PIPELAB_DB"-shm
unset PIPELAB_DB

# The 3D sweep at a fixed global batch: pruning finds the same top 10 as
# the exhaustive search, shards merge to the same ranking, the counts add
# up to the space, and the top rows keep TP inside the node.
S="--model llama3-8b --gpu h100 --gpus 16 --global-batch 64 --seq 4096 --db :memory: --format json"
pr=$($P sweep $S 2>/dev/null); ex=$($P sweep $S --exhaustive 2>/dev/null)
key='[(r["schedule"],r["tp"],r["stages"],r["dp"],r["mb_size"],r["chunks"],r["recompute"],r["distributed_optimizer"]) for r in d["rows"]]'
a=$(echo "$pr" | json_get "$key"); b=$(echo "$ex" | json_get "$key")
[ -n "$a" ] && [ "$a" = "$b" ]
check "pruned top 10 = exhaustive top 10" $?
echo "$pr" | python3 -c '
import json,sys; d=json.load(sys.stdin); r=d["rows"]
sys.exit(0 if len(r)==10 and all(x["tp"]<=8 and x["status"]=="ok" and x["tp"]*x["cp"]*x["stages"]*x["dp"]==16 for x in r) else 1)'
check "top rows: ok, tp within the node, GPUs add up" $?
all=$($P sweep $S --all 2>/dev/null)
echo "$all" | python3 -c '
import json,sys; d=json.load(sys.stdin)
sys.exit(0 if len(d["rows"])==d["points"] else 1)'
check "--all lists every point (accepted + rejected + pruned = space)" $?
tmp=$(mktemp -d)
for k in 0 1 2; do $P sweep $S --all --shard $k/3 > "$tmp/s$k.json" 2>/dev/null; done
mg=$($P sweep merge "$tmp/s0.json" "$tmp/s1.json" "$tmp/s2.json" --format json)
a=$(echo "$mg" | json_get "$key"); b=$(echo "$pr" | json_get "$key")
[ -n "$a" ] && [ "$a" = "$b" ]
check "shards 0..2 merged = the unsharded top 10" $?
$P sweep $S --format table --explain 1 2>/dev/null | grep -q "^row 1:"
check "--explain 1 prints the row's breakdown" $?
$P sweep --model llama3-8b --gpu h100 --gpus 16 --shard 3/3 >/dev/null 2>&1; [ $? = 2 ]
check "--shard 3/3: usage error" $?
rm -rf "$tmp"

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
