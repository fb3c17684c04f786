#!/usr/bin/env bash
# End-to-end test of the catalog commands: `db add gpu|model` (then whatif
# on what was added), bad values (exit 2, one stderr line, nothing stored),
# taken names (exit 3) and --replace (same id), catalog imports from CSV and
# JSON, nccl-tests log imports (tests/data/nccl) and `db list collectives`,
# and the schema 4 columns of `db list gpus` / `db show`.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
D=${PL_TEST_DATA:?set PL_TEST_DATA to tests/data}
command -v python3 >/dev/null || { echo "skip: python3 not found" >&2; exit 77; }
T=$(mktemp -d /tmp/pl_cli_catalog_XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = ok)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
one_line() { [ "$(wc -l < "$1")" = 1 ]; }
sql() { python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])" "$PIPELAB_DB" "$1"; }
# The whole catalog, to prove that a refused command stored nothing.
snapshot() { "$P" db export --format json | python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps([d['gpus'], d['models'], d['calibrations'], d['collectives']], sort_keys=True))" | md5sum; }

export PIPELAB_DB="$T/cat.db"
unset XDG_DATA_HOME
GPU_REQ="--bf16-tflops 1200 --hbm-gib 96 --hbm-tb-per-s 4.5 --scaleup-gb-per-s 450 --scaleout-gb-per-s 50"
MODEL_REQ="--layers 8 --hidden 1024 --heads 16 --ffn 2816 --vocab 32000 --seq 2048"

# ---- db add, then use it ----
"$P" db add gpu x200 $GPU_REQ --fp8-tflops 2400 --fp4-tflops 4800 --sm-count 140 \
  --gemm-efficiency 0.7 --attn-efficiency 0.5 --hbm-efficiency 0.9 --launch-us 3 \
  --scaleup-domain 16 --gpus-per-node 4 --scaleup-latency-us 1.5 --scaleout-latency-us 5 \
  --scaleup-coll-efficiency 0.8 --scaleout-coll-efficiency 0.85 --host-gb-per-s 64 \
  --full-name "Example X200 96GB" --vendor Example --source "datasheet, rev 2" \
  --aliases "x200-sxm, x200-96gb" > "$T/out" 2>"$T/err"
check "db add gpu exits 0" $?
grep -q "^added GPU 'x200' to $T/cat.db" "$T/out" && [ ! -s "$T/err" ]; check "db add gpu says where" $?
[ "$(sql "SELECT bf16_dense_flops = 1200e12 AND hbm_bytes = 96 * 1073741824 AND hbm_bytes_per_s = 4.5e12 AND scaleup_bytes_per_s = 450e9 AND scaleout_bytes_per_s = 50e9 AND fp8_dense_flops = 2400e12 AND fp4_dense_flops = 4800e12 AND host_link_bytes_per_s = 64e9 FROM gpus WHERE name = 'x200'")" = 1 ]
check "human units stored in SI units (TFLOP/s, GiB = 2^30, TB/s, GB/s)" $?
[ "$(sql "SELECT sm_count || ' ' || gemm_efficiency || ' ' || kernel_launch_us || ' ' || scaleup_domain || ' ' || gpus_per_node || ' ' || scaleout_coll_efficiency || ' ' || aliases || ' ' || kind FROM gpus WHERE name = 'x200'")" = "140 0.7 3.0 16 4 0.85 x200-sxm,x200-96gb gpu" ]
check "optional GPU columns stored" $?
"$P" db add model mini-1b $MODEL_REQ --kv-heads 4 --arch llama --params 1.1B --full-name "Mini 1B" >/dev/null
check "db add model exits 0" $?
[ "$(sql "SELECT arch || ' ' || kv_heads || ' ' || tied_embeddings || ' ' || learned_pos || ' ' || published_params FROM models WHERE name = 'mini-1b'")" = "llama 4 0 0 1100000000.0" ]
check "model defaults: untied for llama, no learned positions; --params 1.1B" $?
"$P" db add model mini-gpt $MODEL_REQ --learned-pos --params 0.2 >/dev/null
[ "$(sql "SELECT arch || ' ' || kv_heads || ' ' || tied_embeddings || ' ' || learned_pos || ' ' || published_params FROM models WHERE name = 'mini-gpt'")" = "gpt 16 1 1 200000000.0" ]
check "model defaults: gpt, kv_heads = heads, tied; --learned-pos" $?
out=$("$P" whatif --model mini-1b --gpu x200 --stages 2 --microbatches 4 2>&1)
check "whatif on the added model and GPU exits 0" $?
echo "$out" | grep -q "mini-1b on 2 x x200" && echo "$out" | grep -q "tokens/s"; check "whatif names them" $?
"$P" whatif --model mini-gpt --gpu x200-96gb --stages 2 --microbatches 4 >/dev/null 2>&1
check "whatif through a GPU alias" $?

