#!/usr/bin/env bash
# One damaged database file, one message: every command that reads the
# database (db check / list / show / export / init, history, simulate and
# whatif with --model) reports the same damaged file with the same single
# stderr line and the same exit code, and leaves the file untouched. Table
# driven: each damaged file below is run through each command below.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
command -v python3 >/dev/null || { echo "skip: python3 not found" >&2; exit 77; }
T=$(mktemp -d /tmp/pl_cli_dberr_XXXXXX)
trap 'rm -rf "$T"' EXIT
fail=0; n=0
check() { # name, status (0 = ok)
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
unset PIPELAB_DB XDG_DATA_HOME

# A healthy database with two runs in it.
"$P" db init --db "$T/good.db" >/dev/null || { echo "FAIL: db init"; exit 1; }
"$P" simulate --schedule 1f1b --stages 2 --microbatches 4 --record --db "$T/good.db" >/dev/null 2>&1
"$P" simulate --schedule gpipe --stages 2 --microbatches 4 --record --db "$T/good.db" >/dev/null 2>&1
[ "$("$P" history --db "$T/good.db" --format csv | tail -n +2 | wc -l)" = 2 ]
check "the healthy database holds two runs" $?

# damage <name> <how>: writes $T/<name>.db from good.db.
damage() {
  python3 - "$T/good.db" "$T/$1.db" "$2" <<'PY'
import shutil, sqlite3, sys
src, dst, how = sys.argv[1:]
c = sqlite3.connect(src)
c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
size = c.execute("PRAGMA page_size").fetchone()[0]
pages = c.execute("PRAGMA page_count").fetchone()[0]
roots = dict(c.execute("SELECT name, rootpage FROM sqlite_master WHERE type = 'table'"))
c.close()
if how == "text":           # not a database at all
    open(dst, "w").write("name,value\n" * 400)
    sys.exit(0)
shutil.copy(src, dst)
with open(dst, "r+b") as f:
    if how == "header":     # SQLite's magic kept, page size made invalid
        f.seek(16); f.write(b"\x00\x03")
    elif how == "tables":   # the catalog and run tables' root pages zeroed
        for t in ("gpus", "models", "runs"):
            f.seek((roots[t] - 1) * size); f.write(bytes(size))
    elif how == "all":      # every page but the first zeroed
        f.seek(size); f.write(bytes(size * (pages - 1)))
PY
}

files="text header tables all"
cmds=(
  "db check"
  "db list gpus"
  "db list models"
  "db show h100"
  "db init"
  "history"
  "history --schedule 1f1b --stages 2"
  "simulate --schedule 1f1b --stages 2 --microbatches 4 --model gpt3-1.3b --gpu h100"
  "whatif --stages 2 --microbatches 4 --model gpt3-1.3b --gpu h100"
)
for f in $files; do
  damage "$f" "$f" || { check "damage $f" 1; continue; }
  cp "$T/$f.db" "$T/$f.orig"
  first=""
  for c in "${cmds[@]}"; do
    # shellcheck disable=SC2086
    "$P" $c --db "$T/$f.db" >"$T/out" 2>"$T/err"; rc=$?
    [ $rc = 3 ]; check "$f: '$c' exits 3 (got $rc)" $?
    [ "$(wc -l <"$T/err")" = 1 ]; check "$f: '$c' prints one stderr line" $?
    grep -q "^error: cannot read database '$T/$f.db': not a SQLite database or corrupt (.*); file left untouched$" "$T/err"
    check "$f: '$c' names the file and says it is damaged" $?
    [ ! -s "$T/out" ]; check "$f: '$c' prints nothing on stdout" $?
    if [ -z "$first" ]; then
      first=$(cat "$T/err")
    else
      [ "$(cat "$T/err")" = "$first" ]
      check "$f: '$c' gives the same message as '${cmds[0]}'" $?
    fi
    cmp -s "$T/$f.db" "$T/$f.orig"; check "$f: '$c' leaves the file untouched" $?
  done
done

echo "$n checks, $fail failed"
[ $fail = 0 ]
