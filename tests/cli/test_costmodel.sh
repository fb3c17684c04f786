#!/usr/bin/env bash
# End-to-end test of the kernel-level cost model through the CLI: the
# iteration breakdown adds up in JSON and shows in the tables, the 3D layout
# flags change what they should (links, collectives), FP8 prices GEMMs at
# the FP8 peak and is refused where the GPU lacks it, bad layouts are usage
# errors with one line, and the trace carries a collectives track.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
fail=0; n=0
check() { # name, condition result
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
M="--model llama3-70b --gpu h100 --db :memory:"

# whatif with a 3D layout: the breakdown adds up to the iteration per schedule.
out=$($P whatif $M --tp 8 --stages 4 --dp 2 --microbatches 16 --flash-attn \
      --schedules 1f1b,zb-v --format json)
check "whatif --tp 8 --stages 4 --dp 2 exits 0" $?
ok=$(echo "$out" | python3 -c '
import json,sys
d=json.load(sys.stdin)
good=True
for s in d["schedules"]:
    b=s["breakdown"]
    parts=b["compute_s"]+b["tp_comm_s"]+b["cp_comm_s"]+b["pp_p2p_s"]+b["bubble_s"]+b["dp_comm_s"]+b["optimizer_s"]
    good &= abs(parts-b["iteration_s"]) <= 1e-9*b["iteration_s"]
    good &= abs(b["iteration_s"]-s["iteration_seconds"]) <= 1e-12*b["iteration_s"]
    good &= abs(b["compute_s"]-(b["gemm_s"]+b["attention_s"]+b["memory_bound_s"])) <= 1e-9*b["compute_s"]
    good &= b["tp_comm_s"] > 0 and b["dp_comm_s"] > 0 and b["optimizer_s"] > 0
    good &= s["model"]["tp"] == 8 and s["model"]["pp"] == 4 and s["model"]["dp"] == 2
    good &= s["hfu"] > 0 and s["tokens_per_second_per_gpu"] > 0
print(good)')
[ "$ok" = "True" ]; check "breakdown parts add up to iteration_seconds" $?
tab=$($P whatif $M --tp 8 --stages 4 --dp 2 --microbatches 16 --flash-attn --schedules 1f1b)
echo "$tab" | grep -q "where the time goes"; check "whatif table shows where the time goes" $?
echo "$tab" | grep -q "tp=8 cp=1 pp=4 dp=2"; check "whatif header names the layout" $?
csv=$($P whatif $M --tp 8 --stages 4 --dp 2 --microbatches 16 --schedules 1f1b --format csv)
echo "$csv" | head -1 | grep -q "compute_s,tp_cp_comm_s,pp_p2p_s,dp_comm_s,optimizer_s,bubble_s,hfu"
check "whatif csv has the breakdown columns" $?

sim=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --flash-attn)
echo "$sim" | grep -q "^time     compute"; check "simulate table prints the breakdown" $?
echo "$sim" | grep -q "HFU"; check "simulate prints HFU" $?

# The layout decides the links: tp 8 x dp 2 puts pipeline ranks on other
# nodes; on an NVL72 domain (--gpus-per-node 72) they share NVLink.
it() { json_get 'd["iteration_seconds"]'; }
link() { json_get 'd["model"]["p2p_link"]'; }
a=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --format json)
b=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --gpus-per-node 72 --format json)
[ "$(echo "$a" | link)" = "scale-out" ] && [ "$(echo "$b" | link)" = "scale-up" ]
check "--gpus-per-node 72 keeps the pipeline on the scale-up link" $?
dpa=$(echo "$a" | json_get 'd["breakdown"]["dp_comm_s"]')
dpb=$(echo "$b" | json_get 'd["breakdown"]["dp_comm_s"]')
python3 -c "import sys; sys.exit(0 if float('$dpb') < float('$dpa') else 1)"
check "DP reduce inside one NVLink domain is faster ($dpb < $dpa s)" $?
# Overlapping the gradient reduce hides part of it.
c=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --overlap-grad-reduce --format json)
dpc=$(echo "$c" | json_get 'd["breakdown"]["dp_comm_s"]')
python3 -c "import sys; sys.exit(0 if float('$dpc') < float('$dpa') else 1)"
check "--overlap-grad-reduce exposes less DP time ($dpc < $dpa s)" $?
# TP comm overlap hides TP collectives behind the GEMMs.
d=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --tp-comm-overlap --format json)
python3 -c "import sys; sys.exit(0 if $(echo "$d" | json_get 'd["breakdown"]["tp_comm_s"]') < $(echo "$a" | json_get 'd["breakdown"]["tp_comm_s"]') else 1)"
check "--tp-comm-overlap exposes less TP time" $?