# ---- listings ----
j=$("$P" db list gpus --format json)
[ "$(echo "$j" | json_get '[(g["bf16_tflops"], g["hbm_gib"], g["kind"], g["fp8_tflops"], g["sms"], g["domain"], g["per_node"]) for g in d if g["name"] == "x200"][0]')" = "(1200.0, 96.0, 'gpu', 2400.0, 140, 16, 4)" ]
check "db list gpus: old and new fields of the added GPU" $?
[ "$(echo "$j" | json_get 'sorted(d[0].keys()) == sorted(["name", "full_name", "bf16_tflops", "hbm_gib", "hbm_tb_per_s", "scaleup_gb_per_s", "scaleout_gb_per_s", "default_mfu", "p2p_latency_us", "kind", "fp8_tflops", "sms", "domain", "per_node"])')" = True ]
check "db list gpus json: existing field names kept, new ones added" $?
[ "$(echo "$j" | json_get '[g["fp8_tflops"] for g in d if g["name"] == "a100"][0]')" = None ]
check "a GPU without FP8 lists null" $?
"$P" db list gpus | head -1 | grep -q "fp8_tflops  *sms  *domain  *per_node"; check "table header has the new columns" $?
"$P" db show x200-sxm > "$T/show"; check "db show by alias" $?
for col in fp8_dense_flops fp4_dense_flops sm_count gemm_efficiency attn_efficiency hbm_efficiency kernel_launch_us scaleup_domain gpus_per_node scaleup_latency_us scaleout_latency_us scaleup_coll_efficiency scaleout_coll_efficiency aliases; do
  grep -q "^$col " "$T/show" || { echo "missing $col"; false; }
done
check "db show lists every schema 4 column" $?
[ "$("$P" db show h100 --format json | json_get 'd["sm_count"], d["fp8_dense_flops"], d["aliases"]')" = "(132, 1978900000000000.0, 'h100-sxm,h100-sxm5')" ]
check "db show h100 json" $?

# ---- taken names and --replace ----
id=$(sql "SELECT id FROM gpus WHERE name = 'x200'")
pl_cal() { printf 'op,mb_size,seq_len,hidden,mean_us\nF,1,2048,1024,100\n' > "$T/s.csv"; "$P" db import "$T/s.csv" --gpu x200 >/dev/null; }
pl_cal; check "a samples CSV still imports (calibration of the added GPU)" $?
printf 'op,mb_size,seq_len,hidden,mean_us\nF,1,2048,1024,90\n' | "$P" db import - --gpu h100 --db "$T/stdin.db" | grep -q "imported 1 samples from - "
check "a samples CSV on standard input still imports" $?
before=$(snapshot)
"$P" db add gpu X200 $GPU_REQ >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ]; check "taken name: exit 3 (got $st)" $?
one_line "$T/err" && grep -q "db add: GPU 'X200' already exists in '$T/cat.db'; pick another name" "$T/err"
check "taken name: one line naming the database" $?
[ "$(snapshot)" = "$before" ]; check "taken name: nothing stored" $?
"$P" db add gpu x200 --bf16-tflops 1300 --hbm-gib 96 --hbm-tb-per-s 4.5 --scaleup-gb-per-s 450 --scaleout-gb-per-s 50 --replace >"$T/out"
check "--replace exits 0" $?
grep -q "replaced GPU 'x200' in place" "$T/out"; check "--replace says so" $?
[ "$(sql "SELECT id || ' ' || bf16_dense_flops || ' ' || sm_count || ' ' || aliases FROM gpus WHERE name = 'x200'")" = "$id 1.3e+15 108 " ]
check "--replace keeps the id; omitted options are the defaults again" $?
[ "$(sql "SELECT count(*) FROM calibrations WHERE gpu_id = $id")" = 1 ]; check "the calibration still refers to it" $?
"$P" db add model mini-1b $MODEL_REQ --replace >/dev/null; check "model --replace" $?
"$P" db add gpu cpu $GPU_REQ --replace >/dev/null 2>"$T/err"; st=$?
[ $st = 2 ] && one_line "$T/err" && grep -q "CPU backend" "$T/err"; check "the cpu device cannot be replaced (exit $st)" $?

