#!/usr/bin/env bash
# What a script can rely on: measurements that cannot be trusted say so
# (`run` with more ranks than cores, `calibrate` timings whose relative
# spread exceeds --max-spread: one warning line, an "untrusted" JSON array,
# the result file and the stored calibration notes), readers accept result
# files with and without the field, and `simulate`/`whatif --model` exit 0
# when everything fits, 8 with --fail-on-oom when something does not.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
command -v python3 >/dev/null && command -v sqlite3 >/dev/null ||
  { echo "skip: python3 and sqlite3 are needed" >&2; exit 77; }
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_trust.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
jq_() { python3 -c "import json,sys; d=json.load(open(sys.argv[2])); print(eval(sys.argv[1]))" "$@"; }
W="--hidden 8 --seq 3 --mb-size 2"
cores=$(getconf _NPROCESSORS_ONLN)

# ---- run: oversubscribed -------------------------------------------------
if [ "$cores" -le 63 ]; then
  p=$((cores + 1))
  "$P" run --schedule 1f1b --stages $p --microbatches $p --layers $p $W \
    --format json --save "$T/over.json" >"$T/out.json" 2>"$T/err"
  rc=$?
  want="oversubscribed: $p ranks on $cores core$([ "$cores" = 1 ] || echo s)"
  [ $rc = 0 ] && [ "$(wc -l <"$T/err")" = 1 ] &&
    [ "$(cat "$T/err")" = "warning: measurement cannot be trusted: $want" ]
  check "run on $p ranks, $cores cores: exit 0, one warning line (rc $rc)" $?
  v=$(jq_ 'd["untrusted"]' "$T/out.json"); w=$(jq_ 'd["untrusted"]' "$T/over.json")
  [ "$v" = "['$want']" ] && [ "$w" = "$v" ]
  check "run JSON and result file carry untrusted (got $v / $w)" $?
  "$P" simulate --schedule 1f1b --stages $p --microbatches $p --layers $p $W --time-unit us \
    --save "$T/pred.json" >/dev/null 2>&1
  "$P" compare "$T/pred.json" "$T/over.json" >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 0 ] && [ "$(cat "$T/err")" = "warning: '$T/over.json' cannot be trusted: $want" ]
  check "compare reads a result file with untrusted and says so (rc $rc)" $?
else
  echo "skip: $cores cores (oversubscription case needs at most 63)"
fi
"$P" run --schedule 1f1b --stages 1 --microbatches 2 --layers 1 $W --format json \
  --save "$T/one.json" >"$T/out.json" 2>"$T/err"
rc=$?
v=$(jq_ '"untrusted" in d' "$T/out.json")
[ $rc = 0 ] && [ ! -s "$T/err" ] && [ "$v" = False ]
check "run on 1 rank: no warning, no untrusted key (rc $rc, key $v)" $?
"$P" compare "$T/one.json" "$T/one.json" >/dev/null 2>"$T/err"; rc=$?
[ $rc = 0 ] && [ ! -s "$T/err" ]
check "compare reads a result file without untrusted, no warning (rc $rc)" $?
"$P" plot timeline "$T/one.json" -o "$T/x.svg" >/dev/null 2>&1; rc=$?
[ $rc = 0 ] || [ $rc = 5 ] || [ $rc = 1 ] # no gnuplot is not this test's concern
check "plot timeline reads it (rc $rc)" $?

# ---- calibrate --max-spread ----------------------------------------------
# 0 % flags every op whose repetitions differ at all (F, B, W, BW always do
# in microseconds); 1e6 % flags none.
"$P" calibrate $W --reps 5 --warmup 1 --max-spread 0 --format json \
  --db "$T/c.db" --notes "mine" >"$T/cal.json" 2>"$T/err"
rc=$?
v=$(jq_ '[u.split(" ")[0] for u in d["untrusted"] if "spread" in u]' "$T/cal.json")
[ $rc = 0 ] && [ "$v" = "['F', 'B', 'W', 'BW']" ] &&
  [ "$(grep -c '^warning: measurement cannot be trusted: .*F relative spread' "$T/err")" = 1 ]
