#!/usr/bin/env bash
# Regenerates the files under examples/ with pipelab itself (run from the
# repository root after a build): the schedule CSV, a real CPU run with the
# prediction priced from a calibration of this machine, and two Kineto
# traces (one per rank) written in the PyTorch profiler's format from a
# simulated 1F1B run with a fixed jitter (they were not profiled).
set -eu
P=${PIPELAB:-./build/pipelab}
E=examples
mkdir -p "$E/kineto"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$P" convert --schedule zb-h1 --stages 4 --microbatches 8 -o "$E/zb-h1-4x8.csv"

W="--stages 2 --microbatches 8 --layers 4 --hidden 256 --seq 128"
"$P" run --schedule zb-h1 $W --warmup 2 --save "$E/run-zb-h1-cpu.json" >/dev/null
"$P" calibrate --backend cpu --hidden 256 --seq 128 --db "$tmp/cal.db" >/dev/null
"$P" simulate --schedule zb-h1 $W --gpu cpu --db "$tmp/cal.db" \
  --save "$E/sim-zb-h1-cpu.json" >/dev/null

"$P" simulate --schedule 1f1b --stages 2 --microbatches 4 --tf 1000 --tb 1000 \
  --tw 1000 --comm 50 --time-unit us --save "$tmp/k.json" >/dev/null
python3 - "$tmp/k.json" "$E/kineto" <<'PY'
import json, sys
res = json.load(open(sys.argv[1]))
base_ns = 1700000000000000000
t0 = 5000.0  # us after the base time
for rank in range(res["stages"]):
    ev = [{"ph": "M", "name": "process_name", "pid": rank, "tid": 0,
           "args": {"name": "GPU %d" % rank}},
          {"ph": "M", "name": "process_name", "pid": 4200 + rank, "tid": 0,
           "args": {"name": "python"}}]
    shift = 0.0
    for i, op in enumerate(o for o in res["ops"] if o["rank"] == rank):
        # a fixed +-6 % jitter, different per op and rank
        j = 1.0 + 0.06 * (((7 * i + 3 * rank) % 5) - 2) / 2
        dur = (op["end"] - op["start"]) * j
        ts = t0 + op["start"] + shift
        shift += dur - (op["end"] - op["start"])
        kind = {"F": "F", "BW": "B", "B": "I", "W": "W"}[op["op"]]
        name = "PP:%d%s%d" % (op["stage"], kind, op["microbatch"])
        ev.append({"ph": "X", "cat": "user_annotation", "name": name,
                   "pid": 4200 + rank, "tid": 4200 + rank,
                   "ts": round(ts - 40.0, 3), "dur": 12.0})
        ev.append({"ph": "X", "cat": "gpu_user_annotation", "name": name,
                   "pid": rank, "tid": 7, "ts": round(ts, 3),
                   "dur": round(dur, 3)})
    doc = {"schemaVersion": 1,
           "distributedInfo": {"backend": "nccl", "rank": rank,
                               "world_size": res["stages"]},
           "deviceProperties": [{"id": rank, "name": "NVIDIA H100 80GB HBM3",
                                 "totalGlobalMem": 85029158912,
                                 "computeMajor": 9, "computeMinor": 0}],
           "displayTimeUnit": "ms", "baseTimeNanoseconds": base_ns,
           "traceEvents": ev}
    with open("%s/rank%d.json" % (sys.argv[2], rank), "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
PY
echo "wrote $(ls "$E" "$E/kineto" | grep -c json) JSON files and $E/zb-h1-4x8.csv"
