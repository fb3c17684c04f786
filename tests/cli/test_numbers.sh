#!/usr/bin/env bash
# Numbers, end to end: inputs that would make a figure infinite, NaN or
# beyond what a result holds are usage errors (exit 2, one line, nothing
# written); compare and plot compare print one error definition; tables
# print readable units while JSON keeps raw numbers without float noise.
set -u
P=${PIPELAB:?}
fail=0; n=0
check() { n=$((n+1)); if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi; }
one_line() { [ "$(wc -l < "$1")" = 1 ]; }
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
export PIPELAB_DB=$T/default.db
S="--schedule 1f1b --stages 4 --microbatches 8"

# ---- refused numbers: exit 2, one line on stderr, nothing on stdout ----
usage2() { # name, then the command
  local name=$1; shift
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  [ $rc = 2 ] && one_line "$T/err" && [ ! -s "$T/out" ]
  check "$name (exit $rc: $(head -c 160 "$T/err"))" $?
}
usage2 "--tf 1e300 is beyond a result's largest time" $P simulate $S --tf 1e300 --format json
grep -q -- "--tf must be a number from 0 to 1e+15" "$T/err"; check "the line names --tf and its range" $?
usage2 "cost times speed overflows" $P simulate $S --tf 1e15 --rank-speed 1:1e9 --format json
grep -q -- "--rank-speed" "$T/err"; check "the line names --rank-speed" $?
usage2 "whatif: an iteration beyond 1e15" $P whatif --stages 4 --microbatches 8 --tf 1e14 --format json
usage2 "whatif table: an iteration beyond 1e15" $P whatif --stages 4 --microbatches 8 --tf 1e14
usage2 "plot: an iteration beyond 1e15" $P plot timeline $S --tf 1e14 -o "$T/x.png"
[ ! -e "$T/x.png" ]; check "no figure written" $?
usage2 "zero bandwidth with message bytes" $P simulate $S --bandwidth 0 --msg-bytes 100
grep -q -- "--msg-bytes 100 needs a --bandwidth above 0" "$T/err"; check "the line says how to fix it" $?
usage2 "message bytes without a bandwidth" $P whatif --stages 4 --microbatches 8 --msg-bytes 1MiB
usage2 "a message slower than a result holds" $P simulate $S --bandwidth 1e-300 --msg-bytes 1GiB
usage2 "a size that overflows" $P simulate $S --bandwidth 1 --msg-bytes 1e308TiB
usage2 "--jitter 3 is beyond 1" $P simulate $S --jitter 3
usage2 "--jitter nan" $P simulate $S --jitter nan
usage2 "--trials 0" $P simulate $S --jitter 0.05 --trials 0
usage2 "--trials without --jitter" $P simulate $S --trials 5
usage2 "--jitter auto without a learned profile" $P simulate $S --jitter auto
grep -q -- "--costs-from" "$T/err"; check "the line says where auto comes from" $?
# jitter 0: every trial is the deterministic run (1F1B p=4 m=8 unit costs: 33)
$P simulate $S --jitter 0 --trials 3 --format json >"$T/j.json" 2>"$T/err"
python3 - "$T/j.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))["trials"]
assert t["n"] == 3 and t["jitter"] == 0, t
assert t["deterministic"] == t["p10"] == t["p50"] == t["p90"] == 33, t
PY
check "--jitter 0 --trials 3: deterministic = p10 = p50 = p90 = 33" $?
usage2 "--mem-limit 0" $P simulate --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 0
grep -q -- "--mem-limit must be above 0" "$T/err"; check "the line says above 0" $?
usage2 "sweep --mem-limit 0" $P sweep --gpus 8 --mem-limit 0
usage2 "sweep --mem-limit 0GiB with a model" $P sweep --gpus 8 --model llama3-8b --gpu h100 --mem-limit 0GiB
usage2 "plot memory --limit 0" $P plot memory $S --limit 0 -o "$T/x.png"
for v in abc 0 -5 12x 99999999999 ' '; do
  PIPELAB_DB_TIMEOUT_MS=$v $P db list gpus >"$T/out" 2>"$T/err"; rc=$?
  [ $rc = 2 ] && one_line "$T/err" && grep -q "PIPELAB_DB_TIMEOUT_MS must be a whole number of milliseconds from 1 to 3600000" "$T/err" && [ ! -s "$T/out" ]
  check "PIPELAB_DB_TIMEOUT_MS='$v' is a usage error (exit $rc)" $?