# ---- bad values: exit 2, one line naming the flag, nothing stored ----
before=$(snapshot)
bad() { # expected stderr text, then the db add arguments
  local want=$1; shift
  "$P" db add "$@" >/dev/null 2>"$T/err"; local st=$?
  [ $st = 2 ] && one_line "$T/err" && grep -q -- "$want" "$T/err"; local ok=$?
  check "bad value ($want): exit 2 with one line (got $st: $(head -c 200 "$T/err"))" $ok
  [ "$(snapshot)" = "$before" ]; check "bad value ($want): nothing stored" $?
}
bad "--bf16-tflops must be a number > 0, got '-5'" gpu z1 --bf16-tflops -5 --hbm-gib 1 --hbm-tb-per-s 1 --scaleup-gb-per-s 1 --scaleout-gb-per-s 1
bad "--hbm-gib must be a number > 0, got '0'" gpu z1 --bf16-tflops 5 --hbm-gib 0 --hbm-tb-per-s 1 --scaleup-gb-per-s 1 --scaleout-gb-per-s 1
bad "--hbm-tb-per-s must be a number > 0, got 'fast'" gpu z1 --bf16-tflops 5 --hbm-gib 1 --hbm-tb-per-s fast --scaleup-gb-per-s 1 --scaleout-gb-per-s 1
bad "--gemm-efficiency must be a fraction in (0, 1], got '1.5'" gpu z1 $GPU_REQ --gemm-efficiency 1.5
bad "--scaleout-coll-efficiency must be a fraction in (0, 1], got '0'" gpu z1 $GPU_REQ --scaleout-coll-efficiency 0
bad "--sm-count must be an integer" gpu z1 $GPU_REQ --sm-count 12.5
bad "--launch-us must be a number >= 0" gpu z1 $GPU_REQ --launch-us -1
bad "'db add gpu' needs --hbm-tb-per-s, --scaleup-gb-per-s" gpu z1 --bf16-tflops 5 --hbm-gib 1 --scaleout-gb-per-s 1
bad "--layers does not apply to 'db add gpu'" gpu z1 $GPU_REQ --layers 4
bad "name: must not be a number" gpu 1234 $GPU_REQ
bad "alias 'a100-80gb' is already a name of GPU 'a100'" gpu z1 $GPU_REQ --aliases a100-80gb
bad "--kv-heads must divide --heads (16), got 5" model z2 $MODEL_REQ --kv-heads 5
bad "--kv-heads must divide --heads (16), got 32" model z2 $MODEL_REQ --kv-heads 32
bad "--hidden must be divisible by --heads (16), got 1000" model z2 --layers 8 --hidden 1000 --heads 16 --ffn 2816 --vocab 32000 --seq 2048
bad "--arch must be gpt or llama, got 'rwkv'" model z2 $MODEL_REQ --arch rwkv
bad "--layers must be an integer from 1" model z2 --layers 0 --hidden 1024 --heads 16 --ffn 2816 --vocab 32000 --seq 2048
bad "--params is in billions" model z2 $MODEL_REQ --params 7e9
bad "--tied-embeddings and --untied-embeddings exclude each other" model z2 $MODEL_REQ --tied-embeddings --untied-embeddings
bad "'db add' adds a gpu or a model, not 'tpu'" tpu z3 $GPU_REQ
"$P" db list gpus --bf16-tflops 3 >/dev/null 2>"$T/err"; [ $? = 2 ] && one_line "$T/err"
check "add options elsewhere: exit 2" $?

