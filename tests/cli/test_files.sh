#!/usr/bin/env bash
# Output files are safe, end to end: regular files are replaced atomically
# (a unique temporary name in the same directory, nothing left behind), a
# symbolic link's target is written and the link stays, FIFOs, /dev/stdout
# and process substitutions are written in place, '-' is stdout for every
# file a command writes, usage errors create no file and no database, a
# --db that names no file is "no such database" (exit 3), a shared database
# in a read-only directory can be read, every CSV reader skips a UTF-8 byte
# order mark, and a full stdout exits 3 with one line.
set -u
P=${PIPELAB:?}
D=${PL_TEST_DATA:?}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
E=$ROOT/examples
fail=0; n=0
check() { n=$((n+1)); if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi; }
one_line() { [ "$(wc -l < "$1")" = 1 ]; }
T=$(mktemp -d)
trap 'chmod -R u+w "$T" 2>/dev/null; rm -rf "$T"' EXIT
export PIPELAB_DB=$T/default.db NO_COLOR=1
S="--schedule 1f1b --stages 2 --microbatches 2"
have_gnuplot=0; command -v gnuplot >/dev/null 2>&1 && have_gnuplot=1

# ---- regular files: replaced whole, no temporary left behind ----
mkdir "$T/out"
echo old > "$T/out/r.json"
$P simulate $S --save "$T/out/r.json" --trace "$T/out/t.json" >/dev/null 2>"$T/err"
rc=$?
[ $rc = 0 ] && python3 -m json.tool "$T/out/r.json" >/dev/null &&
  python3 -m json.tool "$T/out/t.json" >/dev/null && [ "$(ls "$T/out" | wc -l)" = 2 ]
check "--save/--trace replace regular files, nothing else left in the directory (exit $rc)" $?
$P convert $S -o "$T/out/c.csv" 2>/dev/null && [ "$(cat "$T/out/c.csv")" = "$($P convert $S)" ] &&
  [ "$(ls "$T/out" | wc -l)" = 3 ]
check "convert -o writes the same CSV as stdout, no temporary left" $?

# ---- process substitution: a /dev/fd/N pipe, written in place ----
$P simulate $S --save >(cat > "$T/ps_save.json") --trace >(cat > "$T/ps_trace.json") \
  >/dev/null 2>"$T/err"
rc=$?
for k in 1 2 3 4 5 6 7 8 9 10; do
  [ -s "$T/ps_save.json" ] && [ -s "$T/ps_trace.json" ] && break; sleep 0.2
done
sleep 0.2
[ $rc = 0 ] && grep -q '"makespan": 9' "$T/ps_save.json" && grep -q '"traceEvents"' "$T/ps_trace.json"
check "--save and --trace into process substitutions (exit $rc)" $?
$P convert $S -o >(cat > "$T/ps.csv") 2>/dev/null
rc=$?
for k in 1 2 3 4 5 6 7 8 9 10; do [ -s "$T/ps.csv" ] && break; sleep 0.2; done
sleep 0.2
[ $rc = 0 ] && [ "$(head -1 "$T/ps.csv")" = "0F0,0F1,0B0,0B1" ]
check "convert -o into a process substitution (exit $rc)" $?

# ---- '-' is stdout everywhere a file is written ----
$P simulate $S --save - 2>/dev/null | python3 -c '
import json, sys
text = sys.stdin.read()
doc, end = json.JSONDecoder().raw_decode(text[text.index("{"):])
assert doc["makespan"] == 9 and doc["schedule"] == "1f1b", doc
assert "makespan" in text[text.index("{") + end:]  # and the table' 2>/dev/null
check "simulate --save - (the result file and the table)" $?
$P simulate $S --format json --trace - 2>/dev/null | grep -q '"traceEvents"'
check "simulate --trace -" $?
[ "$($P convert $S -o - 2>/dev/null | head -1)" = "0F0,0F1,0B0,0B1" ]
check "convert -o -" $?
$P import kineto "$E"/kineto/rank0.json "$E"/kineto/rank1.json -o - 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["source"] == "kineto" and d["stages"] == 2, d'
check "import kineto -o -" $?
$P db export --db :memory: --format json 2>/dev/null |
  python3 -c 'import json,sys; d=json.load(sys.stdin); assert len(d["gpus"]) >= 11'
