#!/usr/bin/env bash
# The library as an installed product, used from outside the tree:
# `cmake --install` of the build tree into a temporary prefix, then
#   - the layout: tool, static and shared library, headers, pipelab.pc,
#     pipelabConfig.cmake + version file, the Python module;
#   - the executor's plugins under <libdir>/pipelab/plugins, listed by the
#     installed `pipelab --version`; the installed tool links no CUDA and
#     no MPI library and runs --transport mpi through the installed plugin;
#   - the installed headers test no build option (PL_HAVE_*);
#   - the shared library exports exactly the functions the public headers
#     declare (pl_*, no library-internal pl__*);
#   - tests/consumer built with CMake (find_package(pipelab), shared and
#     static) and with pkg-config + cc (shared and --static), each run: 1F1B
#     p=4 m=8 at unit costs has makespan 33;
#   - the tree moved elsewhere still works (pkg-config and Python find
#     everything relative to themselves);
#   - python3 -c "import pipelab; ...simulate(...)['makespan']" prints 33.0
#     with only PYTHONPATH set, as the README shows.
# Environment (set by ctest): PL_BUILD_DIR, PL_SOURCE_DIR, PL_CMAKE, PL_CC,
# PL_SANITIZE (comma-separated, as the library was built), PL_PYTHONDIR.
set -euo pipefail
: "${PL_BUILD_DIR:?}" "${PL_SOURCE_DIR:?}"
CMAKE=${PL_CMAKE:-cmake}
CC=${PL_CC:-cc}
PYDIR=${PL_PYTHONDIR:-lib/python3/dist-packages}
command -v pkg-config >/dev/null || { echo "skip: pkg-config not found" >&2; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

san_flags=()
if [ -n "${PL_SANITIZE:-}" ]; then
  san_flags=("-fsanitize=${PL_SANITIZE//;/,}" -fno-sanitize-recover=all -fno-omit-frame-pointer)
fi

P=$tmp/prefix
"$CMAKE" --install "$PL_BUILD_DIR" --prefix "$P" >"$tmp/install.log" ||
  { cat "$tmp/install.log"; fail "cmake --install"; }

# ---- layout
pc=$(find "$P" -name pipelab.pc)
[ -n "$pc" ] || fail "no pipelab.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in "$P/bin/pipelab" "$libdir/libpipelab.a" "$libdir/libpipelab.so" \
         "$libdir/cmake/pipelab/pipelabConfig.cmake" \
         "$libdir/cmake/pipelab/pipelabConfigVersion.cmake" \
         "$P/include/pipelab/pipelab.h" "$P/include/pipelab/api.h" \
         "$P/$PYDIR/pipelab/__init__.py" "$P/$PYDIR/pipelab/_install.py"; do
  [ -e "$f" ] || fail "missing after install: ${f#"$P"/}"
done
for h in "$PL_SOURCE_DIR"/include/pipelab/*.h; do
  cmp -s "$h" "$P/include/pipelab/$(basename "$h")" ||
    fail "installed header differs: $(basename "$h")"
done
echo "ok: layout ($(cd "$P" && find . -type f | wc -l) files)"

# ---- plugins: every module of the build tree installed under
# <libdir>/pipelab/plugins, found by the installed tool, which links no CUDA
# and no MPI library
"$P/bin/pipelab" --version >"$tmp/version"
for f in "$PL_BUILD_DIR"/plugins/libpipelab-*.so; do
  [ -e "$f" ] || continue
  inst=$libdir/pipelab/plugins/$(basename "$f")
  [ -e "$inst" ] || fail "plugin not installed: ${inst#"$P"/}"
  name=$(basename "$f" .so); name=${name#libpipelab-}
  grep -qE "^  $name +(backend|transport) +$inst \(" "$tmp/version" ||
    { cat "$tmp/version"; fail "installed --version does not list $inst"; }
  echo "ok: plugin $name installed and listed"
done
if ldd "$P/bin/pipelab" | grep -E 'lib(cuda|cudart|cublas|nccl|mpi|open-rte|open-pal)\.so'; then
  fail "the installed pipelab links a CUDA or MPI library"
fi
echo "ok: the installed tool links no CUDA and no MPI library"
if [ -e "$libdir/pipelab/plugins/libpipelab-mpi.so" ]; then
  ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" "$P/bin/pipelab" run --schedule 1f1b --stages 2 --microbatches 2 \
    --hidden 8 --seq 3 --mb-size 2 --transport mpi --verify >"$tmp/mpi.out" 2>&1 ||
    { cat "$tmp/mpi.out"; fail "installed pipelab run --transport mpi"; }
  echo "ok: installed pipelab run --transport mpi (the installed plugin)"
fi

# ---- headers: no build option decides what they declare
if grep -nE '^[[:space:]]*#[[:space:]]*(if|ifdef|ifndef|elif)\b.*PL_(HAVE|WITH)_' \
     "$P"/include/pipelab/*.h; then
  fail "an installed header depends on a build option"
fi
echo "ok: headers independent of build options"

# ---- exported symbols = the public API
nm -D --defined-only "$libdir/libpipelab.so" | awk '{print $3}' |
  grep -vE '^(_init|_fini)$' | sort >"$tmp/exported"
sort "$PL_BUILD_DIR/generated/pipelab.symbols" >"$tmp/declared"
if grep -vE '^pl_[a-z0-9]' "$tmp/exported"; then
  fail "the shared library exports names outside the public pl_ API (above)"
fi
comm -23 "$tmp/exported" "$tmp/declared" >"$tmp/extra"
[ ! -s "$tmp/extra" ] || { cat "$tmp/extra"; fail "exported but not declared in include/pipelab"; }
comm -13 "$tmp/exported" "$tmp/declared" >"$tmp/missing"
[ ! -s "$tmp/missing" ] || { cat "$tmp/missing"; fail "declared but not exported"; }
grep -qx pl_api_call "$tmp/exported" || fail "pl_api_call not exported"
echo "ok: $(wc -l <"$tmp/exported") exported symbols, all declared in include/pipelab"

run_consumer() { # name binary
  "$2" >"$tmp/$1.out" 2>&1 || { cat "$tmp/$1.out"; fail "$1: consumer failed"; }
  grep -q "makespan 33," "$tmp/$1.out" || { cat "$tmp/$1.out"; fail "$1: no makespan 33"; }
  echo "ok: $1: $(head -1 "$tmp/$1.out")"
}

# ---- CMake consumer, shared and static
src=$PL_SOURCE_DIR/tests/consumer
for kind in shared static; do
  b=$tmp/cmake-$kind
  "$CMAKE" -S "$src" -B "$b" -DCMAKE_PREFIX_PATH="$P" \
    -DPIPELAB_STATIC=$([ $kind = static ] && echo ON || echo OFF) \
    -DCMAKE_C_FLAGS="${san_flags[*]:-}" -DCMAKE_EXE_LINKER_FLAGS="${san_flags[*]:-}" \
    >"$b.log" 2>&1 || { cat "$b.log"; fail "cmake configure ($kind consumer)"; }
  "$CMAKE" --build "$b" >>"$b.log" 2>&1 || { cat "$b.log"; fail "cmake build ($kind consumer)"; }
  run_consumer "cmake-$kind" "$b/consumer"
done
# (into a file: under pipefail, grep -q ending first would fail ldd with SIGPIPE)
ldd "$tmp/cmake-shared/consumer" >"$tmp/consumer.ldd"
grep -q "$libdir/libpipelab.so" "$tmp/consumer.ldd" ||
  fail "the CMake consumer does not use the installed libpipelab.so"

# ---- pkg-config consumer, shared and static
export PKG_CONFIG_PATH=$libdir/pkgconfig
v=$(awk '{print $2; exit}' "$tmp/version")
[ "$(pkg-config --modversion pipelab)" = "$v" ] ||
  fail "pkg-config says version $(pkg-config --modversion pipelab), the tool $v"
# shellcheck disable=SC2046
"$CC" -std=c11 "${san_flags[@]}" "$src/main.c" -o "$tmp/pc-shared" \
  $(pkg-config --cflags --libs pipelab) -lm -Wl,-rpath,"$libdir" ||
  fail "cc with pkg-config (shared)"
run_consumer pkgconfig-shared "$tmp/pc-shared"
# shellcheck disable=SC2046
"$CC" -std=c11 "${san_flags[@]}" "$src/main.c" -o "$tmp/pc-static" \
  $(pkg-config --cflags pipelab) \
  $(pkg-config --static --libs pipelab | sed 's/-lpipelab\b/-l:libpipelab.a/') ||
  fail "cc with pkg-config --static"
run_consumer pkgconfig-static "$tmp/pc-static"
if ldd "$tmp/pc-static" | grep -q libpipelab; then
  fail "the static consumer loads libpipelab.so"
fi

# ---- the tree moved: pkg-config and Python find everything from their place
mv "$P" "$tmp/moved"
P=$tmp/moved
libdir=$P/${libdir#"$tmp/prefix/"}
export PKG_CONFIG_PATH=$libdir/pkgconfig
[ "$(pkg-config --variable=libdir pipelab)" -ef "$libdir" ] ||
  fail "pipelab.pc: libdir $(pkg-config --variable=libdir pipelab) is not $libdir"
# shellcheck disable=SC2046
"$CC" -std=c11 "${san_flags[@]}" "$src/main.c" -o "$tmp/pc-moved" \
  $(pkg-config --cflags --libs pipelab) -lm -Wl,-rpath,"$libdir" ||
  fail "cc with pkg-config after moving the tree"
run_consumer pkgconfig-moved "$tmp/pc-moved"
# The moved tool finds its plugins relative to itself.
"$P/bin/pipelab" --version >"$tmp/version"
for f in "$libdir"/pipelab/plugins/libpipelab-*.so; do
  [ -e "$f" ] || continue
  grep -qF " $f (" "$tmp/version" ||
    fail "after moving the tree, --version does not list $f"
  echo "ok: moved tree: $(basename "$f") found"
done

# ---- Python from the installed tree, the README's check
if command -v python3 >/dev/null; then
  py_env=(env -u PIPELAB_LIB PYTHONPATH="$P/$PYDIR" PYTHONDONTWRITEBYTECODE=1)
  if [[ "${PL_SANITIZE:-}" == *address* ]]; then
    py_env+=(LD_PRELOAD="$("$CC" -print-file-name=libasan.so)" ASAN_OPTIONS=detect_leaks=0)
  fi
  out=$(cd "$tmp" && "${py_env[@]}" python3 -c "import pipelab; print(pipelab.simulate(schedule='1f1b', stages=4, microbatches=8)['makespan'])")
  [ "$out" = "33.0" ] || fail "python3 -c ...['makespan'] printed '$out', not 33.0"
  lib=$(cd "$tmp" && "${py_env[@]}" python3 -c "import pipelab; print(pipelab.library_path())")
  case "$lib" in
    "$libdir"/libpipelab.so*) ;;
    *) fail "the installed module loaded '$lib', not the installed library" ;;
  esac
  echo "ok: python3 from the installed tree prints $out (library $lib)"
else
  echo "note: python3 not found; the Python check is skipped"
fi
echo "install: all checks passed"
