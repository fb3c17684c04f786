#!/usr/bin/env bash
# Runs pipelab's libFuzzer targets (built with -DPL_FUZZ=ON, docs/testing.md)
# for a fixed time each, two at a time, from seed corpora taken from
# tests/data. New inputs found go to a scratch corpus, never into the tree;
# a crash, a leak, undefined behaviour, a refused input without a message,
# a failed round trip, an allocation above the limit or an input slower
# than the timeout stops the target, leaves the input in the log directory
# and makes this script exit 1.
#
# usage: fuzz/run.sh BUILD_DIR [SECONDS_EACH [TARGET...]]
#   BUILD_DIR     the PL_FUZZ build (e.g. build-fuzz)
#   SECONDS_EACH  time per target (default 25)
#   TARGET        csv, result, kineto, db_import, tables (default: all five)
# Environment: PL_FUZZ_WORK keeps the corpora and logs there (default: a
# temporary directory, removed on success); PL_FUZZ_JOBS targets at once
# (default 2).
set -uo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: fuzz/run.sh BUILD_DIR [SECONDS_EACH [TARGET...]]}
secs=${2:-25}
shift $(( $# >= 2 ? 2 : 1 ))
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(csv result kineto db_import tables)
jobs=${PL_FUZZ_JOBS:-2}
work=${PL_FUZZ_WORK:-$(mktemp -d)}
mkdir -p "$work"

# Seeds per target, all from tests/data.
seeds() {
  case $1 in
    csv) echo tests/data/pytorch/*.csv ;;
    result) echo tests/data/fuzz/result/* ;;
    kineto) echo tests/data/kineto_small.json tests/data/fuzz/kineto/* ;;
    db_import) echo tests/data/fuzz/samples/* ;;
    tables) echo tests/data/fuzz/tables/* ;;
    *) return 1 ;;
  esac
}

run_one() {
  local t=$1 bin="$build/fuzz_$1"
  [ -x "$bin" ] || { echo "fuzz_$t: $bin not built (configure with -DPL_FUZZ=ON)"; return 1; }
  mkdir -p "$work/$t/corpus" "$work/$t/seeds" "$work/$t/crash"
  cp $(seeds "$t") "$work/$t/seeds/"
  # Inputs up to 64 KiB; one allocation above 256 MiB or an input slower
  # than 10 s is a finding (a small file must stay small and quick).
  "$bin" -max_total_time="$secs" -max_len=65536 -timeout=10 \
    -malloc_limit_mb=256 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$work/$t/crash/" \
    "$work/$t/corpus" "$work/$t/seeds" >"$work/$t/log" 2>&1
  local rc=$?
  local runs
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$work/$t/log" | grep -o '[0-9]*$')
  if [ $rc = 0 ]; then
    echo "fuzz_$t: ok, ${runs:-?} inputs in ${secs} s"
  else
    echo "fuzz_$t: FAILED (exit $rc); log and input in $work/$t"
    grep -m1 -E 'ERROR|runtime error|round trip|refused|samples stored' "$work/$t/log"
  fi
  return $rc
}

fail=0
pids=()
names=()
for t in "${targets[@]}"; do
  seeds "$t" >/dev/null || { echo "unknown fuzz target '$t'"; exit 2; }
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || fail=1
    pids=("${pids[@]:1}")
  fi
done
for p in "${pids[@]}"; do wait "$p" || fail=1; done
if [ $fail = 0 ] && [ -z "${PL_FUZZ_WORK:-}" ]; then
  rm -rf "$work"
fi
exit $fail
