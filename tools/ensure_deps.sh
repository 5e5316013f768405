#!/usr/bin/env bash
# Installs what building and testing riformer needs, from Debian 12's
# repositories, the first time it is missing. Run by tools/run.sh and
# tools/test.sh; safe to run again (it only checks when all is there).
# Arguments are further packages to check for (tools/test_aarch64.sh's
# cross compiler and qemu).
set -euo pipefail

riformer_packages=(
  bazel-bootstrap    # Bazel 4.2.3
  g++
  libxtensor-dev     # tensors at the API edge
  libxsimd-dev       # SIMD kernels
  doctest-dev        # tests
  libstb-dev         # image reading and writing
  libbenchmark-dev   # benchmarks/
  "$@"
)

missing=()
for p in "${riformer_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "riformer: installing ${missing[*]} (first run only)" >&2
  if [[ $(id -u) -ne 0 ]]; then
    sudo=sudo
  else
    sudo=
  fi
  log=$(mktemp /tmp/riformer-apt.XXXXXX.log)
  if ! { $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
           --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    tail -n 30 "$log" >&2
    echo "riformer: apt-get failed; full log in $log" >&2
    exit 1
  fi
  echo "riformer: installed (log: $log)" >&2
fi