done
PIPELAB_DB_TIMEOUT_MS=abc $P history >/dev/null 2>"$T/err"; rc=$?
[ $rc = 2 ] && one_line "$T/err"; check "history checks PIPELAB_DB_TIMEOUT_MS too (exit $rc)" $?
PIPELAB_DB_TIMEOUT_MS=2000 $P db list gpus >/dev/null 2>&1; check "PIPELAB_DB_TIMEOUT_MS=2000 is accepted" $?

# ---- figures that could be 0/0: never null, NaN or inf ----
$P simulate $S --tf 0 --tb 0 --tw 0 --format json >"$T/z.json" 2>/dev/null &&
  ! grep -Eqi "null|nan|inf" "$T/z.json"
check "zero costs: JSON without null/nan/inf" $?
$P simulate $S --tf 0 --tb 0 --tw 0 >"$T/z.txt" 2>/dev/null && ! grep -Eqi "nan|inf" "$T/z.txt"
check "zero costs: table without nan/inf" $?
$P whatif --stages 4 --microbatches 8 --tf 0 --tb 0 --tw 0 --comm 0 >"$T/z.txt" 2>/dev/null &&
  ! grep -Eqi "nan|inf" "$T/z.txt"
check "whatif, zero costs: table without nan/inf" $?
$P simulate --schedule 1f1b --stages 2 --microbatches 4 --save "$T/p2.json" >/dev/null &&
  $P simulate $S --save "$T/p4.json" >/dev/null &&
  $P compare "$T/p4.json" "$T/p2.json" >"$T/c.txt" 2>/dev/null
rc=$?; [ $rc = 0 ] && ! grep -Eqi "nan|inf" "$T/c.txt" && grep -q "n/a" "$T/c.txt"
check "compare of different rank counts: n/a, never nan (exit $rc)" $?

# ---- one error definition: (real - predicted) / predicted ----
$P simulate $S --save "$T/pred.json" >/dev/null
$P simulate $S --tf 1.07 --tb 1.07 --tw 1.07 --save "$T/real.json" >/dev/null
$P compare --format json "$T/pred.json" "$T/real.json" >"$T/c.json"
python3 - "$T/c.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
it = d["iteration"]
assert it["predicted"] == 33 and it["real"] == 35.31, it
assert it["error_pct"] == 7, it   # (35.31 - 33) / 33, denoised
PY
check "compare JSON: error_pct = (real - pred) / pred = 7 exactly" $?
$P compare "$T/pred.json" "$T/real.json" >"$T/c.txt"
grep -q "error +7.00%" "$T/c.txt" && grep -q "(real - predicted) / predicted" "$T/c.txt"
check "compare table: +7.00% and the definition in the header" $?
if command -v gnuplot >/dev/null 2>&1; then
  $P plot compare "$T/pred.json" "$T/real.json" -o "$T/c.svg" 2>/dev/null &&
    grep -q "+7.0%" "$T/c.svg" && grep -q "(real - predicted) / predicted" "$T/c.svg"
  check "plot compare: the same +7.0% and the definition in the legend" $?
fi

# ---- readable tables, clean JSON ----
$P simulate $S --tf 18522 --tb 18086 --tw 9337 --comm 601 --time-unit us >"$T/t.txt"
grep -Eq "^makespan +51[0-9]\.[0-9] ms " "$T/t.txt" &&
  grep -Eq "^ +0 +36[0-9]\.[0-9] ms +0 us +51[0-9]\.[0-9] ms" "$T/t.txt" &&
  grep -q "F=18.52 ms B=18.09 ms W=9.337 ms comm=601.0 us" "$T/t.txt"
check "simulate table: times in ms with 4 significant digits" $?
$P simulate $S --tf 1.1 --tb 1.1 --tw 1.1 --format json --save "$T/n.json" >"$T/n.out"
grep -q '"makespan": 36.3,' "$T/n.out" && grep -q '"ideal": 26.4,' "$T/n.out" &&
  grep -q '"makespan": 36.3,' "$T/n.json"
check "JSON: 33 x 1.1 is 36.3, not 36.300000000000011" $?
$P simulate --schedule interleaved --stages 4 --microbatches 8 --chunks 3 --format json >"$T/i.out"
! grep -Eq '[0-9]\.[0-9]{15,}' "$T/i.out"
check "JSON: no float noise in the last digits (v=3)" $?
$P simulate $S --model llama3-8b --gpu h100 >"$T/m.txt" 2>/dev/null
grep -Eq "^peak activation [0-9]+\.[0-9][0-9] GiB " "$T/m.txt" &&
  grep -Eq "^makespan +[0-9]\.[0-9]{3} s " "$T/m.txt" && ! grep -q "e+" "$T/m.txt"
