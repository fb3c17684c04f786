#!/usr/bin/env bash
# Installs the Debian 12 packages pipelab needs, only those that are missing.
# CUDA + NCCL are optional and detected at configure time (not installed here);
# Open MPI is installed so that CI builds and tests the MPI transport
# (tests/cli/test_mpi.sh), which is optional at configure time too.
set -euo pipefail
pkgs=(build-essential cmake pkg-config git libsqlite3-dev sqlite3 libjansson-dev
      libcmocka-dev libopenblas-dev gnuplot-nox python3 jq
      libopenmpi-dev openmpi-bin)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "pipelab: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
