#!/usr/bin/env bash
# End-to-end test of the transfer and fixed-cost options (docs/transfers.md):
# --p2p async|blocking|batched, --op-gap, --optimizer-time, validate --p2p,
# the JSON fields they add, per-link trace tracks and the usage errors.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
T=$(mktemp -d)
# A database of its own: the default one may belong to another pipelab version.
export PIPELAB_DB="$T/transfers.db"
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, condition result
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
sim() { "$P" simulate --schedule 1f1b --stages 4 --microbatches 8 --format json "$@"; }

# 1F1B, p = 4, m = 8, unit costs, T_comm = 0.5: 33 + 16, 19 or 34 transfers
# of 0.5 on the critical path (tests/test_transfers.c derives them).
[ "$(sim --comm 0.5 | json_get 'd["makespan"]')" = "41" ]; check "1f1b async 41" $?
[ "$(sim --comm 0.5 --p2p async | json_get 'd["makespan"]')" = "41" ]; check "--p2p async 41" $?
[ "$(sim --comm 0.5 --p2p batched | json_get 'd["makespan"]')" = "42.5" ]; check "--p2p batched 42.5" $?
[ "$(sim --comm 0.5 --p2p blocking | json_get 'd["makespan"]')" = "50" ]; check "--p2p blocking 50" $?
out=$(sim --comm 0.5 --p2p blocking)
[ "$(echo "$out" | json_get 'd["costs"]["p2p"]')" = "blocking" ]; check "json costs.p2p" $?
[ "$(echo "$out" | json_get 'd["costs"]["op_gap"]')" = "0.0" ]; check "json costs.op_gap" $?
[ "$(echo "$out" | json_get 'd["costs"]["optimizer_time"]')" = "0.0" ]; check "json costs.optimizer_time" $?

# The default is async, exactly as before: the same output as --p2p async.
a=$("$P" simulate --schedule zb-v --stages 4 --microbatches 8 --comm 0.25 --format json)
b=$("$P" simulate --schedule zb-v --stages 4 --microbatches 8 --comm 0.25 --format json --p2p async)
[ "$a" = "$b" ]; check "default output = --p2p async output" $?

# Free transfers: blocking and batched cost nothing more than async.
[ "$(sim --p2p blocking | json_get 'd["makespan"]')" = "33" ]; check "blocking, free transfers: 33" $?

# --op-gap: (m+p-1)(T_F + T_BW + 2g) - g = 11 * 3.5 - 0.25 = 38.25.
[ "$(sim --op-gap 0.25 | json_get 'd["makespan"]')" = "38.25" ]; check "--op-gap 0.25: 38.25" $?
[ "$(sim --op-gap 0.25 | json_get 'd["costs"]["op_gap"]')" = "0.25" ]; check "json op_gap" $?

# --optimizer-time: sync = makespan + step, post-validate = longest span +
# step (ZB-H2, unit costs: makespan 27, span 24).
zb() { "$P" simulate --schedule zb-h2 --stages 4 --microbatches 8 --format json "$@"; }
[ "$(zb --optimizer-time 2 | json_get 'd["iteration_time"]')" = "29" ]; check "sync step: 27 + 2" $?
[ "$(zb --optimizer-time 2 --optimizer post-validate | json_get 'd["iteration_time"]')" = "26" ]
check "post-validate step: 24 + 2" $?
[ "$(zb --optimizer post-validate | json_get 'd["iteration_time"]')" = "24" ]; check "post-validate, no step: 24" $?
tbl=$("$P" simulate --schedule 1f1b --stages 4 --microbatches 8 --optimizer-time 2 --op-gap 0.5 --p2p batched)
echo "$tbl" | grep -q "^runtime  p2p batched; op gap 0.5 unit; optimizer step 2 unit$"; check "table runtime line" $?

