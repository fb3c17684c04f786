#!/usr/bin/env bash
# Honest defaults and refused flags: whatif's paper case is the named preset
# zb-1.5b (what it runs without shape, cost or model options); explicit costs
# start from simulate's defaults; a shared flag a command (or the schedule it
# runs) ignores is refused with one usage line, exit 2.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
fail=0; n=0
check() { # name, condition result
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
json_get() { python3 -c "import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))" "$1"; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT

# ---- whatif: the preset, said out loud ----
out=$("$P" whatif); check "whatif without options exits 0" $?
echo "$out" | head -1 | grep -q "^preset zb-1.5b (.*--preset zb-1.5b)"; check "whatif names the preset on its first line" $?
echo "$out" | grep -q "p=8 ranks, m=24 microbatches; per rank F=18.52 ms B=18.09 ms W=9.337 ms comm=601.0 us; M_W/M_B=0.366412"
check "whatif without options is the paper's case" $?
j=$("$P" whatif --format json)
[ "$(echo "$j" | json_get 'd["preset"], d["stages"], d["microbatches"], d["time_unit"]')" = "('zb-1.5b', 8, 24, 'us')" ]
check "whatif JSON says preset zb-1.5b, p 8, m 24, us" $?
[ "$("$P" whatif --preset zb-1.5b --format json)" = "$j" ]; check "--preset zb-1.5b is the same case" $?
# Options given with the preset override its values.
j=$("$P" whatif --preset zb-1.5b --microbatches 48 --schedules 1f1b --format json)
[ "$(echo "$j" | json_get 'd["preset"], d["microbatches"], d["time_unit"]')" = "('zb-1.5b', 48, 'us')" ]
check "--preset zb-1.5b --microbatches 48 keeps the preset's unit" $?

# Explicit costs start from simulate's defaults: comm 0, mem-w-frac 0.5, unit 'unit'.
j=$("$P" whatif --stages 4 --microbatches 8 --tf 1 --tb 1 --tw 1 --schedules 1f1b,gpipe --format json)
[ "$(echo "$j" | json_get '"preset" in d, d["time_unit"], [s["iteration_time"] for s in d["schedules"]]')" = "(False, 'unit', [33.0, 33.0])" ]
check "whatif with unit costs: no preset, unit 'unit', 1f1b and gpipe 33 (comm 0)" $?
s=$("$P" simulate --schedule 1f1b --stages 4 --microbatches 8 --format json | json_get 'd["makespan"]')
w=$("$P" whatif --stages 4 --microbatches 8 --schedules 1f1b --format json | json_get 'd["schedules"][0]["makespan"]')
[ "$s" = 33 ] && [ "$w" = 33 ]; check "whatif --stages --microbatches = simulate's defaults ($w, $s)" $?
z=$("$P" whatif --stages 4 --microbatches 8 --schedules zb-h1 --format json | json_get 'd["schedules"][0]["peak_activation_units"]')
zs=$("$P" simulate --schedule zb-h1 --stages 4 --microbatches 8 --format json | json_get 'd["peak_activation_units"]')
[ "$z" = "$zs" ] && [ "$z" = 4 ]; check "whatif memory uses mem-w-frac 0.5 as simulate ($z, $zs)" $?
# --bandwidth/--msg-bytes price the messages in whatif as in simulate.
s=$("$P" simulate --schedule 1f1b --stages 4 --microbatches 8 --bandwidth 1 --msg-bytes 1 --format json | json_get 'd["makespan"]')
w=$("$P" whatif --stages 4 --microbatches 8 --bandwidth 1 --msg-bytes 1 --schedules 1f1b --format json | json_get 'd["schedules"][0]["makespan"]')
[ "$s" = 49 ] && [ "$w" = 49 ]; check "whatif --bandwidth --msg-bytes = simulate (49: $w, $s)" $?

usage_case() { # name, args...: exit 2 with one line on stderr naming what to drop or give
  local name=$1; shift
  "$P" "$@" >"$T/out" 2>"$T/err"; local rc=$?
  [ $rc = 2 ] && [ "$(wc -l <"$T/err")" = 1 ] && [ ! -s "$T/out" ]
  check "$name: exit 2, one line (rc $rc: $(head -c 160 "$T/err"))" $?
}
usage_case "whatif --tf alone needs a shape" whatif --tf 1 --tb 1 --tw 1
grep -q -- "--preset zb-1.5b" "$T/err"; check "... and says how to get the paper's case" $?
usage_case "unknown preset" whatif --preset nope
usage_case "preset with --model" whatif --preset zb-1.5b --model llama3-8b --gpu h100 --db :memory:

# ---- refused flags ----
usage_case "simulate 1f1b --mem-limit" simulate --schedule 1f1b --stages 4 --microbatches 8 --mem-limit 4
grep -q -- "--mem-limit is read only by zb-auto, zb-v; 1f1b ignores it" "$T/err"; check "... names the schedules that read it" $?
usage_case "simulate 1f1b --group" simulate --schedule 1f1b --stages 4 --microbatches 8 --group 4
usage_case "simulate --dialect without a CSV" simulate --schedule 1f1b --stages 4 --microbatches 8 --dialect current
usage_case "simulate --model 1f1b --mem-limit bytes" simulate --model llama3-8b --gpu h100 --db :memory: --stages 4 --microbatches 8 --mem-limit 80GiB
usage_case "run --rank-speed" run --schedule 1f1b --stages 2 --microbatches 2 --rank-speed 1,2
grep -q -- "--rank-speed does not apply to 'pipelab run'" "$T/err"; check "... says run does not take it" $?
usage_case "run --time-unit" run --schedule 1f1b --stages 2 --microbatches 2 --time-unit ms
usage_case "run --optimizer" run --schedule 1f1b --stages 2 --microbatches 2 --optimizer post-validate
usage_case "run 1f1b --tf" run --schedule 1f1b --stages 2 --microbatches 2 --tf 2
usage_case "validate 1f1b --tf" validate --schedule 1f1b --stages 4 --microbatches 8 --tf 2
usage_case "validate --optimizer-time" validate --schedule 1f1b --stages 4 --microbatches 8 --optimizer-time 1
usage_case "validate --rank-speed" validate --schedule 1f1b --stages 4 --microbatches 8 --rank-speed 1,2,1,1
usage_case "validate CSV --comm" validate --schedule-file "$PL_TEST_DATA/pytorch/zb1p_2rank_2stagep_compute.csv" --comm 1
usage_case "convert 1f1b --comm" convert --schedule 1f1b --stages 4 --microbatches 8 --comm 1
usage_case "convert --time-unit" convert --schedule 1f1b --stages 4 --microbatches 8 --time-unit ms
usage_case "whatif --rank-speed" whatif --stages 4 --microbatches 8 --rank-speed 1,2,1,1
usage_case "whatif --schedule" whatif --schedule 1f1b --stages 4 --microbatches 8
usage_case "whatif --mem-limit without zb-auto/zb-v" whatif --stages 4 --microbatches 8 --mem-limit 6 --schedules 1f1b,zb-h1
usage_case "plot timeline --optimizer-time" plot timeline --schedule 1f1b --stages 4 --microbatches 8 --optimizer-time 1 -o "$T/x.png"
[ ! -e "$T/x.png" ]; check "... writes no figure" $?

# ---- the same flags where they do apply ----
ok_case() { local name=$1; shift; "$P" "$@" >/dev/null 2>"$T/err"; check "$name exits 0 ($(head -c 120 "$T/err"))" $?; }
ok_case "validate zb-auto --tf (it searches with costs)" validate --schedule zb-auto --stages 4 --microbatches 8 --tf 2 --comm 1
ok_case "convert zb-v --tw" convert --schedule zb-v --stages 4 --microbatches 8 --tw 0.5
ok_case "simulate zb-auto --mem-limit" simulate --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 6
ok_case "simulate interleaved --group" simulate --schedule interleaved --stages 4 --microbatches 8 --group 4
ok_case "whatif --mem-limit with zb-auto compared" whatif --stages 4 --microbatches 8 --mem-limit 6
ok_case "validate --p2p blocking" validate --schedule 1f1b --stages 4 --microbatches 8 --p2p blocking
# zb-auto's order does follow the costs run/validate/convert accept for it.
a=$("$P" convert --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 8)
b=$("$P" convert --schedule zb-auto --stages 4 --microbatches 8 --mem-limit 4)
[ -n "$a" ] && [ "$a" != "$b" ]; check "zb-auto's CSV depends on --mem-limit" $?

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