check "model table: GiB with 2 decimals, seconds, no exponents" $?
# The model part of simulate's table: the iteration through the duration
# formatter, every size with two decimals, in the table and the warnings.
$P simulate $S --model llama3-8b --gpu h100 >"$T/m.txt" 2>"$T/m.err"
grep -q "^iteration 3.113 s   tokens/s " "$T/m.txt" &&
  grep -Eq "^ +0 +8 +4\.23 GiB +4\.23 GiB +25\.37 GiB +162\.00 GiB +195\.83 GiB +80\.00 GiB +NO$" "$T/m.txt" &&
  grep -q "^warning: rank 0 does not fit: needs 195.83 GiB (weights 4.23 GiB, gradients 4.23 GiB, optimizer 25.37 GiB, activations 162.00 GiB) but a h100 has 80.00 GiB of HBM$" "$T/m.err"
check "simulate --model: iteration 3.113 s, rank 0 at 195.83 GiB of 80.00 GiB" $?
# whatif --model: the iteration and where the time goes in s/ms/us, the
# fullest rank in GiB with two decimals.
$P whatif --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --schedules 1f1b,zb-v >"$T/w.txt" 2>/dev/null
grep -Eq "^1f1b +1 +3\.113 s +21052\.5 +30\.8% +30\.07% +195\.83 GiB +NO +1\.000x$" "$T/w.txt" &&
  grep -Eq "^zb-v +2 +2\.502 s .* 201\.38 GiB +NO +1\.244x$" "$T/w.txt" &&
  grep -Eq "^1f1b +2\.035 s +0 us +1\.273 ms +1\.032 s +0 us +44\.67 ms +30\.8%$" "$T/w.txt" &&
  grep -q "against 80.00 GiB of HBM per h100" "$T/w.txt" && ! grep -Eq "[0-9]e[-+]" "$T/w.txt"
check "whatif --model: 3.113 s, 1.273 ms of P2P, 44.67 ms of optimizer, 195.83 GiB" $?
# sweep --model: the iteration in s, the peak in GiB, the limit too; the
# schedule column fits the longest name; --explain in the same units.
$P sweep --gpus 8 --model llama3-8b --gpu h100 --top 3 --explain 1 >"$T/s.txt" 2>/dev/null
grep -q "limit 80.00 GiB per GPU" "$T/s.txt" &&
  grep -Eq "^ +1 1f1b +1 +1 +1 +1 +8 +1 +32 none +y +11994\.7 +21\.86 s +79\.20 GiB +70\.2% \|" "$T/s.txt" &&
  grep -Eq "^iteration 21\.86 s on rank 0: compute 21\.72 s .* DP 117\.1 ms, optimizer 19\.75 ms;" "$T/s.txt" &&
  grep -Eq "^ +0 +32 +14\.96 GiB +14\.96 GiB +11\.22 GiB +38\.07 GiB +79\.20 GiB$" "$T/s.txt"
check "sweep --model: 21.86 s, 79.20 GiB, --explain in s/ms and GiB" $?
$P sweep --gpus 64 --model llama3-70b --gpu h100 --global-batch 512 --seq 8192 --top 5 >"$T/s.txt" 2>/dev/null
awk '/^ +# schedule/ { h = index($0, "recompute") } / interleaved-relaxed / { r = index($0, "none") }
     END { exit !(h > 0 && r == h) }' "$T/s.txt"
check "sweep --model: the schedule column fits interleaved-relaxed" $?

# ---- plot axes in the same units; --limit takes sizes ----
if command -v gnuplot >/dev/null 2>&1; then
  $P plot timeline $S --tf 600000 --tb 600000 --tw 600000 --time-unit us -o "$T/tl.svg" 2>/dev/null &&
    grep -q "time (s)" "$T/tl.svg"
  check "timeline of 20 s in us: the axis is in s" $?
  W="--layers 2 --hidden 256 --seq 64"
  $P simulate --schedule 1f1b --stages 2 --microbatches 4 $W --save "$T/b.json" >/dev/null
  $P plot memory "$T/b.json" --limit 2MiB -o "$T/m.svg" 2>"$T/err"; rc=$?
  [ $rc = 0 ] && grep -q "activation memory (MiB)" "$T/m.svg" && grep -q "limit 2 MiB" "$T/m.svg"
  check "plot memory --limit 2MiB: MiB axis and limit line (exit $rc)" $?
  $P plot memory "$T/b.json" --limit 80GiB -o "$T/m.png" 2>/dev/null
  check "plot memory --limit 80GiB is accepted" $?
  usage2 "a size limit on a result in activation units" $P plot memory "$T/pred.json" --limit 80GiB -o "$T/y.png"
fi

echo "$((n-fail))/$n passed"
[ $fail = 0 ]