# Precision: FP8 GEMMs on H100 are faster; A100 has no FP8.
f8=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --precision fp8 --format json | it)
b16=$(echo "$a" | it)
python3 -c "import sys; sys.exit(0 if float('$f8') < float('$b16') else 1)"
check "--precision fp8 is faster than bf16 on h100 ($f8 < $b16 s)" $?
err=$($P simulate --model llama3-8b --gpu a100 --db :memory: --stages 2 --microbatches 4 --precision fp8 2>&1 >/dev/null)
rc=$?
[ $rc = 2 ] && [ "$(echo "$err" | wc -l)" = 1 ] && echo "$err" | grep -q "no dense fp8"
check "fp8 on a100: exit 2, one line ($err)" $?
$P simulate $M --stages 2 --microbatches 4 --precision fp7 >/dev/null 2>&1; [ $? = 2 ]
check "--precision fp7: usage error" $?

# Context parallelism: the sequence must split into 2 x cp chunks.
err=$($P simulate $M --stages 2 --microbatches 4 --cp 3 --seq 8192 --flash-attn 2>&1 >/dev/null)
rc=$?
[ $rc = 2 ] && [ "$(echo "$err" | wc -l)" = 1 ]; check "--cp 3 with s = 8192: exit 2, one line" $?
cp=$($P simulate $M --tp 8 --cp 2 --stages 4 --microbatches 8 --seq 16384 --flash-attn --format json)
check "--cp 2 --seq 16384 runs" $?
[ "$(echo "$cp" | json_get 'd["model"]["cp"]')" = "2" ] && [ "$(echo "$cp" | json_get 'd["model"]["gpus"]')" = "64" ]
check "cp 2 doubles the GPUs (tp 8 x cp 2 x pp 4 = 64)" $?

# The flat model stays available and communication-free.
fl=$($P simulate $M --tp 8 --stages 4 --dp 2 --microbatches 16 --mfu 0.5 --format json)
[ "$(echo "$fl" | json_get 'd["model"]["cost_model"]')" = "flat" ] && \
  [ "$(echo "$fl" | json_get 'd["breakdown"]["tp_comm_s"]')" = "0.0" ]
check "--mfu selects the flat model without communication" $?

# The trace has a collectives track with one slice per op that has TP time.
$P simulate $M --tp 8 --stages 2 --microbatches 4 --trace "$tmp/t.json" >/dev/null
ncoll=$(python3 -c "import json; d=json.load(open('$tmp/t.json')); print(sum(1 for e in d['traceEvents'] if e.get('cat')=='collective'))")
[ "$ncoll" = "16" ]; check "trace: 16 collective slices (2 ranks x 4 mb x F, BW): $ncoll" $?
python3 -c "
import json; d=json.load(open('$tmp/t.json'))
names=[e['args']['name'] for e in d['traceEvents'] if e.get('ph')=='M' and e.get('name')=='thread_name' and e.get('tid')==1000]
import sys; sys.exit(0 if names==['collectives','collectives'] else 1)"
check "trace: collectives track named on both ranks" $?

# Measured collectives win: an imported nccl-tests all_reduce log replaces
# the modelled bus bandwidth of the TP all-reduces (no SP: all-reduce).
D="${PL_TEST_DATA:-$(dirname "$0")/../data}"
$P db import "$D/nccl/all_reduce_8rank_1node.txt" --gpu a100 --db "$tmp/n.db" >/dev/null
check "db import of an nccl-tests log" $?
tp() { $P simulate --model gpt3-175b --gpu a100 --tp 8 --stages 8 --microbatches 16 \
         --no-sequence-parallel --db "$1" --format json 2>/dev/null | json_get 'd["breakdown"]["tp_comm_s"]'; }
t0=$(tp :memory:); t1=$(tp "$tmp/n.db")
python3 -c "import sys; sys.exit(0 if 0 < float('$t1') < float('$t0') else 1)"
check "measured all-reduce bus bandwidth changes the exposed TP time ($t0 -> $t1 s)" $?

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
