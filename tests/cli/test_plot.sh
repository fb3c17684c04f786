#!/usr/bin/env bash
# End-to-end tests of `pipelab plot`: usage errors exit 2, a missing gnuplot
# is one line naming the package, and every figure is produced (PNG header
# and size, one SVG marker per op, PDF magic). Skips (77) without gnuplot.
set -u
P=${PIPELAB:?}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_plot.XXXXXX")
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { n=$((n+1)); if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi; }
# PNG width and height from the IHDR chunk (big-endian at offsets 16, 20).
png_w() { od -An -tu1 -j16 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}'; }
png_h() { od -An -tu1 -j20 -N4 "$1" | awk '{print $1*16777216+$2*65536+$3*256+$4}'; }
is_png() { [ -s "$1" ] && [ "$(od -An -tx1 -N8 "$1" | tr -d ' \n')" = 89504e470d0a1a0a ]; }

S="--schedule 1f1b --stages 4 --microbatches 8"

# ---- usage errors: one line on stderr, exit 2, nothing written ----
while IFS= read -r args; do
  # shellcheck disable=SC2086
  $P plot $args >"$T/out" 2>"$T/err"; rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && [ ! -s "$T/out" ]
  check "usage error (exit 2, one line): plot $args" $?
done <<EOF2
-
bogus -o $T/x.png
timeline $S
timeline $S -o $T/x.jpg
timeline $S -o $T/noext
timeline -o $T/x.png
timeline $S --bogus -o $T/x.png
timeline $S --limit 3 -o $T/x.png
timeline $S --size 10x10 -o $T/x.png
timeline $S --size wide -o $T/x.png
timeline --schedule nope --stages 4 --microbatches 8 -o $T/x.png
timeline --schedule 1f1b --microbatches 8 -o $T/x.png
memory $S --limit -1 -o $T/x.png
compare $T/a.json -o $T/x.png
compare $T/a.json $T/b.json $T/c.json -o $T/x.png
compare $T/a.json $T/b.json --style pie -o $T/x.png
sweep -o $T/x.png
sweep $T/a.csv $S -o $T/x.png
EOF2
[ ! -e "$T/x.png" ]; check "no figure after usage errors" $?
$P plot >/dev/null 2>&1; [ $? = 2 ]; check "plot without a figure exits 2" $?

$P plot --help >"$T/help" 2>&1; [ $? = 0 ] && grep -q "usage: pipelab plot timeline" "$T/help"
check "--help prints usage, exit 0" $?
$P plot timeline --help | grep -q -- "--no-labels"; check "plot timeline --help" $?

# ---- gnuplot missing: one line naming the package, no file ----
PIPELAB_GNUPLOT=/nonexistent/gnuplot $P plot timeline $S -o "$T/g.png" 2>"$T/err"; rc=$?
[ $rc = 1 ] && [ "$(wc -l <"$T/err")" = 1 ] && grep -q "apt-get install gnuplot-nox" "$T/err"
check "missing gnuplot: exit 1, one line with the package" $?
[ ! -e "$T/g.png" ]; check "missing gnuplot leaves no file" $?
PATH=/nonexistent PIPELAB_GNUPLOT= $P plot timeline $S -o "$T/g.png" 2>"$T/err"
grep -qx "error: gnuplot not found: install it with 'apt-get install gnuplot-nox'" "$T/err"
check "gnuplot not on PATH: the exact hint" $?

if ! command -v gnuplot >/dev/null 2>&1 && [ -z "${PIPELAB_GNUPLOT:-}" ]; then
  echo "skipped: gnuplot not found (apt-get install gnuplot-nox); $n checks ran, $fail failed"
  [ $fail = 0 ] || exit 1
  exit 77
fi

# ---- figures ----
$P plot timeline $S -o "$T/t.png" 2>"$T/err"; rc=$?
[ $rc = 0 ] && is_png "$T/t.png"; check "timeline PNG from schedule options" $?
# 4 ranks: 42 + 78 + 34*4 = 256 px high; 1F1B p=4 m=8 unit costs: 900 px.
[ "$(png_h "$T/t.png")" = 256 ] && [ "$(png_w "$T/t.png")" = 900 ]
check "timeline PNG size 900x256" $?
[ ! -s "$T/err" ]; check "timeline prints nothing on stderr" $?

$P plot timeline $S --size 1600x400 --title "it's mine" -o "$T/t2.png"
[ "$(png_w "$T/t2.png")" = 1600 ] && [ "$(png_h "$T/t2.png")" = 400 ]
check "--size 1600x400" $?

# From a result file: ZB-H1 p=4 m=8 has 96 ops (F, B, W per stage and mb).
$P simulate --schedule zb-h1 --stages 4 --microbatches 8 --save "$T/zb.json" >/dev/null
check "simulate --save" $?
$P plot timeline "$T/zb.json" -o "$T/zb.svg"; check "timeline SVG from a result file" $?
[ "$(grep -o 'pl-op:' "$T/zb.svg" | wc -l)" = 96 ]; check "one SVG marker per op (96)" $?
grep -q "pl-op:W7s3 rank 3" "$T/zb.svg"; check "SVG marker names op and rank" $?

