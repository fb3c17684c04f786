#!/usr/bin/env bash
# Hostile or unlucky conditions, end to end: Kineto traces whose clocks or
# times overflow, cost flags that overflow the result's times, output to a
# full device, files saved through symbolic links, into FIFOs and onto
# /dev/stdout, several processes saving to one path, several processes
# creating one database, and CSV files that start with a UTF-8 byte order
# mark. Each failure is one line on stderr with the documented exit code.
set -u
P=${PIPELAB:?}
D=${PL_TEST_DATA:?}
fail=0; n=0
check() { n=$((n+1)); if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi; }
one_line() { [ "$(wc -l < "$1")" = 1 ]; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PIPELAB_DB=$tmp/default.db

# --- Kineto import: a clock difference that overflows int64, an event whose
# end is infinite. Both exit 3 with one line and write nothing.
ev='"traceEvents":[{"ph":"X","cat":"gpu_user_annotation","name":"PP:0F0","pid":0,"tid":1,"ts":1.0,"dur":2.0}]}'
echo "{\"baseTimeNanoseconds\": 9223372036854775807, $ev" > "$tmp/k0.json"
echo "{\"baseTimeNanoseconds\": -9223372036854775808, $ev" > "$tmp/k1.json"
$P import kineto "$tmp/k0.json" "$tmp/k1.json" -o "$tmp/k.json" 2>"$tmp/err"
rc=$?
[ $rc = 3 ] && one_line "$tmp/err" && grep -q baseTimeNanoseconds "$tmp/err" && [ ! -e "$tmp/k.json" ]
check "kineto: int64 base times are refused (exit $rc)" $?
cat > "$tmp/inf.json" <<'EOF'
{"traceEvents":[{"ph":"X","cat":"gpu_user_annotation","name":"PP:0F0","pid":0,"tid":1,"ts":1e+308,"dur":1e+308}]}
EOF
$P import kineto "$tmp/inf.json" -o "$tmp/k.json" 2>"$tmp/err"
rc=$?
[ $rc = 3 ] && one_line "$tmp/err" && grep -q "not a finite time" "$tmp/err" && [ ! -e "$tmp/k.json" ]
check "kineto: an infinite end is refused (exit $rc)" $?
$P compare "$tmp/inf.json" "$tmp/inf.json" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 3 ] && one_line "$tmp/err"
check "compare: the same trace is refused (exit $rc)" $?

# --- Cost flags whose times overflow: exit 2, one line, nothing written, no
# null in any JSON that is written.
$P simulate --schedule gpipe --stages 16 --microbatches 4 --format json \
  --comm 1e300 >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && one_line "$tmp/err" && [ ! -s "$tmp/out" ]
check "simulate --comm 1e300: usage error (exit $rc)" $?
$P simulate --schedule gpipe --stages 4 --microbatches 4 --tf 1e300 \
  --rank-speed 1:1e9 --format json --trace "$tmp/t.json" --save "$tmp/s.json" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && one_line "$tmp/err" && grep -q -- "--tf must be a number from 0 to 1e+15" "$tmp/err" &&
  [ ! -s "$tmp/out" ] && [ ! -e "$tmp/t.json" ] && [ ! -e "$tmp/s.json" ]
check "simulate --tf 1e300 --rank-speed 1:1e9: usage error, nothing written (exit $rc)" $?
# The largest cost times the largest multiplier: finite, but far beyond
# what a result holds.
$P simulate --schedule gpipe --stages 4 --microbatches 4 --tf 1e15 \
  --rank-speed 1:1e9 --format json --trace "$tmp/t.json" --save "$tmp/s.json" \
  >"$tmp/out" 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && one_line "$tmp/err" && grep -q -- "--rank-speed" "$tmp/err" &&
  [ ! -s "$tmp/out" ] && [ ! -e "$tmp/t.json" ] && [ ! -e "$tmp/s.json" ]
check "simulate --tf 1e15 --rank-speed 1:1e9: usage error, nothing written (exit $rc)" $?
$P simulate --schedule gpipe --stages 4 --microbatches 4 --tf 1e13 \
  --trace "$tmp/t.json" >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 2 ] && one_line "$tmp/err" && grep -q "Chrome trace" "$tmp/err" && [ ! -e "$tmp/t.json" ]
check "simulate: times a trace cannot hold are a usage error (exit $rc)" $?
# Large but representable: saved, compared, no null anywhere.
$P simulate --schedule 1f1b --stages 4 --microbatches 8 --tf 1e12 --comm 1e11 \
  --optimizer-time 5e11 --format json --save "$tmp/big.json" >"$tmp/out" 2>"$tmp/err"
check "simulate with 1e12 costs runs" $?
! grep -q null "$tmp/out" && ! grep -q null "$tmp/big.json"
check "no null in simulate's JSON or result file" $?
$P compare "$tmp/big.json" "$tmp/big.json" >/dev/null 2>"$tmp/err"
check "compare reads the saved file back" $?

# --- Output that cannot be written: exit 3 with one line.
$P simulate --schedule 1f1b --stages 4 --microbatches 8 >/dev/full 2>"$tmp/err"
rc=$?
[ $rc = 3 ] && one_line "$tmp/err" && grep -q "standard output" "$tmp/err"
check "simulate > /dev/full exits 3 (exit $rc)" $?
$P schedules --format json >/dev/full 2>"$tmp/err"
rc=$?
[ $rc = 3 ] && one_line "$tmp/err"
check "schedules > /dev/full exits 3 (exit $rc)" $?
# Through a link of our own: a binary that renamed over its target would
# replace only the link, never the device.
ln -s /dev/full "$tmp/full"
$P simulate --schedule 1f1b --stages 2 --microbatches 2 --save "$tmp/full" \
  >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 3 ] && one_line "$tmp/err" && grep -q "No space" "$tmp/err" && [ -L "$tmp/full" ]
