#!/usr/bin/env bash
# End-to-end test of learned costs: `pipelab run --save` one schedule (1F1B,
# p = 2), `pipelab calibrate --from` it into a database, and `pipelab whatif
# --db` ranks every schedule from that one profile; simulate --costs-from
# needs no database and prices 1F1B's own stages with the profile's medians;
# too few samples and a missing op kind exit 3 with one line and store
# nothing; the shipped Kineto traces are learned too.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_learn.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
SRC=$(cd "$(dirname "$0")/../.." && pwd)
fail=0; n=0
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
W="--layers 4 --hidden 16 --seq 8 --mb-size 1"
rows() { python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from learned_profiles").fetchone()[0], c.execute("select count(*) from learned_costs").fetchone()[0])' "$1"; }

$P run --schedule 1f1b --stages 2 --microbatches 6 $W --save "$T/real.json" >/dev/null 2>"$T/err"
check "run 1f1b --save exits 0" $?

$P calibrate --from "$T/real.json" --b-frac 0.7 --db "$T/cal.db" --format json >"$T/l.json" 2>"$T/err"
check "calibrate --from --db exits 0" $?
grep -q "stored learned costs" "$T/err"
check "calibrate --from says it stored the costs" $?
v=$(python3 - "$T/l.json" "$T/real.json" <<'PY'
import json, sys, statistics, hashlib
l = json.load(open(sys.argv[1])); r = json.load(open(sys.argv[2]))
ok = []
for st in l["stage_costs"]:
    d = [o["end"] - o["start"] for o in r["ops"] if o["stage"] == st["stage"] and o["op"] == "F"]
    # the median over the kept samples lies within the measured range
    ok.append(min(d) <= st["F"]["median"] <= max(d) and st["F"]["count"] + st["F"]["excluded"] == 6)
    ok.append(st["B"]["derived"] and abs(st["B"]["median"] - 0.7 * st["BW"]["median"]) < 1e-9 * st["BW"]["median"])
sha = hashlib.sha256(open(sys.argv[2], "rb").read()).hexdigest()
print(all(ok), l["schedule"], l["stages"], l["virtual_stages"], l["source_sha256"] == sha,
      l["workload_key"], l["p2p"]["msg_bytes"])
PY
)
[ "$v" = "True 1f1b 2 2 True executor:layers=4,hidden=16,seq=8,mb=1 1024.0" ]
check "learned medians within the measured range, B split, hash, key, message bytes (got $v)" $?
[ "$(rows "$T/cal.db")" = "1 8" ]
check "one profile with 8 (stage, op kind) rows stored" $?
q=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*), min(k), max(k) from learned_jitter").fetchone(), c.execute("select jitter_sigma >= 0 from learned_profiles").fetchone()[0])' "$T/cal.db")
[ "$q" = "(21, 0, 20) 1" ]
check "the scatter stored: 21 quantiles and a sigma (got $q)" $?
p=$(python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select g.name, c.method like \"pipelab calibrate --from%\", p.schedule, length(p.source_sha256), p.git_rev is not null from learned_profiles p join calibrations c on c.id=p.calibration_id join gpus g on g.id=c.gpu_id").fetchone())' "$T/cal.db")
[ "$p" = "('cpu', 1, '1f1b', 64, 1)" ]
check "provenance: device cpu, method, schedule, sha256, git revision (got $p)" $?

# Done: whatif ranks every schedule from the one profile.
$P whatif --db "$T/cal.db" --format json >"$T/w.json" 2>"$T/err"
check "whatif --db exits 0" $?
v=$(python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); s=d["schedules"]
ok=[x for x in s if "error" not in x and x["iteration_time"] > 0]
print(d["cost_source"], d["stages"], d["microbatches"], d["time_unit"], len(ok) == len(s), len(s) >= 15)' "$T/w.json")
[ "$v" = "learned 2 6 us True True" ]
check "whatif --db: every schedule priced from the learned costs at p=2 m=6 (got $v)" $?
# --jitter auto: the profile's scatter from the file, refused from the database
$P simulate --costs-from "$T/real.json" --b-frac 0.7 --schedule zb-h1 --jitter auto \
   --trials 20 --format json >"$T/j.json" 2>"$T/err"
