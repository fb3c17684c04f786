#!/bin/bash
# End-to-end tests of simulate --trace/--save, compare, import kineto and
# history. $PIPELAB is the built binary, $PL_TEST_DATA the tests/data dir.
set -u
: "${PIPELAB:?set PIPELAB to the pipelab binary}"
DATA=${PL_TEST_DATA:-$(dirname "$0")/../data}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PIPELAB_DB=$tmp/runs.db
n=0

fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { n=$((n + 1)); }
# expect <code> <command...>: runs the command, checks its exit code.
expect() {
  local want=$1; shift
  "$@" >"$tmp/out" 2>"$tmp/err"
  local got=$?
  [ "$got" = "$want" ] || { cat "$tmp/err" >&2; fail "exit $got, wanted $want: $*"; }
  ok
}
valid_json() {
  if command -v jq >/dev/null 2>&1; then
    jq empty "$1" || fail "$1 is not valid JSON (jq)"
  else
    python3 -m json.tool "$1" >/dev/null || fail "$1 is not valid JSON"
  fi
  ok
}

sim="$PIPELAB simulate --schedule 1f1b --stages 4 --microbatches 8"

# Trace: valid JSON, one X per op (64 compute ops) and 48 flow pairs.
expect 0 $sim --trace "$tmp/t.json" --save "$tmp/pred.json"
valid_json "$tmp/t.json"
valid_json "$tmp/pred.json"
[ ! -e "$tmp/t.json.tmp" ] || fail "temporary trace file left behind"
s=$(grep -o '"ph":"s"' "$tmp/t.json" | wc -l)
f=$(grep -o '"ph":"f","bp":"e"' "$tmp/t.json" | wc -l)
x=$(grep -o '"ph":"X","pid":[0-9]*,"tid":1,' "$tmp/t.json" | wc -l)
[ "$s" = 48 ] && [ "$f" = 48 ] || fail "flows: $s starts, $f finishes, wanted 48"
[ "$x" = 64 ] || fail "compute slices: $x, wanted 64"
grep -q '"name":"process_name","ph":"M","pid":3,"tid":0,"args":{"name":"rank 03' \
  "$tmp/t.json" || fail "no process name for rank 3"
ok

# Every op 10% longer: iteration error +10%.
expect 0 $sim --tf 1.1 --tb 1.1 --tw 1.1 --save "$tmp/real.json"
expect 0 "$PIPELAB" compare "$tmp/pred.json" "$tmp/real.json"
grep -q 'error +10.00%' "$tmp/out" || fail "table lacks the +10% error"
ok
expect 1 "$PIPELAB" compare "$tmp/pred.json" "$tmp/real.json" --max-error 5
grep -q 'exceeds --max-error' "$tmp/err" || fail "no --max-error message"
ok
expect 0 "$PIPELAB" compare "$tmp/pred.json" "$tmp/real.json" --max-error 10.5
expect 0 "$PIPELAB" compare --format json "$tmp/pred.json" "$tmp/real.json"
valid_json "$tmp/out"
python3 - "$tmp/out" <<'PY' || fail "compare json values"
import json, sys
d = json.load(open(sys.argv[1]))
assert abs(d["iteration"]["error_pct"] - 10) < 1e-9, d["iteration"]
assert d["ops"]["matched"] == 64 and d["ops"]["missing"] == 0
assert len(d["op_times"]) == 8 and len(d["ranks"]) == 4
PY
ok
expect 0 "$PIPELAB" compare --format csv "$tmp/pred.json" "$tmp/real.json"
head -1 "$tmp/out" | grep -qx 'metric,rank,op,count,predicted,real,difference,difference_pct,unit' \
  || fail "csv header"
ok

# A trace reads back as a result: no error against the saved result.
expect 0 "$PIPELAB" compare "$tmp/pred.json" "$tmp/t.json" --max-error 0.000001

# Op-set mismatch is reported; --require-match fails on it.
python3 - "$tmp/real.json" "$tmp/real_missing.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["ops"] = d["ops"][:-1]
json.dump(d, open(sys.argv[2], "w"))
PY
expect 0 "$PIPELAB" compare "$tmp/pred.json" "$tmp/real_missing.json"
grep -q 'op sets differ: 1 op(s) missing' "$tmp/err" || fail "mismatch not reported"
grep -q 'missing: r3:BW7s3' "$tmp/out" || fail "missing op not listed"
ok
expect 1 "$PIPELAB" compare --require-match "$tmp/pred.json" "$tmp/real_missing.json"

# Bad input: exit 3 with the file and field named; usage errors exit 2.
echo '{"schedule": "x"' >"$tmp/bad.json"
expect 3 "$PIPELAB" compare "$tmp/pred.json" "$tmp/bad.json"
grep -q "bad.json: line" "$tmp/err" || fail "parse error does not name the file"
ok
echo '{"schedule":"x","time_unit":"us","stages":1,"microbatches":1,"makespan":1,"ranks":[{"rank":0}]}' >"$tmp/bad2.json"
expect 3 "$PIPELAB" compare "$tmp/pred.json" "$tmp/bad2.json"
grep -q "ranks\[0\].busy: missing" "$tmp/err" || fail "missing field not named"
ok
expect 3 "$PIPELAB" compare "$tmp/pred.json" "$tmp/nonexistent.json"
expect 2 "$PIPELAB" compare "$tmp/pred.json"
expect 2 "$PIPELAB" compare --format xml "$tmp/pred.json" "$tmp/real.json"
expect 2 "$PIPELAB" compare --max-error abc "$tmp/pred.json" "$tmp/real.json"
expect 0 "$PIPELAB" compare --help
grep -q '^usage: pipelab compare' "$tmp/out" || fail "compare --help"
ok

# Kineto import.
expect 0 "$PIPELAB" import kineto "$DATA/kineto_small.json" -o "$tmp/k.json"
valid_json "$tmp/k.json"
python3 - "$tmp/k.json" <<'PY' || fail "kineto import values"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["source"] == "kineto" and d["time_unit"] == "us"
assert d["makespan"] == 90 and d["stages"] == 2 and len(d["ops"]) == 10
PY
ok
expect 0 "$PIPELAB" compare "$tmp/k.json" "$DATA/kineto_small.json" --max-error 0
expect 2 "$PIPELAB" import kineto
expect 2 "$PIPELAB" import chrome "$tmp/t.json"
expect 2 "$PIPELAB" import kineto "$DATA/kineto_small.json" --rank-map 1:x
expect 3 "$PIPELAB" import kineto "$tmp/pred.json"
expect 0 "$PIPELAB" import --help

# History: record, list, flag drift.
expect 0 "$PIPELAB" history
expect 0 "$PIPELAB" history record "$tmp/pred.json" "$tmp/real.json" --label ci
expect 0 "$PIPELAB" history --format csv
grep -q '^2,.*,1,10,1,"ci"$' "$tmp/out" || { cat "$tmp/out" >&2; fail "run 2 not flagged"; }
ok
expect 1 "$PIPELAB" history --fail-on-drift
expect 0 "$PIPELAB" history --fail-on-drift --threshold 11
expect 1 "$PIPELAB" compare run:1 run:2 --max-error 5
expect 0 "$PIPELAB" compare --record --label cmp "$tmp/pred.json" "$tmp/real.json"
expect 0 "$PIPELAB" history --format csv
[ "$(grep -c ',"cmp"$' "$tmp/out")" = 2 ] || fail "compare --record stored $(grep -c ',"cmp"$' "$tmp/out") runs, wanted 2"
ok
expect 2 "$PIPELAB" history --threshold -1

echo "ok: $n checks"