# ---- catalog imports ----
cat > "$T/gpus.csv" <<'EOF'
# GPUs in stored (SI) units; quoted fields hold commas
name,full_name,vendor,bf16_dense_flops,hbm_bytes,hbm_bytes_per_s,scaleup_bytes_per_s,scaleout_bytes_per_s,sm_count,aliases,source
y100,Example Y100,Example,5e14,34359738368,2e12,3e11,5e10,96,"y100-sxm,y100-32gb","sheet, p. 2"
y50,,,2.5e14,17179869184,1e12,1.5e11,2.5e10,,,
EOF
"$P" db import "$T/gpus.csv" > "$T/out"; check "catalog CSV import exits 0" $?
grep -q "imported 2 GPUs from $T/gpus.csv" "$T/out"; check "says 2 GPUs" $?
[ "$("$P" db show y100-32gb --format json | json_get 'd["name"], d["source"], d["sm_count"], d["kind"]')" = "('y100', 'sheet, p. 2', 96, 'gpu')" ]
check "catalog CSV: values, quoted commas, aliases" $?
cat > "$T/cat.json" <<'EOF'
{"gpus": [{"name": "j1", "bf16_dense_flops": 4e14, "hbm_bytes": 68719476736,
           "hbm_bytes_per_s": 3e12, "scaleup_bytes_per_s": 4.5e11,
           "scaleout_bytes_per_s": 5e10, "aliases": ["j1-sxm"], "gpus_per_node": 4}],
 "models": [{"name": "jm", "arch": "llama", "layers": 4, "hidden": 512, "heads": 8,
             "kv_heads": 2, "ffn": 1536, "vocab": 32000, "seq_len": 2048}]}
EOF
"$P" db import "$T/cat.json" > "$T/out"; check "catalog JSON import exits 0" $?
grep -q "imported 1 GPU and 1 model" "$T/out"; check "says 1 GPU and 1 model" $?
"$P" whatif --model jm --gpu j1-sxm --stages 2 --microbatches 4 >/dev/null 2>&1; check "whatif on imported entries" $?
printf '[{"name": "jm2", "layers": 2, "hidden": 128, "heads": 4, "ffn": 512, "vocab": 1000, "seq_len": 256}]\n' > "$T/arr.json"
"$P" db import "$T/arr.json" >/dev/null; check "JSON array of objects" $?
before=$(snapshot)
cat > "$T/bad.csv" <<'EOF'
name,layers,hidden,heads,ffn,vocab,seq_len,arch
ok1,2,64,4,256,100,128,gpt
bad1,2,64,4,256,100,128,mamba
EOF
"$P" db import "$T/bad.csv" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "bad.csv' line 3, column arch: must be gpt or llama" "$T/err"
check "bad catalog row: exit 3, one line naming file, line and column (got $st)" $?
[ "$(snapshot)" = "$before" ]; check "bad catalog row: nothing stored (the good row neither)" $?
printf '{"models": [{"name": "k1", "layers": 2, "hidden": 128, "heads": 4, "ffn": 512, "vocab": 1000, "seq_len": -1}]}\n' > "$T/bad.json"
"$P" db import "$T/bad.json" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "bad.json' models\[0\], column seq_len" "$T/err"
check "bad JSON row: exit 3 naming the array index and column" $?
"$P" db import "$T/gpus.csv" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && grep -q "GPU 'y100' already exists" "$T/err"; check "catalog import of taken names: exit 3" $?
[ "$(snapshot)" = "$before" ]; check "... nothing stored" $?
"$P" db import "$T/gpus.csv" --replace >/dev/null; check "catalog import --replace" $?
"$P" db import "$T/gpus.csv" --gpu h100 >/dev/null 2>&1; [ $? = 2 ]; check "--gpu with a catalog file: exit 2" $?

