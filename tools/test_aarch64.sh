#!/usr/bin/env bash
# Cross-builds the test suite and the embedding examples for aarch64 (NEON: Raspberry Pi 4/5, Jetson) and
# runs them under qemu-user, so that the kernels' NEON code paths are tested on an x86 machine. Bazel is
# not used (tools/plain_tests.sh builds each test with plain g++, as tools/test.sh builds the examples).
# qemu emulates every instruction, so the model tests take minutes. Extra arguments go to the compiler
# (e.g. -march=armv8.2-a).
set -uo pipefail
cd "$(dirname "$0")/.."
# The header-only libraries, plus the cross compiler and qemu-aarch64.
tools/ensure_deps.sh g++-aarch64-linux-gnu qemu-user || exit 1

include=$(mktemp -d /tmp/riformer-aarch64.XXXXXX)
trap 'rm -rf "$include"' EXIT
# The headers the code includes beyond the standard library, copied out of /usr/include: passing
# -I/usr/include to the cross compiler would mix the host's glibc headers in.
cp -r /usr/include/{xsimd,xtensor,xtl,doctest,stb} "$include/"
sysroot=/usr/aarch64-linux-gnu  # the target's libc and libstdc++, for qemu's dynamic loader
# The slowest test takes about 8 minutes under emulation.
tools/plain_tests.sh --runner "qemu-aarch64 -L $sysroot" --run-limit 1800 -- \
  aarch64-linux-gnu-g++ -std=c++20 -O2 -march=armv8-a -pthread -isystem "$include" \
  -Iinclude -Itests/support -Iexamples "$@"
