#!/usr/bin/env bash
# Builds the test suite and the embedding examples with Clang instead of GCC, for the machine (-march=native),
# and runs them: users who embed the headers may build with either, and the two compile the kernels
# differently (Clang gets a shorter GEMM tile on AVX-512, see GemmTiles). Bazel is not used: tools/plain_tests.sh
# builds each test with plain clang++. Extra arguments go to the compiler (e.g. -march=haswell).
# CLANGXX picks another Clang: CLANGXX=clang++-16 tools/test_clang.sh (Debian 12 has clang-13 to clang-16;
# the one named is installed on first use, as Debian's default `clang` is).
set -uo pipefail
cd "$(dirname "$0")/.."
cxx=${CLANGXX:-clang++}
package=clang
if [[ $cxx =~ ^clang\+\+-([0-9]+)$ ]]; then
  package=clang-${BASH_REMATCH[1]}
elif [[ $cxx != clang++ ]]; then
  echo "test_clang.sh: CLANGXX must be clang++ or clang++-N (got '$cxx')" >&2
  exit 2
fi
tools/ensure_deps.sh "$package" || exit 1
tools/plain_tests.sh -- "$cxx" -std=c++20 -O2 -march=native -pthread -Iinclude -Itests/support -Iexamples "$@"