# ---- nccl-tests logs ----
"$P" db import "$D/nccl/all_reduce_8rank_1node.txt" --gpu h100 > "$T/out"; check "nccl import (8 ranks) exits 0" $?
grep -q "imported 31 all_reduce sizes (8 ranks on 1 node)" "$T/out"; check "says 31 sizes, 8 ranks, 1 node" $?
"$P" db import "$D/nccl/all_reduce_16rank_2node.txt" --gpu h100-sxm > "$T/out"; check "nccl import (16 ranks, 2 nodes) exits 0" $?
grep -q "imported 31 all_reduce sizes (16 ranks on 2 nodes)" "$T/out"; check "says 16 ranks on 2 nodes" $?
cid=$(sed -n 's/.* as calibration \([0-9]*\) .*/\1/p' "$T/out")
[ "$(sql "SELECT time_us || ' ' || algbw_bytes_per_s || ' ' || busbw_bytes_per_s FROM collectives WHERE calibration_id = $cid AND size_bytes = 8589934592")" = "44871.0 191440000000.0 358950000000.0" ]
check "stored: time (us), algbw and busbw (GB/s -> bytes/s)" $?
"$P" db import "$D/nccl/all_gather_8rank_old.txt" --gpu a100 >/dev/null; check "older layout without redop/root" $?
"$P" db import "$D/nccl/reduce_scatter_4rank_redop.txt" --gpu a100 --op sendrecv --ranks 4 --nodes 1 > "$T/out"
grep -q "imported 12 sendrecv sizes (4 ranks on 1 node)" "$T/out"; check "--op and --ranks/--nodes override" $?
j=$("$P" db list collectives --format json); check "db list collectives" $?
[ "$(echo "$j" | json_get '[(r["gpu"], r["op"], r["ranks"], r["nodes"], r["sizes"], r["peak_busbw_gb_per_s"]) for r in d][:2]')" = "[('h100', 'all_reduce', 8, 1, 31, 367.57), ('h100', 'all_reduce', 16, 2, 31, 358.95)]" ]
check "collectives: op, ranks, nodes, sizes, peak busbw" $?
"$P" db list collectives | head -1 | grep -q "op  *ranks  *nodes  *sizes"; check "collectives table header" $?
"$P" db show "$cid" | grep -q "^all_reduce  *16  *2  *8589934592"; check "db show <calibration> lists its collectives" $?
[ "$("$P" db export --format json | json_get 'len(d["collectives"])')" = 95 ]; check "export json has the collectives" $?
before=$(snapshot)
head -c 2500 "$D/nccl/all_reduce_8rank_1node.txt" > "$T/trunc.txt"
"$P" db import "$T/trunc.txt" --gpu h100 >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "trunc.txt' line [0-9]*: truncated row" "$T/err"
check "truncated log: exit 3, one line (got $st)" $?
sed 's/364\.68/36x.68/' "$D/nccl/all_reduce_8rank_1node.txt" > "$T/nonnum.txt"
"$P" db import "$T/nonnum.txt" --gpu h100 >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "line 45: out-of-place busbw must be a number" "$T/err"
check "non-numeric field: exit 3 naming the line" $?
grep -v "^#  Rank" "$D/nccl/all_reduce_8rank_1node.txt" > "$T/noranks.txt"
"$P" db import "$T/noranks.txt" --gpu h100 >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "no rank lines" "$T/err"; check "no rank lines: exit 3" $?
grep "^#" "$D/nccl/all_reduce_8rank_1node.txt" > "$T/norows.txt"
"$P" db import "$T/norows.txt" --gpu h100 >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "no data rows" "$T/err"; check "no data rows: exit 3" $?
"$P" db import "$D/nccl/all_reduce_8rank_1node.txt" --gpu v100 >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ] && one_line "$T/err" && grep -q "unknown GPU 'v100'" "$T/err"; check "unknown GPU: exit 3" $?
[ "$(snapshot)" = "$before" ]; check "bad logs: nothing stored" $?
"$P" db import "$T/noranks.txt" --gpu h100 --ranks 8 --nodes 1 >/dev/null; check "no rank lines with --ranks/--nodes" $?
"$P" db import "$D/nccl/all_reduce_8rank_1node.txt" >/dev/null 2>"$T/err"; st=$?
[ $st = 2 ] && one_line "$T/err"; check "nccl log without --gpu: exit 2" $?
"$P" db import "$D/nccl/all_reduce_8rank_1node.txt" --gpu h100 --op alltoall >/dev/null 2>&1; [ $? = 2 ]
check "--op bogus: exit 2" $?
"$P" db import "$D/nccl/all_reduce_8rank_1node.txt" --gpu h100 --ranks 4 --nodes 8 >/dev/null 2>&1; [ $? = 2 ]
check "--nodes > --ranks: exit 2" $?
"$P" db import "$T/gpus.csv" --gpu h100 --ranks 8 --nodes 1 >/dev/null 2>&1; [ $? = 3 ]
check "--ranks forces the nccl reader (a CSV is no log: exit 3)" $?
"$P" db --help | grep -q "pipelab db add gpu <name>"; check "db --help shows db add" $?

echo "$n checks, $fail failed"
[ $fail = 0 ]
