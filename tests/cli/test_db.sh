#!/usr/bin/env bash
# End-to-end test of `pipelab db` and the model mode of simulate / whatif:
# the default location, listings in three formats, import and
# export, two concurrent imports that lose no rows, every robustness case
# (one line naming the file, the right exit code, the file left untouched)
# and `simulate --model ... --gpu ...` with its JSON fields.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
command -v python3 >/dev/null || { echo "skip: python3 not found" >&2; exit 77; }
T=$(mktemp -d /tmp/pl_cli_db_XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = ok)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
one_line() { [ "$(wc -l < "$1")" = 1 ]; }

export PIPELAB_DB="$T/main.db"
unset XDG_DATA_HOME

# ---- default location and init ----
out=$(env -u PIPELAB_DB XDG_DATA_HOME="$T/xdg" "$P" db init)
check "db init exits 0 (XDG)" $?
[ -f "$T/xdg/pipelab/pipelab.db" ]; check "created under \$XDG_DATA_HOME/pipelab" $?
echo "$out" | grep -q "schema version 8, 11 GPUs + 1 CPU device, 18 models"; check "init summary" $?
env -u PIPELAB_DB -u XDG_DATA_HOME HOME="$T/home" "$P" db init >/dev/null
[ -f "$T/home/.local/share/pipelab/pipelab.db" ]; check "fallback ~/.local/share/pipelab" $?
"$P" db init --db "$T/explicit.db" >/dev/null && [ -f "$T/explicit.db" ]
check "--db overrides" $?
"$P" db list gpus --db :memory: | grep -q '^h100 '; check "--db :memory:" $?

# ---- listings ----
"$P" db list gpus > "$T/gpus.txt"; check "list gpus" $?
grep -q "bf16_tflops" "$T/gpus.txt" && grep -q "^mi300x" "$T/gpus.txt"
check "gpus table has units and mi300x" $?
[ "$("$P" db list gpus --format json | json_get 'len(d)')" = 12 ]; check "11 gpus + cpu in json" $?
[ "$("$P" db list gpus --format json | json_get '[g["name"] for g in d if g["kind"] == "cpu"]')" = "['cpu']" ]
check "the cpu device is listed with kind cpu" $?
[ "$("$P" db list gpus --format json | json_get '[g["bf16_tflops"] for g in d if g["name"]=="h100"][0]')" = 989.4 ]
check "h100 989.4 TFLOP/s" $?
[ "$("$P" db list models --format csv | wc -l)" = 19 ]; check "18 models in csv + header" $?
"$P" db list models --format csv | head -1 | grep -q '^name,full_name,arch,layers,hidden'
check "models csv header" $?
[ "$("$P" db show llama3-70b --format json | json_get 'd["layers"], d["kv_heads"], d["vocab"]')" = "(80, 8, 128256)" ]
check "show llama3-70b" $?
"$P" db show gpt3-175b | grep -q "^params  *174"; check "show prints the parameter count" $?

# ---- import and export ----
cat > "$T/s.csv" <<'EOF'
op,layer,mb_size,seq_len,hidden,tp,mean_us,stddev_us,count
F,transformer,1,8192,8192,1,40000,100,10
B,transformer,1,8192,8192,1,45000,100,10
W,transformer,1,8192,8192,1,35000,100,10
F,transformer,2,8192,8192,1,78000,100,10
B,transformer,2,8192,8192,1,88000,100,10
W,transformer,2,8192,8192,1,70000,100,10
EOF
"$P" db import "$T/s.csv" --gpu h100 --host testhost --cuda 13.0 > "$T/imp.txt"
check "import exits 0" $?
grep -q "imported 6 samples" "$T/imp.txt"; check "import says 6 samples" $?
[ "$("$P" db list calibrations --format json | json_get 'd[0]["samples"], d[0]["host"], d[0]["gpu"]')" = "(6, 'testhost', 'h100')" ]
check "calibration row" $?
"$P" db show 1 | grep -q "^cuda_version  *13.0"; check "show calibration" $?
"$P" db export > "$T/export.csv"; check "export csv" $?
[ "$(wc -l < "$T/export.csv")" = 7 ]; check "export 6 rows + header" $?
"$P" db import "$T/export.csv" --db "$T/copy.db" >/dev/null; check "export re-imports" $?
[ "$("$P" db export --db "$T/copy.db" | cut -d, -f2- | sort | md5sum)" = "$(cut -d, -f2- "$T/export.csv" | sort | md5sum)" ]
check "round trip keeps every sample" $?
[ "$("$P" db export --format json | json_get 'd["schema_version"], len(d["samples"]), len(d["gpus"])')" = "(8, 6, 12)" ]
check "export json" $?