check "calibrate --max-spread 0: exit 0, F B W BW untrusted, one warning (rc $rc, $v)" $?
notes=$(sqlite3 "$T/c.db" 'SELECT notes FROM calibrations ORDER BY id DESC LIMIT 1')
case "$notes" in "mine; untrusted: "*"F relative spread"*"BW relative spread"*) st=0 ;; *) st=1 ;; esac
check "stored notes keep the doubt (got '$notes')" $st
"$P" calibrate $W --reps 5 --warmup 1 --max-spread 1e6 --format json \
  --db "$T/c.db" >"$T/cal.json" 2>"$T/err"
rc=$?
v=$(jq_ '[u for u in d.get("untrusted", []) if "spread" in u]' "$T/cal.json")
notes=$(sqlite3 "$T/c.db" 'SELECT notes FROM calibrations ORDER BY id DESC LIMIT 1')
[ $rc = 0 ] && [ "$v" = "[]" ] && ! grep -q spread "$T/err" &&
  case "$notes" in *"relative spread"*) false ;; *) true ;; esac
check "calibrate --max-spread 1e6: no spread flag, none in the notes (rc $rc)" $?
[ "$(sqlite3 "$T/c.db" 'SELECT count(*) FROM calibrations')" = 2 ]
check "both calibrations stored" $?
"$P" calibrate $W --max-spread -1 >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && [ "$(wc -l <"$T/err")" = 1 ]
check "calibrate --max-spread -1: usage error, one line (rc $rc)" $?

# ---- simulate / whatif --model: exit 0 when it fits, 8 on request --------
FIT="--model llama3-8b --gpu h100 --db :memory: --stages 4 --microbatches 8 --tp 2 --dp 4 --flash-attn --distributed-optimizer"
OOM="--model llama3-70b --gpu h100 --db :memory: --stages 8 --microbatches 16 --flash-attn"
for fmt in table json csv; do
  "$P" simulate $FIT --format $fmt --fail-on-oom >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 0 ] && [ ! -s "$T/err" ]
  check "simulate $fmt: fits, --fail-on-oom exits 0 silently (rc $rc)" $?
  "$P" simulate $OOM --format $fmt >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 0 ] && grep -q "^warning: rank 0 does not fit" "$T/err"
  check "simulate $fmt: does not fit, warns and exits 0 without the flag (rc $rc)" $?
  "$P" simulate $OOM --format $fmt --fail-on-oom >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 8 ] && [ "$(grep -c '^error:' "$T/err")" = 1 ] &&
    grep -q "^error: 8 ranks do not fit in HBM (--fail-on-oom)" "$T/err"
  check "simulate $fmt --fail-on-oom: exit 8, one error line (rc $rc)" $?
done
"$P" whatif $FIT --fail-on-oom >/dev/null 2>"$T/err"; rc=$?
[ $rc = 0 ]; check "whatif: everything fits, --fail-on-oom exits 0 (rc $rc)" $?
"$P" whatif $OOM >/dev/null 2>&1; rc=$?
[ $rc = 0 ]; check "whatif: nothing fits, exits 0 without the flag (rc $rc)" $?
"$P" whatif $OOM --schedules 1f1b,zb-h1 --fail-on-oom --format json >"$T/w.json" 2>"$T/err"; rc=$?
v=$(jq_ '[s["fits"] for s in d["schedules"]]' "$T/w.json")
[ $rc = 8 ] && [ "$v" = "[False, False]" ] &&
  [ "$(cat "$T/err")" = "error: 2 schedules do not fit in HBM (--fail-on-oom)" ]
check "whatif --fail-on-oom: exit 8 naming 2 schedules, JSON still printed (rc $rc, fits $v)" $?
for c in simulate whatif; do
  "$P" $c --stages 2 --microbatches 2 --fail-on-oom >/dev/null 2>"$T/err"; rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "needs --model" "$T/err"
  check "$c --fail-on-oom without --model: usage error, one line (rc $rc)" $?
done
"$P" --help | grep -q "8 out of memory"
check "pipelab --help lists exit code 8" $?

echo "$((n-fail))/$n passed"
[ $fail = 0 ]