check "db export writes to stdout" $?
if [ $have_gnuplot = 1 ]; then
  $P plot timeline $S -o - 2>"$T/err" > "$T/fig.svg"; rc=$?
  [ $rc = 0 ] && head -c 200 "$T/fig.svg" | grep -q "<svg" && grep -q "</svg>" "$T/fig.svg"
  check "plot -o - writes SVG to stdout (exit $rc)" $?
  $P plot timeline $S -o - --format png 2>/dev/null |
    [ "$(od -An -tx1 -N8 | tr -d ' \n')" = 89504e470d0a1a0a ]
  check "plot -o - --format png writes PNG to stdout" $?
  $P plot timeline $S -o - --format pdf 2>/dev/null | head -c 5 | grep -q "%PDF-"
  check "plot -o - --format pdf writes PDF to stdout" $?
  ls -d "${TMPDIR:-/tmp}"/pipelab-out-* >/dev/null 2>&1 && before=1 || before=0
  $P plot timeline $S -o - 2>/dev/null | head -c 10 >/dev/null
  ls -d "${TMPDIR:-/tmp}"/pipelab-out-* >/dev/null 2>&1 && after=1 || after=0
  [ $before = 1 ] || [ $after = 0 ]
  check "plot -o - into a reader that stops early leaves no temporary directory" $?
  $P plot timeline $S -o "$T/x.svg" --format png 2>"$T/err"; rc=$?
  [ $rc = 2 ] && one_line "$T/err" && [ ! -e "$T/x.svg" ]
  check "plot --format with a file name is a usage error (exit $rc)" $?
  $P plot timeline $S -o - >/dev/full 2>"$T/err"; rc=$?
  [ $rc = 3 ] && one_line "$T/err" && grep -q "standard output" "$T/err"
  check "plot -o - > /dev/full exits 3 with one line (exit $rc)" $?
fi