# ---- two concurrent imports lose no rows ----
python3 - "$T/big.csv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("op,mb_size,seq_len,hidden,mean_us\n")
    for i in range(2000):
        f.write("F,%d,1024,4096,%d\n" % (i + 1, 100 + i))
EOF
"$P" db init --db "$T/conc.db" >/dev/null
for k in 1 2 3; do
  "$P" db import "$T/big.csv" --gpu a100 --db "$T/conc.db" >/dev/null & p1=$!
  "$P" db import "$T/big.csv" --gpu a100 --db "$T/conc.db" >/dev/null & p2=$!
  wait $p1; s1=$?; wait $p2; s2=$?
  [ $s1 = 0 ] && [ $s2 = 0 ]; check "concurrent imports $k both succeed" $?
done
rows=$(python3 -c "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('select count(*) from samples').fetchone()[0])" "$T/conc.db")
[ "$rows" = 12000 ]; check "6 x 2000 rows, none lost (got $rows)" $?

# ---- robustness: one line naming the file, exit code, file untouched ----
head -c 5000 /dev/urandom | base64 > "$T/notes.txt"
cp "$T/notes.txt" "$T/notes.orig"
"$P" db list gpus --db "$T/notes.txt" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ]; check "not a database: exit 3 (got $st)" $?
one_line "$T/err" && grep -q "$T/notes.txt" "$T/err" && grep -q "not a SQLite database" "$T/err"
check "not a database: one line naming the file" $?
cmp -s "$T/notes.txt" "$T/notes.orig"; check "not a database: file untouched" $?

python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('create table t(x)'); c.commit()" "$T/foreign.db"
cp "$T/foreign.db" "$T/foreign.orig"
"$P" db init --db "$T/foreign.db" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ]; check "foreign database: exit 3 (got $st)" $?
one_line "$T/err" && grep -q "$T/foreign.db" "$T/err" && grep -q "another application" "$T/err"
check "foreign database: one line naming the file" $?
cmp -s "$T/foreign.db" "$T/foreign.orig"; check "foreign database: untouched" $?

"$P" db init --db "$T/newer.db" >/dev/null
python3 -c "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); c.execute('pragma user_version=9'); c.commit(); c.execute('pragma journal_mode=delete')" "$T/newer.db"
cp "$T/newer.db" "$T/newer.orig"
"$P" db list gpus --db "$T/newer.db" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ]; check "newer schema: exit 3 (got $st)" $?
one_line "$T/err" && grep -q "$T/newer.db" "$T/err" && grep -q "schema version 9 is newer" "$T/err"
check "newer schema: one line naming the file" $?
cmp -s "$T/newer.db" "$T/newer.orig"; check "newer schema: untouched" $?

"$P" db init --db "$T/locked.db" >/dev/null
python3 - "$T/locked.db" "$T/locked.flag" <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None)
c.execute("BEGIN IMMEDIATE")
open(sys.argv[2], "w").close()
time.sleep(4)
c.execute("ROLLBACK")
EOF
holder=$!
for i in $(seq 50); do [ -f "$T/locked.flag" ] && break; sleep 0.1; done
PIPELAB_DB_TIMEOUT_MS=200 "$P" db import "$T/s.csv" --gpu h100 --db "$T/locked.db" >/dev/null 2>"$T/err"; st=$?
[ $st = 4 ]; check "locked: exit 4 (got $st)" $?
one_line "$T/err" && grep -q "$T/locked.db" "$T/err" && grep -q "locked by another process" "$T/err"
check "locked: one line naming the file" $?
kill "$holder" 2>/dev/null; wait "$holder" 2>/dev/null
"$P" db import "$T/s.csv" --gpu h100 --db "$T/locked.db" >/dev/null; check "import works once unlocked" $?

echo x > "$T/plainfile"
"$P" db init --db "$T/plainfile/sub/x.db" >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ]; check "unwritable location: exit 3 (got $st)" $?
one_line "$T/err" && grep -q "$T/plainfile/sub/x.db" "$T/err"; check "unwritable location: names the file" $?
if [ "$(id -u)" != 0 ]; then
  mkdir "$T/ro" && chmod 555 "$T/ro"
  "$P" db init --db "$T/ro/x.db" >/dev/null 2>"$T/err"; st=$?
  [ $st = 3 ] && grep -q "$T/ro/x.db" "$T/err"; check "read-only directory: exit 3 naming the file" $?
  chmod 755 "$T/ro"
fi

