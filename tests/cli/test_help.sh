#!/usr/bin/env bash
# Every command's --help (and `pipelab --help`, `pipelab sweep merge
# --help`) ends with an "examples:" section of 2-3 `pipelab ...` lines, and
# every example runs as written from the repository root (here a temporary
# directory with examples/ linked in and a temporary database): exit 0, or
# the code its "# exit N" comment names. Also: each help lists only the
# shared flags its command takes.
set -u
P=${PIPELAB:?set PIPELAB to the pipelab binary}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
fail=0; n=0
check() { # name, condition result
  n=$((n+1))
  if [ "$2" != 0 ]; then echo "FAIL: $1"; fail=$((fail+1)); else echo "ok: $1"; fi
}
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
mkdir -p "$T/root" "$T/xdg"
ln -s "$ROOT/examples" "$T/root/examples"
export PIPELAB_DB="$T/help.db" XDG_DATA_HOME="$T/xdg" NO_COLOR=1

cmds=$("$P" --help | sed -n '/^commands:/,/^$/p' | awk 'NF>1 {print $1}')
[ "$(echo "$cmds" | wc -w)" -ge 13 ]; check "pipelab --help lists the commands ($(echo $cmds))" $?
have_gnuplot=1; command -v gnuplot >/dev/null 2>&1 || have_gnuplot=0

# The help texts: the tool's, each command's and sweep merge's.
helps="main"
for c in $cmds; do helps="$helps $c"; done
helps="$helps sweep-merge"
cd "$T/root" || exit 1
for h in $helps; do
  case $h in
    main) text=$("$P" --help) ;;
    sweep-merge) text=$("$P" sweep merge --help) ;;
    *) text=$("$P" "$h" --help) ;;
  esac
  ex=$(printf '%s\n' "$text" | sed -n '/^examples:$/,$p' | tail -n +2)
  k=$(printf '%s\n' "$ex" | grep -c '^  pipelab ')
  last=$(printf '%s\n' "$text" | tail -1)
  [ "$k" -ge 2 ] && [ "$k" -le 3 ] && [ "$(printf '%s\n' "$ex" | grep -vc '^  pipelab ')" = 0 ] &&
    printf '%s' "$last" | grep -q '^  pipelab '
  check "$h --help ends with 2-3 examples ($k)" $?
  while IFS= read -r line; do
    case "$line" in "  pipelab "*) ;; *) continue ;; esac
    want=0
    case "$line" in *"# exit "*) want=${line##*# exit }; want=${want%% *} ;; esac
    c=${line#  pipelab }
    if [ $have_gnuplot = 0 ] && [ "${c%% *}" = plot ]; then
      echo "skip (no gnuplot): $line"; continue
    fi
    out=$(eval "\"\$P\" $c" 2>&1 </dev/null); rc=$?
    check "$h example exits $want (rc $rc): pipelab $c" $([ "$rc" = "$want" ]; echo $?)
    [ "$rc" = "$want" ] || printf '%s\n' "$out" | tail -3
  done <<<"$ex"
done

# Each help lists only the shared flags its command takes.
no_flag() { # command, flag: the help does not list it
  ! "$P" $1 --help | grep -qE "^  $2( |$)"
}
has_flag() { "$P" $1 --help | grep -qE "^  $2( |$)"; }
no_flag whatif --schedule; check "whatif --help has no --schedule" $?
no_flag whatif --schedule-file; check "whatif --help has no --schedule-file" $?
no_flag whatif --rank-speed; check "whatif --help has no --rank-speed" $?
has_flag whatif --preset; check "whatif --help lists --preset" $?
has_flag whatif --mem-limit; check "whatif --help lists --mem-limit" $?
no_flag validate --optimizer-time; check "validate --help has no --optimizer-time" $?
no_flag validate --rank-speed; check "validate --help has no --rank-speed" $?
has_flag validate --p2p; check "validate --help lists --p2p" $?
no_flag run --p2p; check "run --help has no --p2p" $?
no_flag run --rank-speed; check "run --help has no --rank-speed" $?
no_flag convert --time-unit; check "convert --help has no --time-unit" $?
has_flag simulate --rank-speed; check "simulate --help lists --rank-speed" $?

echo "$((n-fail)) passed, $fail failed"
[ $fail = 0 ]
