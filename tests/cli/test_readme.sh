#!/usr/bin/env bash
# Replays every command of the README's sh blocks (the `$B ...` lines with
# their continuations, `B=` and `export` lines), in order, in one shell, as
# from the repository root: a temporary directory with examples/ and tests/
# linked in (so nothing is written into the checkout) and a temporary
# database. Fails when a command exits non-zero, and checks what the README
# promises about two of them. The set-up commands (scripts/main.sh,
# scripts/test.sh) install packages and build: they are not replayed.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fail=0; n=0
check() { # name, condition result
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/root/docs/img" "$T/xdg"
ln -s "$ROOT/examples" "$T/root/examples"
ln -s "$ROOT/tests" "$T/root/tests"
export PIPELAB_DB="$T/readme.db" XDG_DATA_HOME="$T/xdg" NO_COLOR=1

# The commands, one per line (continuations joined).
python3 - "$ROOT/README.md" >"$T/cmds" <<'PY'
import sys
lines, out, block, cur = open(sys.argv[1]).read().split("\n"), [], False, None
for l in lines:
    if l.startswith("```"):
        block = (l.strip() == "```sh") if not block else False
        continue
    if not block:
        continue
    if cur is not None:
        cur += " " + l.strip()
    elif l.startswith(("$B ", "B=", "export ")):
        cur = l
    else:
        continue
    if cur.endswith("\\"):
        cur = cur[:-1].rstrip()
    else:
        out.append(cur)
        cur = None
print("\n".join(out))
PY
cmds=$(grep -c . "$T/cmds")
[ "$cmds" -ge 40 ]; check "README has its commands ($cmds found)" $?

have_gnuplot=1; command -v gnuplot >/dev/null 2>&1 || have_gnuplot=0
cd "$T/root" || exit 1
i=0
while IFS= read -r c; do
  i=$((i+1))
  case "$c" in
    B=*) B=$P; continue ;;               # the README's ./build/pipelab
    export\ *) eval "$c"; continue ;;
  esac
  if [ $have_gnuplot = 0 ] && printf '%s' "$c" | grep -q '\$B plot '; then
    echo "skip (no gnuplot): $c"; continue
  fi
  out=$(eval "$c" 2>&1 </dev/null); rc=$?
  check "README command $i exits 0 (rc $rc): $c" $rc
  [ $rc = 0 ] || printf '%s\n' "$out" | tail -3
  case "$c" in
    *"whatif --model llama3-70b"*)
      # The 70B example fits: every schedule's row says yes.
      rows=$(printf '%s\n' "$out" | grep -cE ' (yes|NO) +[0-9.]+x$')
      no=$(printf '%s\n' "$out" | grep -cE ' NO +[0-9.]+x$')
      [ "$rows" -ge 10 ] && [ "$no" = 0 ]
      check "the 70B example fits in HBM on every schedule ($no of $rows do not)" $? ;;
    "\$B whatif")
      printf '%s\n' "$out" | grep -q "^preset zb-1.5b" &&
        printf '%s\n' "$out" | grep -q "F=18522 B=18086 W=9337 comm=601 us"
      check "whatif without options says it runs the preset zb-1.5b" $? ;;
  esac
done <"$T/cmds"
[ -s real.json ] && [ -s pred.json ] && [ -s t.json ]; check "the trace section wrote its files" $?

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