# validate --p2p: a ZB-H1 order finishes with async or batched transfers but
# its blocking transfers cannot pair up (exit 7, one line naming the send).
"$P" validate --schedule zb-h1 --stages 4 --microbatches 8 >/dev/null; check "validate zb-h1 async" $?
"$P" validate --schedule zb-h1 --stages 4 --microbatches 8 --p2p batched | grep -q "finishes with batched P2P"
check "validate zb-h1 batched" $?
"$P" validate --schedule zb-h1 --stages 4 --microbatches 8 --p2p blocking >"$T/o" 2>"$T/e"; rc=$?
[ "$rc" = 7 ] && [ ! -s "$T/o" ] && [ "$(wc -l <"$T/e")" = 1 ] && grep -q "under blocking P2P" "$T/e"
check "validate zb-h1 blocking: exit 7, one line" $?
"$P" simulate --schedule zb-h1 --stages 4 --microbatches 8 --p2p blocking >/dev/null 2>"$T/e"
[ $? = 7 ] && grep -q "blocking send of act s0->s1 mb4 to rank 1" "$T/e"; check "simulate blocking deadlock names the send" $?

# whatif: the mode applies to every schedule; the JSON says which.
w=$("$P" whatif --stages 4 --microbatches 8 --tf 1 --tb 1 --tw 1 --comm 0.5 --p2p batched --format json --schedules 1f1b,interleaved,zb-h2)
[ "$(echo "$w" | json_get 'd["p2p"]')" = "batched" ]; check "whatif json p2p" $?
[ "$(echo "$w" | json_get '[s.get("makespan") for s in d["schedules"] if s["schedule"] == "1f1b"][0]')" = "42.5" ]
check "whatif batched 1f1b 42.5" $?
[ "$(echo "$w" | json_get '"error" in [s for s in d["schedules"] if s["schedule"] == "zb-h2"][0]')" = "True" ]
check "whatif: zb-h2 cannot run batched (row with its error)" $?
"$P" whatif --stages 4 --microbatches 8 --tf 1 --tb 1 --tw 1 --comm 0.5 --p2p blocking --schedules 1f1b | head -1 | grep -q "p2p blocking"
check "whatif table names the mode" $?

# Trace: transfers on per-link tracks of the sending rank.
"$P" simulate --schedule interleaved --chunks 2 --stages 4 --microbatches 8 --comm 0.5 --p2p batched --trace "$T/t.json" >/dev/null
check "trace written" $?
python3 - "$T/t.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"]
names = {(e["pid"], e["tid"]): e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
x = [e for e in ev if e["ph"] == "X" and e.get("cat") == "p2p"]
assert len(x) == 112, len(x)
for e in x:
    track = names[(e["pid"], e["tid"])]
    assert track.startswith("p2p to rank %02d" % e["args"]["peer"]), (track, e)
    assert abs(e["dur"] - 500) < 1e-6, e
assert names[(0, 1)] == "compute"
EOF
check "trace: 112 transfers of 0.5 on 'p2p to rank NN' tracks" $?

# Usage errors: exit 2 and exactly one line on stderr, nothing on stdout.
usage_case() {
  local so se rc
  so=$("$P" "$@" 2>"$T/err"); rc=$?
  se=$(cat "$T/err")
  [ "$rc" = 2 ] && [ -z "$so" ] && [ "$(printf '%s\n' "$se" | wc -l)" = 1 ]
  check "usage error (exit 2, one line): $*" $?
}
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --p2p nonblocking
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --p2p
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --op-gap -1
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --op-gap x
usage_case simulate --schedule 1f1b --stages 4 --microbatches 8 --optimizer-time -2
usage_case simulate --model llama3-8b --gpu h100 --stages 4 --microbatches 8 --optimizer-time 3
usage_case whatif --p2p sync
usage_case run --schedule 1f1b --stages 2 --microbatches 2 --p2p blocking
usage_case run --schedule 1f1b --stages 2 --microbatches 2 --op-gap 1

# --help lists the new options.
"$P" simulate --help | grep -q -- "--p2p <mode>"; check "simulate --help: --p2p" $?
"$P" whatif --help | grep -q -- "--op-gap <t>"; check "whatif --help: --op-gap" $?

echo "$((n-fail))/$n passed"
[ "$fail" = 0 ]