cat > "$T/bad.csv" <<'EOF'
op,mb_size,seq_len,hidden,mean_us
F,1,4096,4096,10
F,1,4096,4096,-1
EOF
before=$("$P" db export | wc -l)
"$P" db import "$T/bad.csv" --gpu h100 >/dev/null 2>"$T/err"; st=$?
[ $st = 3 ]; check "bad csv: exit 3 (got $st)" $?
grep -q "bad.csv' line 3: mean_us" "$T/err"; check "bad csv: names file and line" $?
[ "$("$P" db export | wc -l)" = "$before" ]; check "bad csv: nothing stored (one transaction)" $?

# ---- usage ----
"$P" db >/dev/null 2>"$T/err"; [ $? = 2 ] && one_line "$T/err"; check "db without subcommand: usage, exit 2" $?
"$P" db list bogus >/dev/null 2>&1; [ $? = 2 ]; check "db list bogus: exit 2" $?
"$P" db show nothing-like-this >/dev/null 2>&1; [ $? = 1 ]; check "db show unknown: exit 1" $?
"$P" db --help | grep -q "usage: pipelab db init"; check "db --help" $?
"$P" db export --format table >/dev/null 2>&1; [ $? = 2 ]; check "export --format table: exit 2" $?

# ---- simulate --model ----
export PIPELAB_DB="$T/sim.db"
out=$("$P" simulate --model llama3-70b --gpu h100 --stages 8 --microbatches 64 --mb-size 1 --seq 8192 2>"$T/err")
check "the issue's command exits 0" $?
echo "$out" | grep -q "^iteration .* s   tokens/s .*   MFU " ; check "prints seconds, tokens/s, MFU" $?
echo "$out" | grep -q "optimizer  *activations"; check "prints GiB per rank" $?
grep -q "^warning: rank 0 does not fit" "$T/err"; check "out-of-memory warning on stderr" $?
j=$("$P" simulate --model llama3-70b --gpu h100 --stages 8 --microbatches 64 --mb-size 1 --seq 8192 --format json 2>/dev/null)
for key in iteration_seconds tokens_per_second mfu cost_sources model; do
  echo "$j" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if '$key' in d else 1)"
  check "json has $key" $?
done
for key in peak_bytes hbm_bytes fits weight_bytes grad_bytes optimizer_bytes activation_peak_bytes; do
  echo "$j" | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if all('$key' in r for r in d['ranks']) else 1)"
  check "ranks[] have $key" $?