# ---- usage errors create no files and no database ----
mkdir "$T/u"; cd "$T/u" || exit 1
usage_none() { # name, command...: exit 2, one line, the directory stays empty
  local name=$1; shift
  "$@" >/dev/null 2>"$T/err"; local rc=$?
  [ $rc = 2 ] && one_line "$T/err" && [ -z "$(ls -A "$T/u")" ]
  check "usage error creates nothing: $name (exit $rc, files: $(ls -A "$T/u" | tr '\n' ' '))" $?
  rm -rf "$T/u"/* 2>/dev/null
}
usage_none "simulate --bogus" $P simulate $S --save s.json --trace t.json --bogus
usage_none "simulate --microbatches 0" $P simulate --schedule 1f1b --stages 2 --microbatches 0 --save s.json --trace t.json
usage_none "simulate --format xml" $P simulate $S --save s.json --format xml
usage_none "simulate --model unknown" $P simulate $S --save s.json --model nosuch --gpu h100 --db :memory:
usage_none "simulate --record --fail-on-oom" $P simulate $S --save s.json --record --db new.db --fail-on-oom
usage_none "run --rank-speed" $P run $S --save s.json --trace t.json --rank-speed 1,2
usage_none "convert --format xml" $P convert $S -o c.csv --unit-time --format xml
usage_none "import --track" $P import kineto "$E/kineto/rank0.json" -o k.json --record --db new.db --track nope
usage_none "whatif --plots, no --microbatches" $P whatif --plots pdir --stages 4
usage_none "plot --style on a timeline" $P plot timeline $S -o x.png --style bars
usage_none "plot -o x.txt" $P plot memory $S -o x.txt
usage_none "calibrate --reps 0" $P calibrate --db new.db --reps 0
usage_none "calibrate --gpu h100 on the cpu backend" $P calibrate --db new.db --gpu h100
usage_none "db list nothing" $P db list nothing --db new.db
usage_none "db init --format" $P db init --db new.db --format json
usage_none "db add gpu, missing figures" $P db add gpu x --db new.db --bf16-tflops 10
usage_none "compare --max-error abc" $P compare "$E/sim-zb-h1-cpu.json" "$E/run-zb-h1-cpu.json" --record --db new.db --max-error abc
usage_none "sweep --gpus 0" $P sweep --gpus 0 --db new.db
# A file that cannot be read is a data error (exit 3), and creates nothing
# either.
$P history record nosuch.json --db new.db >/dev/null 2>"$T/err"; rc=$?
[ $rc = 3 ] && one_line "$T/err" && [ -z "$(ls -A "$T/u")" ]
check "history record of a missing file creates no database (exit $rc)" $?
cd "$T" || exit 1

# ---- a --db that names no file: "no such database", exit 3, nothing created ----
mkdir "$T/typo"
for c in "db list gpus" "db show h100" "db export" "db check" \
         "simulate $S --model llama3-8b --gpu h100" \
         "whatif --model llama3-8b --gpu h100 --stages 4 --microbatches 8" \
         "sweep --gpus 8 --model llama3-8b --gpu h100" \
         "simulate $S --gpu cpu --hidden 64" "compare run:1 run:2"; do
  $P $c --db "$T/typo/pipelab.bd" >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 3 ] && one_line "$T/err" &&
    grep -q "no such database '$T/typo/pipelab.bd' (create it with 'pipelab db init')" "$T/err" &&
    [ -z "$(ls -A "$T/typo")" ]
  check "--db typo: $c: exit 3, 'no such database', nothing created (exit $rc)" $?
done
$P history --db "$T/typo/pipelab.bd" >"$T/out.txt" 2>"$T/err"; rc=$?
[ $rc = 0 ] && grep -q "no such database" "$T/err" && [ -z "$(ls -A "$T/typo")" ]
check "history --db typo: nothing recorded yet, nothing created (exit $rc)" $?
# The default location (PIPELAB_DB, XDG) is created on first use.
PIPELAB_DB=$T/first/use.db $P db list gpus >/dev/null 2>&1 && [ -s "$T/first/use.db" ]
check "the default database is created on first use" $?
# A reader leaves the file as it was: no -wal or -shm file, the same bytes.
$P db init --db "$T/r.db" >/dev/null 2>&1
sum0=$(cksum < "$T/r.db")
$P db list gpus --db "$T/r.db" >/dev/null 2>&1 &&
  $P whatif --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --db "$T/r.db" >/dev/null 2>&1 &&
  [ "$(cksum < "$T/r.db")" = "$sum0" ] && [ ! -e "$T/r.db-wal" ] && [ ! -e "$T/r.db-shm" ]
check "commands that only read leave the database and its directory as they were" $?

# ---- a shared database in a read-only directory ----
mkdir "$T/shared"
$P db init --db "$T/shared/team.db" >/dev/null 2>&1
$P simulate $S --record --db "$T/shared/team.db" >/dev/null 2>&1
chmod 555 "$T/shared"; chmod 444 "$T/shared/team.db"
ro_reads() {
  $P db list gpus --db "$T/shared/team.db" >"$T/ro1" 2>"$T/err" &&
    grep -q "^h100 " "$T/ro1" &&
    $P history --db "$T/shared/team.db" >"$T/ro2" 2>>"$T/err" &&
    grep -q " 1f1b " "$T/ro2" &&
    $P whatif --model llama3-8b --gpu h100 --stages 4 --microbatches 8 \
      --db "$T/shared/team.db" >/dev/null 2>>"$T/err" &&
    $P db check --db "$T/shared/team.db" >/dev/null 2>>"$T/err"
}
ro_reads
check "a shared database in a read-only directory can be read (list, history, whatif, check)" $?
if [ "$(id -u)" = 0 ]; then
  # Permission bits do not stop root: the directory is not read-only for
  # this process, so what the immutable open is for cannot be shown here.
  echo "skip: running as root, a chmod 555 directory stays writable: the read-only directory sub-checks need a non-root user"
else
  [ -z "$(ls -A "$T/shared" | grep -v '^team.db$')" ]
  check "reading it created nothing in the read-only directory" $?
  $P db import "$D/nccl/$(ls "$D/nccl" | head -1)" --gpu h100 \
    --db "$T/shared/team.db" >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 3 ] && one_line "$T/err"
  check "writing into it fails with one line (exit $rc)" $?
fi
chmod 755 "$T/shared"; chmod 644 "$T/shared/team.db"

# ---- a UTF-8 byte order mark at the start of every CSV input ----
bom() { printf '\xef\xbb\xbf'; cat "$1"; }
bom "$D/pytorch/zb1p_2rank_2stagep_compute.csv" > "$T/bom_sched.csv"
$P validate --schedule-file "$T/bom_sched.csv" >"$T/out.txt" 2>"$T/err" &&
  [ "$($P validate --schedule-file "$D/pytorch/zb1p_2rank_2stagep_compute.csv" 2>/dev/null)" = "$(cat "$T/out.txt")" ]
check "schedule CSV with a BOM reads as without" $?
printf '\xef\xbb\xbfname,full_name,vendor,bf16_dense_flops,hbm_bytes,hbm_bytes_per_s,scaleup_bytes_per_s,scaleout_bytes_per_s\r\ny100,Example Y100,Example,5e14,34359738368,2e12,3e11,5e10\r\n' > "$T/bom_cat.csv"
$P db import "$T/bom_cat.csv" --db "$T/bom.db" >/dev/null 2>"$T/err" &&
  [ "$($P db show y100 --db "$T/bom.db" --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hbm_bytes"])')" = 34359738368 ]
check "catalog CSV with a BOM: the GPU is imported with its figures" $?
printf '\xef\xbb\xbf{"gpus": [{"name": "j1", "bf16_dense_flops": 4e14, "hbm_bytes": 68719476736, "hbm_bytes_per_s": 3e12, "scaleup_bytes_per_s": 4.5e11, "scaleout_bytes_per_s": 5e10}]}' > "$T/bom_cat.json"
$P db import "$T/bom_cat.json" --db "$T/bom.db" >/dev/null 2>"$T/err" &&
  $P db show j1 --db "$T/bom.db" >/dev/null 2>&1
check "catalog JSON with a BOM" $?
printf '\xef\xbb\xbfop,mb_size,seq_len,hidden,mean_us\r\nF,1,4096,4096,1000\r\n' > "$T/bom_samples.csv"
$P db import "$T/bom_samples.csv" --gpu h100 --db "$T/bom.db" >/dev/null 2>"$T/err" &&
  $P db export --db "$T/bom.db" | grep -q "^1,h100,F,transformer,,1,4096,4096,bf16,1,1000,"
check "sample import CSV with a BOM: the sample is stored" $?
$P sweep --gpus 8 --stages 2,4 --microbatches 8 --format csv > "$T/sw.csv" 2>/dev/null
bom "$T/sw.csv" > "$T/bom_sw.csv"
if [ $have_gnuplot = 1 ]; then
  $P plot sweep "$T/bom_sw.csv" -o "$T/bom_sw.svg" 2>"$T/err" &&
    $P plot sweep "$T/sw.csv" -o "$T/sw.svg" 2>/dev/null && cmp -s "$T/bom_sw.svg" "$T/sw.svg"
  check "sweep CSV with a BOM plots as without" $?
fi

# ---- a full stdout: exit 3 with one line, for every kind of output ----
for c in "simulate $S" "whatif" "schedules" "validate $S" "convert $S" \
         "db list gpus --db :memory:" "db export --db :memory:" \
         "compare $E/sim-zb-h1-cpu.json $E/run-zb-h1-cpu.json" \
         "import kineto $E/kineto/rank0.json $E/kineto/rank1.json -o -" \
         "simulate $S --save -" "simulate --help" "--version"; do
  $P $c >/dev/full 2>"$T/err"; rc=$?
  [ $rc = 3 ] && one_line "$T/err" && grep -q "^error: cannot write to standard output" "$T/err"
  check "$c > /dev/full: exit 3, one line (exit $rc)" $?
done

echo "$((n - fail))/$n passed"
[ $fail = 0 ]
