#!/usr/bin/env bash
# Ctrl-C and the executor's watchdog, end to end. A SIGINT sent 0.5 s into a
# sweep, a run and a calibration that would each take much longer stops the
# command with exit 130 and one line on stderr, before the bound of the
# surrounding `timeout` (10 s; uninterrupted, each runs far longer): the
# run writes neither --save nor --trace, the calibration stores no row, no
# *.tmp file is left. A second SIGINT ends a command at once while it cannot
# poll the flag (here: waiting for a locked database). A SIGINT ignored by
# the parent stays ignored. `run --timeout` far below one op's time still
# finishes (a rank waiting for a computing producer is not stuck).
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
for tool in timeout sqlite3 python3; do
  command -v $tool >/dev/null || { echo "skip: $tool not found" >&2; exit 77; }
done
T=$(mktemp -d "${TMPDIR:-/tmp}/pl_sig.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
fail=0; n=0
# check NAME STATUS: save $? in a variable first when NAME holds a command
# substitution (it runs before $? is expanded)
check() { # name, status (0 = pass)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
BOUND=10 # seconds: generous; the commands below run much longer unstopped

# armed PID: prints the pid of the child of timeout PID (pipelab) once it
# catches SIGINT, i.e. has started its command: a SIGINT before that would
# meet the default action (slow start-up on a loaded machine). At most 10 s.
armed() {
  local i c m
  for i in $(seq 100); do
    c=$(cat /proc/$1/task/$1/children 2>/dev/null || pgrep -P $1)
    c=${c%% *}
    m=$(awk '/^SigCgt:/ {print $2}' /proc/${c:-none}/status 2>/dev/null)
    [ -n "$m" ] && (( 0x$m & 2 )) && { echo $c; return 0; }
    sleep 0.1
  done
  return 1
}
# interrupt <command...>: runs it in the background (cwd $T, stdout
# $T/out, stderr $T/err) under timeout, sends one SIGINT to it 0.5 s after
# it has started and returns its exit status. The SIGINT goes to pipelab
# itself: timeout would forward it twice (to the child and to its process
# group), and a second SIGINT rightly kills.
interrupt() {
  (cd "$T" && exec timeout -k 2 $BOUND "$@" >"$T/out" 2>"$T/err") &
  local pid=$! child
  child=$(armed $pid) || echo "note: no SIGINT handler seen in 10 s" >&2
  sleep 0.5
  kill -INT ${child:-$pid} 2>/dev/null
  wait $pid
}
one_line() { [ "$(wc -l <"$T/err")" = 1 ]; }
no_tmp() { [ -z "$(find "$T" -name '*.tmp')" ]; }

# ---- sweep: about a minute of points on 2 cores --------------------------
interrupt "$P" sweep --gpus 64 --microbatches 8..2048:8 --jobs 2 --all --format csv
rc=$?
[ $rc = 130 ] && one_line && grep -q "interrupted" "$T/err" && [ ! -s "$T/out" ]
st=$?
check "sweep: SIGINT exits 130 with one line and no rows (rc $rc: $(head -c 200 "$T/err"))" $st

# ---- run: minutes of ops; --save and --trace must not appear -------------
interrupt "$P" run --schedule 1f1b --stages 2 --microbatches 64 --layers 8 \
  --hidden 256 --seq 512 --warmup 5 --verify --save "$T/r.json" --trace "$T/t.json"
rc=$?
[ $rc = 130 ] && one_line && grep -q "interrupted" "$T/err"
st=$?
check "run: SIGINT exits 130 with one line (rc $rc: $(head -c 200 "$T/err"))" $st
[ ! -e "$T/r.json" ] && [ ! -e "$T/t.json" ] && no_tmp
check "run: interrupted, writes no result, no trace, no *.tmp" $?

# ---- calibrate --db: no calibration, sample or link row ------------------
"$P" db init --db "$T/c.db" >/dev/null 2>&1
count() {
  sqlite3 "$T/c.db" "SELECT (SELECT count(*) FROM calibrations) || ' ' ||
    (SELECT count(*) FROM samples) || ' ' || (SELECT count(*) FROM p2p_links)"
}
before=$(count)
interrupt "$P" calibrate --hidden 256 --seq 256 --reps 100000 --db "$T/c.db"
rc=$?
[ $rc = 130 ] && one_line && grep -q "interrupted" "$T/err"
st=$?
check "calibrate: SIGINT exits 130 with one line (rc $rc: $(head -c 200 "$T/err"))" $st
after=$(count)
[ -n "$before" ] && [ "$before" = "$after" ] && no_tmp
check "calibrate: nothing stored (calibrations samples links $before -> $after), no *.tmp" $?

# ---- a second SIGINT kills at once ---------------------------------------
# calibrate measures (a fraction of a second), prints its table, then waits
# up to 5 s for the database that another process holds locked: a wait in
# SQLite that cannot poll the flag. The first SIGINT leaves it waiting with
# SIGINT back at its default action; the second ends it by the signal.
"$P" calibrate --reps 2 --warmup 0 --db "$T/l.db" >/dev/null 2>&1
mkfifo "$T/hold"
sqlite3 "$T/l.db" <"$T/hold" >/dev/null 2>&1 &
holder=$!
exec 9>"$T/hold"
echo 'BEGIN EXCLUSIVE;' >&9 # held until fd 9 closes
v=$(timeout -k 2 30 python3 - "$P" "$T/l.db" <<'EOF'
import os, pty, signal, subprocess, sys, time
pipelab, db = sys.argv[1], sys.argv[2]
def caught(pid):  # is SIGINT (bit 1) in the caught-signal mask?
    for line in open("/proc/%d/status" % pid):
        if line.startswith("SigCgt:"):
            return (int(line.split()[1], 16) >> (signal.SIGINT - 1)) & 1
    return -1
master, slave = pty.openpty()  # a TTY: the table is flushed line by line
p = subprocess.Popen([pipelab, "calibrate", "--reps", "2", "--warmup", "0",
                      "--db", db], stdout=slave, stderr=subprocess.DEVNULL)
os.close(slave)
seen, deadline = b"", time.time() + 20
while b"p2p message" not in seen and time.time() < deadline:
    try:
        seen += os.read(master, 4096)
    except OSError:
        break
time.sleep(0.3)  # now in the lock wait
before = caught(p.pid)
p.send_signal(signal.SIGINT)
time.sleep(0.3)
alive = p.poll() is None
after = caught(p.pid) if alive else -1
p.send_signal(signal.SIGINT)
print(before, alive, after, p.wait(10))
EOF
)
exec 9>&-
wait $holder
[ "$v" = "1 True 0 -2" ]
check "second SIGINT: first leaves SIGINT at its default, second kills (caught, alive, caught, status: $v)" $?
[ "$(sqlite3 "$T/l.db" 'SELECT count(*) FROM calibrations')" = 1 ]
check "second SIGINT: the locked store added no calibration" $?

# ---- an inherited SIG_IGN stays ignored ----------------------------------
v=$(timeout -k 2 60 python3 - "$P" <<'EOF'
import signal, subprocess, sys, time
p = subprocess.Popen([sys.argv[1], "sweep", "--gpus", "64", "--microbatches",
                      "8..256:8", "--schedules", "1f1b,zb-h1,interleaved",
                      "--jobs", "2"],
                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                     preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                      signal.SIG_IGN))
time.sleep(0.2)
p.send_signal(signal.SIGINT)
print(p.wait(50))
EOF
)
[ "$v" = 0 ]
check "sweep with SIGINT ignored by its parent runs to the end (status $v)" $?

# ---- the watchdog waits for a computing producer -------------------------
# One F of hidden 256, seq 512 takes tens of milliseconds; rank 1 waits for
# rank 0's first activation far longer than --timeout 0.005 s.
timeout -k 2 120 "$P" run --schedule gpipe --stages 2 --microbatches 2 --layers 2 \
  --hidden 256 --seq 512 --warmup 0 --timeout 0.005 --format json >"$T/out" 2>"$T/err"
rc=$?
v=$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["ranks"][1]["first_start"] > 5000)' "$T/out" 2>/dev/null)
[ $rc = 0 ] && [ "$v" = True ]
check "run --timeout 0.005 with a slow producer finishes (rc $rc, rank 1 waited > 5 ms: $v)" $?

echo "$((n-fail))/$n passed"
[ $fail = 0 ]