v=$(python3 -c '
import json,sys
t=json.load(open(sys.argv[1]))["trials"]
print(t["n"], t["shape"], t["jitter"] >= 0, t["p10"] <= t["p50"] <= t["p90"])' "$T/j.json")
[ "$v" = "20 measured True True" ]
check "simulate --costs-from --jitter auto draws the measured quantiles (got $v)" $?
$P simulate --db "$T/cal.db" --schedule zb-h1 --jitter auto --trials 20 --format json \
   >"$T/jd.json" 2>"$T/err"
v=$(python3 -c '
import json,sys
a=json.load(open(sys.argv[1]))["trials"]; b=json.load(open(sys.argv[2]))["trials"]
print(a["shape"], a["jitter"] == b["jitter"], a["p50"] == b["p50"])' "$T/jd.json" "$T/j.json")
[ "$v" = "measured True True" ]
check "--jitter auto with the stored profile: the same scatter as the file's (got $v)" $?
$P whatif --db "$T/cal.db" >"$T/w.txt" 2>&1
grep -q "costs learned from a 1f1b profile" "$T/w.txt" && grep -q "layers it holds" "$T/w.txt"
check "whatif table says the costs are learned and how chunks are derived" $?

# simulate --costs-from, no database: 1F1B's stages at the profile's medians
out=$($P simulate --costs-from "$T/real.json" --schedule 1f1b --format json 2>"$T/err")
check "simulate --costs-from exits 0" $?
v=$(echo "$out" | python3 -c '
import json,sys
d=json.load(sys.stdin); l=json.load(open(sys.argv[1]))
print(d["costs"]["source"], d["costs"]["learned_from"]["chunk_split"], abs(d["costs"]["tf"] - l["stage_costs"][0]["F"]["median"]) < 1e-9)' "$T/l.json")
[ "$v" = "learned 1 True" ]
check "simulate --costs-from: source learned, tf = stage 0 F median (got $v)" $?
out=$($P simulate --costs-from "$T/real.json" --schedule zb-v --format json 2>"$T/err")
[ $? = 2 ] && grep -q -- "--b-frac" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ]
check "simulate zb-v from a BW-only profile without --b-frac: one usage line naming --b-frac" $?
out=$($P simulate --costs-from "$T/real.json" --b-frac 0.7 --schedule interleaved --format json 2>"$T/err")
v=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["costs"]["learned_from"]["chunk_split"])')
[ "$v" = 2 ]
check "interleaved (v=2) derives chunk costs (split 2)" $?

# Bad input: exit 3, one line, nothing stored
$P run --schedule 1f1b --stages 2 --microbatches 2 $W --save "$T/short.json" >/dev/null 2>&1
$P calibrate --from "$T/short.json" --db "$T/cal.db" >/dev/null 2>"$T/err"
[ $? = 3 ] && grep -q "too few samples" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ]
check "too few samples: exit 3, one line" $?
python3 - "$T/real.json" "$T/nobw.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["ops"] = [o for o in d["ops"] if not (o["stage"] == 1 and o["op"] == "BW")]
json.dump(d, open(sys.argv[2], "w"))
PY
$P calibrate --from "$T/nobw.json" --db "$T/cal.db" >/dev/null 2>"$T/err"
[ $? = 3 ] && grep -q "missing op kind: stage 1" "$T/err" && [ "$(wc -l <"$T/err")" = 1 ]
check "missing op kind: exit 3, one line" $?
[ "$(rows "$T/cal.db")" = "1 8" ]
check "nothing stored by the failed runs" $?

# The shipped Kineto traces (1F1B, p = 2, m = 4, F 1000 us, BW 2000 us, +-6 % jitter)
K="$SRC/examples/kineto"
$P calibrate --from "$K/rank0.json" "$K/rank1.json" --format json >"$T/k.json" 2>"$T/err"
check "calibrate --from the Kineto traces exits 0" $?
v=$(python3 -c '
import json,sys
l=json.load(open(sys.argv[1])); s=l["stage_costs"]
print(l["source"], all(abs(x["F"]["median"]/1000-1) <= 0.06 and abs(x["BW"]["median"]/2000-1) <= 0.06 for x in s), l["p2p"]["count"] > 0)' "$T/k.json")
[ "$v" = "kineto True True" ]
check "Kineto: F ~ 1000 us, BW ~ 2000 us within the 6 % jitter (got $v)" $?
$P calibrate --from "$K/rank0.json" "$K/rank1.json" --db "$T/k.db" >/dev/null 2>"$T/err"
[ $? = 2 ] && grep -q -- "--gpu" "$T/err"
check "Kineto into a database needs --gpu" $?
$P calibrate --from "$K/rank0.json" "$K/rank1.json" --db "$T/k.db" --gpu h100 --b-frac 0.66 >/dev/null 2>"$T/err"
check "Kineto stored under h100" $?
$P whatif --db "$T/k.db" --format json >"$T/k.json" 2>"$T/err"
check "whatif from the Kineto profile exits 0" $?
v=$(python3 -c '
import json,sys
d=json.load(open(sys.argv[1])); s=d["schedules"]
print(d["cost_source"], d["learned_from"]["source"], d["stages"], d["microbatches"], all("error" not in x for x in s), len(s) >= 15)' "$T/k.json")
[ "$v" = "learned kineto 2 4 True True" ]
check "whatif from the Kineto profile ranks every schedule (got $v)" $?

echo "$n checks, $fail failed"
[ "$fail" = 0 ]
