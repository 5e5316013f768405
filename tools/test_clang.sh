#!/usr/bin/env bash
# Builds the test suite and the embedding examples with Clang instead of GCC, for the machine (-march=native),
# and runs them: users who embed the headers may build with either, and the two compile the kernels
# differently (Clang gets a shorter GEMM tile on AVX-512, see GemmTiles). Bazel is not used: tools/plain_tests.sh
# builds each test with plain clang++. Extra arguments go to the compiler (e.g. -march=haswell).
set -uo pipefail
cd "$(dirname "$0")/.."
tools/ensure_deps.sh clang || exit 1
tools/plain_tests.sh -- clang++ -std=c++20 -O2 -march=native -pthread -Iinclude -Itests/support -Iexamples "$@"
