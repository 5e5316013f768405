#!/usr/bin/env bash
# Builds every test and both embedding examples with a compiler command of the caller's, without Bazel, and
# runs each: every cc_test is one file, tests/<dir>/<name>.cpp (see tests/*/BUILD), linked with doctest's
# main() (tests/support/doctest_main.cpp, built once). Used by tools/test_aarch64.sh (a cross compiler, run
# under qemu) and tools/test_clang.sh (Clang, run natively).
#
#   tools/plain_tests.sh [--runner "COMMAND ..."] [--run-limit SECONDS] -- COMPILER [FLAGS ...]
#
# Include paths are the caller's. Builds and runs as many programs at a time as there are cores. Prints one
# PASSED/FAILED line per program, in order, then "tests: N passed, M failed"; exits 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.."

runner=()
run_limit=600  # a hang would otherwise stall the whole run
while (($#)); do
  case $1 in
    --runner) read -r -a runner <<<"$2"; shift 2 ;;
    --run-limit) run_limit=$2; shift 2 ;;
    --) shift; break ;;
    *) echo "plain_tests.sh: unknown argument $1 (the compiler command goes after --)" >&2; exit 2 ;;
  esac
done
(($#)) || { echo "plain_tests.sh: no compiler command after --" >&2; exit 2; }
cxx=("$@")

work=$(mktemp -d /tmp/riformer-plain-tests.XXXXXX)
trap 'rm -rf "$work"' EXIT

# Which SIMD architecture the kernels are compiled for (xsimd's default_arch).
printf '#include <cstdio>\n#include "riformer/core/arch.hpp"\nint main() { std::puts(riformer::arch_name()); }\n' \
  >"$work/arch.cpp"
"${cxx[@]}" "$work/arch.cpp" -o "$work/arch" || exit 1
echo "compiler: ${cxx[*]}"
echo "compiler version: $("${cxx[0]}" --version | head -n 1); riformer::arch_name() = $("${runner[@]}" "$work/arch")"

# doctest's main(), compiled once and linked into every test (as Bazel's //tests/support does).
"${cxx[@]}" -c tests/support/doctest_main.cpp -o "$work/doctest_main.o" || exit 1

# Builds $1.cpp, runs it from the repository root (where tests find tests/golden and the examples
# examples/data) with its own TEST_TMPDIR as under Bazel, and prints one line with the times.
check() {
  local name=$1 bin="$work/${1//\//_}" start built objects=()
  local log="$bin.log"
  [[ $name == tests/* ]] && objects=("$work/doctest_main.o")
  start=$SECONDS
  if ! "${cxx[@]}" "$name.cpp" "${objects[@]}" -o "$bin" >"$log" 2>&1; then
    tail -n 30 "$log"
    echo "$name: FAILED (does not build)"
    return
  fi
  built=$((SECONDS - start))
  start=$SECONDS
  mkdir -p "$bin.tmp"
  local status=0
  TEST_TMPDIR="$bin.tmp" timeout "$run_limit" "${runner[@]}" "$bin" >"$log" 2>&1 || status=$?
  local times="${built} s to build, $((SECONDS - start)) s to run"
  if ((status == 0)); then
    echo "$name: PASSED ($times)"
  else
    tail -n 30 "$log"
    ((status == 124)) && times+=", stopped after ${run_limit} s"
    echo "$name: FAILED ($times)"
  fi
  rm -rf "$bin" "$bin.tmp"
}

sources=(tests/*/*_test.cpp examples/embed_backbone.cpp examples/embed_detector.cpp)
printed=0
# Prints the results finished so far, in the order of `sources`.
print_finished() {
  while ((printed < ${#sources[@]})) && [[ -e "$work/done.$printed" ]]; do
    cat "$work/result.$printed"
    printed=$((printed + 1))
  done
}
for i in "${!sources[@]}"; do
  while (($(jobs -rp | wc -l) >= $(nproc))); do
    wait -n
    print_finished
  done
  { check "${sources[i]%.cpp}" >"$work/result.$i" 2>&1; touch "$work/done.$i"; } &
done
wait
print_finished
passed=$(cat "$work"/result.* | grep -c ': PASSED (')
failed=$((${#sources[@]} - passed))
echo "tests: $passed passed, $failed failed"
((failed == 0))
