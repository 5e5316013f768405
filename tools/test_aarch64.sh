#!/usr/bin/env bash
# Cross-builds the test suite and the embedding examples for aarch64 (NEON: Raspberry Pi 4/5, Jetson) and
# runs them under qemu-user, so that the kernels' NEON code paths are tested on an x86 machine. Bazel is
# not used: every cc_test is one file, tests/<dir>/<name>.cpp (see tests/*/BUILD), built with plain g++ as
# tools/test.sh builds the examples. One compiler at a time; qemu emulates every instruction, so the
# model tests take minutes. Extra arguments go to the compiler (e.g. -march=armv8.2-a).
set -uo pipefail
cd "$(dirname "$0")/.."
# The header-only libraries, plus the cross compiler and qemu-aarch64.
tools/ensure_deps.sh g++-aarch64-linux-gnu qemu-user || exit 1

work=$(mktemp -d /tmp/riformer-aarch64.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/include" "$work/bin" "$work/tmp"

# The headers the code includes beyond the standard library, copied out of /usr/include: passing
# -I/usr/include to the cross compiler would mix the host's glibc headers in.
cp -r /usr/include/{xsimd,xtensor,xtl,doctest,stb} "$work/include/"
sysroot=/usr/aarch64-linux-gnu  # the target's libc and libstdc++, for qemu's dynamic loader
cxx=(aarch64-linux-gnu-g++ -std=c++20 -O2 -march=armv8-a -pthread -isystem "$work/include"
     -Iinclude -Itests/support -Iexamples "$@")
# A hang under emulation would otherwise stall the whole run; the slowest test takes about 8 minutes.
run_limit=1800

passed=0
failed=0
# Builds $1.cpp, runs it from the repository root (where tests find tests/golden and the examples
# examples/data) with its own TEST_TMPDIR as under Bazel, and prints one line with the times.
check() {
  local name=$1 bin="$work/bin/${1//\//_}" start built
  local log="$bin.log"
  start=$SECONDS
  if ! "${cxx[@]}" "$name.cpp" -o "$bin" >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "$name: FAILED (does not build)"
    failed=$((failed + 1))
    return
  fi
  built=$((SECONDS - start))
  start=$SECONDS
  mkdir -p "$bin.tmp"
  local status=0
  TEST_TMPDIR="$bin.tmp" timeout "$run_limit" qemu-aarch64 -L "$sysroot" "$bin" >"$log" 2>&1 || status=$?
  local times="${built} s to build, $((SECONDS - start)) s to run under qemu"
  if ((status == 0)); then
    echo "$name: PASSED ($times)"
    passed=$((passed + 1))
  else
    tail -n 30 "$log"
    ((status == 124)) && times+=", stopped after ${run_limit} s"
    echo "$name: FAILED ($times)"
    failed=$((failed + 1))
  fi
  rm -rf "$bin.tmp"
}

# Which SIMD architecture the kernels are compiled for (xsimd's default_arch: arm64+neon for armv8-a).
printf '#include <cstdio>\n#include "riformer/core/arch.hpp"\nint main() { std::puts(riformer::arch_name()); }\n' \
  >"$work/arch.cpp"
"${cxx[@]}" "$work/arch.cpp" -o "$work/bin/arch" || exit 1
echo "aarch64: g++ $("${cxx[0]}" -dumpfullversion), $(qemu-aarch64 --version | head -n 1)," \
     "riformer::arch_name() = $(qemu-aarch64 -L "$sysroot" "$work/bin/arch")"

for source in tests/*/*_test.cpp examples/embed_backbone.cpp examples/embed_detector.cpp; do
  check "${source%.cpp}"
done

echo "tests: $passed passed, $failed failed"
((failed == 0))