$P plot memory "$T/zb.json" --limit 3.5 -o "$T/m.png"; rc=$?
[ $rc = 0 ] && is_png "$T/m.png" && [ "$(png_w "$T/m.png")" = 1000 ]
check "memory PNG with a limit" $?
$P plot memory $S -o "$T/m.pdf"; [ "$(head -c 4 "$T/m.pdf")" = "%PDF" ]
check "memory PDF" $?

$P simulate --schedule 1f1b --stages 4 --microbatches 8 --save "$T/f.json" >/dev/null
$P plot compare "$T/f.json" "$T/f.json" "$T/zb.json" "$T/zb.json" -o "$T/c.png"
rc=$?; [ $rc = 0 ] && is_png "$T/c.png"; check "compare bars PNG" $?
$P plot compare "$T/f.json" "$T/zb.json" --style scatter -o "$T/c.svg"
grep -q "y = x" "$T/c.svg"; check "compare scatter SVG with the y = x line" $?

$P sweep --gpus 8 --stages 2,4 --microbatches 8..16:8 --schedules 1f1b,zb-h1,gpipe \
   --mem-limit 1 --all --format csv >"$T/sw.csv" 2>/dev/null
$P plot sweep "$T/sw.csv" -o "$T/sw.png"; rc=$?
[ $rc = 0 ] && is_png "$T/sw.png"; check "sweep PNG from 'pipelab sweep --format csv'" $?
$P sweep --gpus 8 --stages 2,4 --microbatches 8 --schedules 1f1b,gpipe \
   --mem-limit 1 --all --format json >"$T/sw.json" 2>/dev/null
$P plot sweep "$T/sw.json" -o "$T/sw.svg"; rc=$?
[ $rc = 0 ] && grep -q "does not fit" "$T/sw.svg"; check "sweep SVG from json, rejected rows open" $?

# ---- runtime errors ----
$P plot timeline $S -o /nonexistent-dir/t.png 2>"$T/err"; rc=$?
[ $rc = 3 ] && grep -q "cannot write '/nonexistent-dir/t.png'" "$T/err"
check "unwritable path: exit 3 with the path" $?
echo '{' >"$T/bad.json"
$P plot timeline "$T/bad.json" -o "$T/bad.png" 2>/dev/null; [ $? = 3 ] && [ ! -e "$T/bad.png" ]
check "corrupt result file: exit 3, no figure" $?
printf 'schedule,stages\n1f1b,4\n' >"$T/bad.csv"
$P plot sweep "$T/bad.csv" -o "$T/bad.png" 2>"$T/err"; [ $? = 3 ] && grep -q "no row has a value" "$T/err"
check "sweep without values: exit 3" $?

# A model sweep plots as throughput vs memory with its Pareto front and limit.
$P sweep --model llama3-8b --gpu h100 --gpus 16 --global-batch 64 --seq 4096 --db :memory: \
  --all --format json > "$T/msw.json" 2>/dev/null
$P plot sweep "$T/msw.json" -o "$T/msw.svg" --limit 80
check "model sweep plot exits 0" $?
grep -q "peak memory per GPU (GiB)" "$T/msw.svg" && grep -q "Pareto front" "$T/msw.svg" && grep -q "limit" "$T/msw.svg"
check "model sweep plot: memory axis, Pareto front, limit line" $?

# 10,000 points over 2,000 configurations and 16 schedules stay readable: about
# 24 configuration labels instead of 2,000, every point drawn, 16 colours.
awk 'BEGIN { print "schedule,stages,microbatches,mb_size,chunks,throughput,fits"
  for (s = 0; s < 5; s++) for (p = 1; p <= 8; p *= 2) for (m = 1; m <= 500; m++)
    printf "s%d,%d,%d,1,1,%.6g,%s\n", s, p, m, m / (m + p - 1) * (1 + s / 10), (m % 7 ? "true" : "false") }' \
  >"$T/big.csv"
[ "$(wc -l <"$T/big.csv")" = 10001 ]; check "the big sweep file has 10,000 rows" $?
t0=$(date +%s)
$P plot sweep "$T/big.csv" -o "$T/big.svg"; rc=$?
t1=$(date +%s)
labels=$(grep -c ">p[0-9]* m[0-9]* b1 v1<" "$T/big.svg")
points=$(grep -o "xlink:href='#gpPt[0-9]*'" "$T/big.svg" | wc -l)
[ $rc = 0 ] && [ "$labels" -ge 10 ] && [ "$labels" -le 30 ] && [ "$points" -ge 10000 ] &&
  grep -q "10000 runs, 5 schedules" "$T/big.svg" && [ $((t1 - t0)) -le 60 ]
check "plot sweep of 10,000 points: $labels labels, $points points, $((t1 - t0)) s (exit $rc)" $?
$P plot sweep "$T/big.csv" -o "$T/big.png" && is_png "$T/big.png" &&
  [ "$(python3 -c "import struct,sys; d=open(sys.argv[1],'rb').read(24); print(struct.unpack('>I', d[16:20])[0])" "$T/big.png")" -le 2600 ]
check "plot sweep of 10,000 points: a PNG at most 2600 pixels wide" $?

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
