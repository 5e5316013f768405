#!/usr/bin/env bash
# Builds and runs every test: the Bazel doctest suite, then a plain-g++ build of
# the embedding example (users without Bazel include the headers directly).
# Extra arguments go to `bazel test` (e.g. --config=avx2); RIFORMER_TEST_TARGETS, if set, names the Bazel
# targets instead of //... (tools/test_sanitizers.sh).
set -uo pipefail
cd "$(dirname "$0")/.."
tools/ensure_deps.sh || exit 1

log=$(mktemp)
trap 'rm -rf "$log" "${plain:-}"' EXIT
read -r -a targets <<<"${RIFORMER_TEST_TARGETS:-//...}"
bazel test "${targets[@]}" "$@" 2>&1 | tee "$log"
bazel_status=${PIPESTATUS[0]}
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FLAKY)' "$log" || true)
((bazel_status != 0 && failed == 0)) && failed=1  # the build itself failed

# Users without Bazel: the embedding examples with plain g++, then run. They are
# built for this machine whatever the arguments say, so a run with --config
# (CI's AVX2 and SSE runs) would only repeat the run without one.
plain=$(mktemp -d)
examples=(embed_backbone embed_detector)
if [[ " $* " == *" --config"* ]]; then
  echo "plain g++ builds of the examples: skipped with --config (they are built for this machine; run without it)"
  examples=()
fi
for example in "${examples[@]}"; do
  if g++ -std=c++20 -O2 -march=native -Iinclude "examples/$example.cpp" -o "$plain/$example" -pthread &&
     "$plain/$example" >"$plain/$example.log"; then
    echo "plain g++ build and run of examples/$example.cpp: PASSED"
    passed=$((passed + 1))
  else
    echo "plain g++ build and run of examples/$example.cpp: FAILED"
    failed=$((failed + 1))
  fi
done

echo "tests: $passed passed, $failed failed"
((failed == 0))