in_place=$?
check "--save to a link to /dev/full exits 3, in place (exit $rc)" $in_place

# --- Where files go: /dev/stdout and FIFOs in place, symlinks through.
# (Only with a binary that writes devices in place: one that renamed a
# temporary file over /dev/stdout would replace the system's link as root.)
if [ $in_place = 0 ]; then
$P simulate --schedule 1f1b --stages 2 --microbatches 2 --format json \
  --save /dev/stdout >"$tmp/both" 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && grep -q '"memory"' "$tmp/both" && grep -q '"placement"' "$tmp/both"
check "--save /dev/stdout into a file keeps both documents (exit $rc)" $?
$P simulate --schedule 1f1b --stages 2 --microbatches 2 --save /dev/stdout \
  2>"$tmp/err" | grep -q '"memory"'
check "--save /dev/stdout into a pipe" $?
fi
mkfifo "$tmp/fifo"
timeout 20 cat "$tmp/fifo" >"$tmp/from_fifo" &
reader=$!
$P simulate --schedule 1f1b --stages 2 --microbatches 2 --trace "$tmp/fifo" \
  >/dev/null 2>"$tmp/err"
rc=$?
wait $reader
[ $rc = 0 ] && [ -p "$tmp/fifo" ] && grep -q '"traceEvents"' "$tmp/from_fifo"
check "--trace into a FIFO writes through it (exit $rc)" $?
echo old > "$tmp/real.json"
chmod 600 "$tmp/real.json"
ln -s real.json "$tmp/link.json"
$P simulate --schedule 1f1b --stages 2 --microbatches 2 --save "$tmp/link.json" \
  >/dev/null 2>"$tmp/err"
rc=$?
[ $rc = 0 ] && [ -L "$tmp/link.json" ] && grep -q '"ops"' "$tmp/real.json" &&
  [ "$(stat -c %a "$tmp/real.json")" = 600 ]
check "--save through a symlink replaces its target, keeps its mode (exit $rc)" $?
ln -s sub/new.json "$tmp/dangling.json"
mkdir "$tmp/sub"
(umask 022; $P simulate --schedule 1f1b --stages 2 --microbatches 2 \
  --save "$tmp/dangling.json" >/dev/null 2>"$tmp/err")
rc=$?
[ $rc = 0 ] && [ -L "$tmp/dangling.json" ] && grep -q '"ops"' "$tmp/sub/new.json" &&
  [ "$(stat -c %a "$tmp/sub/new.json")" = 644 ]
check "--save through a dangling symlink creates its target, mode 644 (exit $rc)" $?
# Several processes saving to one path: each write is whole, none fails.
bad=0
for round in 1 2 3 4 5; do
  pids=()
  for k in 1 2 3 4 5 6 7 8; do
    $P simulate --schedule zb-h1 --stages 4 --microbatches $((8 + k)) \
      --save "$tmp/same.json" --trace "$tmp/same_trace.json" >/dev/null 2>>"$tmp/race_err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
done
[ $bad = 0 ] && python3 -m json.tool "$tmp/same.json" >/dev/null &&
  python3 -m json.tool "$tmp/same_trace.json" >/dev/null &&
  [ -z "$(ls "$tmp" | grep '\.tmp')" ]
check "8 processes x 5 rounds saving to one path: all exit 0, whole files ($bad failed)" $?
[ -s "$tmp/race_err" ] && head -3 "$tmp/race_err"

# --- 8 processes creating one new database at once, 10 times: all exit 0
# (a half-created file used to look like another application's, and the
# journal-mode switch gave up at once).
bad=0
for round in $(seq 1 10); do
  pids=()
  for k in 1 2 3 4 5 6 7 8; do
    $P db init --db "$tmp/race$round.db" >/dev/null 2>>"$tmp/db_err" &
    pids+=($!)
  done
  for p in "${pids[@]}"; do wait "$p" || bad=$((bad + 1)); done
done
[ $bad = 0 ]
check "8 processes x 10 rounds of db init on a new file: all exit 0 ($bad failed)" $?
[ -s "$tmp/db_err" ] && sort "$tmp/db_err" | uniq -c | head -3
$P db check --db "$tmp/race10.db" >/dev/null 2>&1
check "the raced database checks ok" $?

# --- A UTF-8 byte order mark at the start of a CSV is skipped.
printf '\xef\xbb\xbf' > "$tmp/bom.csv"
cat "$D/pytorch/zb1p_2rank_2stagep_compute.csv" >> "$tmp/bom.csv"
$P validate --schedule-file "$tmp/bom.csv" >/dev/null 2>"$tmp/err"
check "validate: a schedule CSV with a BOM" $?
printf '\xef\xbb\xbfop,mb_size,seq_len,hidden,mean_us\r\nF,1,4096,4096,1000\r\n' > "$tmp/samples.csv"
$P db import "$tmp/samples.csv" --gpu h100 --db "$tmp/bom.db" >/dev/null 2>"$tmp/err"
check "db import: a samples CSV with a BOM" $?

# --- A four-row CSV naming microbatch 16777215 is refused quickly and small.
printf '0F16777215\n1F0\n2F0\n3F0\n' > "$tmp/bigmb.csv"
(ulimit -t 20; $P validate --schedule-file "$tmp/bigmb.csv" >/dev/null 2>"$tmp/err")
rc=$?
[ $rc = 7 ] && grep -q "never runs the forward F0s0" "$tmp/err"
check "validate: microbatch 16777215 in a 4-row CSV exits 7 (exit $rc)" $?

echo "$((n - fail))/$n passed"
[ $fail = 0 ]