done
[ "$(echo "$j" | json_get 'd["cost_sources"]["F"], d["costs"]["source"], d["mem_unit"], d["time_unit"]')" = "('analytic', 'analytic', 'bytes', 'us')" ]
check "analytic sources, bytes, us" $?
[ "$(echo "$j" | json_get 'all(r["peak_bytes"] == r["weight_bytes"] + r["grad_bytes"] + r["optimizer_bytes"] + r["activation_peak_bytes"] for r in d["ranks"])')" = True ]
check "peak_bytes = weights + grads + optimizer + activations" $?
[ "$(echo "$j" | json_get 'd["tokens_per_second"] * d["iteration_seconds"]')" = "524288.0" ]
check "tokens per iteration = m b s = 524288" $?
[ "$(echo "$j" | json_get 'sum(d["model"]["layers_per_stage"])')" = 80 ]; check "80 layers placed" $?
[ "$(echo "$j" | json_get 'd["ranks"][0]["hbm_bytes"]')" = 85899345920 ]; check "80 GiB HBM" $?
# A case that fits: Llama-3 8B, TP 2, flash attention, distributed optimizer.
j=$("$P" simulate --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --tp 2 --dp 4 --flash-attn --distributed-optimizer --format json 2>"$T/err")
[ "$(echo "$j" | json_get 'd["fits"], all(r["fits"] for r in d["ranks"])')" = "(True, True)" ]
check "llama3-8b tp2 fits" $?
[ ! -s "$T/err" ]; check "no warning when it fits" $?
# Measured samples for this shape take over, flagged per op kind.
"$P" db import "$T/s.csv" --gpu h100 >/dev/null
j=$("$P" simulate --model llama3-70b --gpu h100 --stages 8 --microbatches 16 --flash-attn --format json 2>/dev/null)
[ "$(echo "$j" | json_get 'd["cost_sources"]["F"], d["cost_sources"]["BW"], d["costs"]["source"]')" = "('measured', 'measured', 'measured')" ]
check "measured costs win" $?
j=$("$P" simulate --model llama3-70b --gpu h100 --stages 8 --microbatches 16 --flash-attn --mb-size 4 --format json 2>/dev/null)
[ "$(echo "$j" | json_get 'd["cost_sources"]["F"]')" = extrapolated ]; check "extrapolation flagged" $?
"$P" simulate --model llama3-70b --gpu h100 --stages 8 --microbatches 16 --flash-attn 2>/dev/null | grep -q "^sources  F measured"
check "table names the source" $?
# --mem-limit in bytes works with a model (zb-auto), not without one.
"$P" simulate --schedule zb-auto --model llama3-8b --gpu h200 --stages 4 --microbatches 8 --flash-attn --mem-limit 120GiB >/dev/null 2>&1
check "--mem-limit 120GiB with --model" $?
"$P" simulate --schedule zb-auto --model llama3-8b --gpu h200 --stages 4 --microbatches 8 --mem-limit 1GiB >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "leaves nothing for activations" "$T/err"; check "--mem-limit below the static bytes: exit 2" $?
"$P" simulate --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 80GiB >/dev/null 2>&1
[ $? = 2 ]; check "--mem-limit bytes without --model: exit 2" $?
"$P" simulate --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --tf 2 >/dev/null 2>&1
[ $? = 2 ]; check "--tf with --model: exit 2" $?
"$P" simulate --model nope --gpu h100 --stages 4 --microbatches 8 >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q "llama3-70b" "$T/err"; check "unknown model lists the names" $?
"$P" simulate --model llama3-8b --stages 4 --microbatches 8 >/dev/null 2>&1
[ $? = 2 ]; check "--model without --gpu: exit 2" $?
"$P" simulate --gpu h100 --schedule 1f1b --stages 4 --microbatches 8 >/dev/null 2>&1
[ $? = 2 ]; check "--gpu without --model: exit 2" $?
"$P" simulate --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --layers-per-stage 9,8,8,7 --format json 2>/dev/null | python3 -c "import json,sys; d=json.load(sys.stdin); sys.exit(0 if d['model']['layers_per_stage']==[9,8,8,7] else 1)"
check "--layers-per-stage" $?
"$P" simulate --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --layers-per-stage 9,8 >/dev/null 2>&1
[ $? = 2 ]; check "--layers-per-stage of the wrong length: exit 2" $?
"$P" simulate --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --db "$T/notes.txt" >/dev/null 2>&1
[ $? = 3 ]; check "simulate --db on a non-database: exit 3" $?

# ---- whatif --model ----
out=$("$P" whatif --model llama3-8b --gpu h100 --stages 4 --microbatches 16 --flash-attn 2>&1)
check "whatif --model exits 0" $?
echo "$out" | grep -q "tokens/s"; check "whatif table has tokens/s" $?
echo "$out" | grep -q "^zb-v "; check "whatif lists zb-v" $?
[ "$("$P" whatif --model llama3-8b --gpu h100 --stages 4 --microbatches 16 --format json | json_get 'all("fits" in s and "mfu" in s for s in d["schedules"] if "error" not in s)')" = True ]
check "whatif json has fits and mfu per schedule" $?

# ---- db check ----
"$P" db check --db "$T/copy.db" >"$T/chk" 2>&1; check "db check on a healthy database exits 0" $?
grep -q "^database .*copy.db: ok (schema version 8" "$T/chk"; check "db check says ok with the schema version" $?
cp "$T/copy.db" "$T/damaged.db"
python3 - "$T/damaged.db" <<'PY'
import sqlite3, sys
c = sqlite3.connect(sys.argv[1])
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
root = c.execute("SELECT rootpage FROM sqlite_master WHERE name = 'models'").fetchone()[0]
size = c.execute("PRAGMA page_size").fetchone()[0]
c.close()
with open(sys.argv[1], "r+b") as f:   # zero the cell pointers of the models table's page
    f.seek((root - 1) * size + 8)
    f.write(bytes(10))
PY
"$P" db check --db "$T/damaged.db" >"$T/chk" 2>"$T/e"; rc=$?
[ $rc = 3 ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "damaged.db' is damaged" "$T/e" && [ "$(wc -l <"$T/chk")" -le 11 ]
check "db check on a damaged page: exit 3, one stderr line naming the file, at most 11 report lines" $?
[ "$("$P" db check --db "$T/damaged.db" --format json 2>/dev/null | json_get 'd["ok"], d["problems"] > 0, len(d["report"]) > 0')" = "(False, True, True)" ]
check "db check --format json reports the problems" $?
"$P" db check --db "$T/copy.db" --format csv >/dev/null 2>"$T/e"; rc=$?
[ $rc = 2 ]; check "db check --format csv: usage error" $?

echo "$n checks, $fail failed"
[ $fail = 0 ]
