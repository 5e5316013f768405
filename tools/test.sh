#!/usr/bin/env bash
# Builds and runs every test: the Bazel doctest suite, then a plain-g++ build of
# the embedding example (users without Bazel include the headers directly).
# Extra arguments go to `bazel test` (e.g. --config=avx2).
set -uo pipefail
cd "$(dirname "$0")/.."
tools/ensure_deps.sh || exit 1

log=$(mktemp)
trap 'rm -rf "$log" "${plain:-}"' EXIT
bazel test //... "$@" 2>&1 | tee "$log"
bazel_status=${PIPESTATUS[0]}
passed=$(grep -cE '^//[^ ]+ +(\(cached\) )?PASSED' "$log" || true)
failed=$(grep -cE '^//[^ ]+ +(\(cached\) )?(FAILED|TIMEOUT|NO STATUS|FLAKY)' "$log" || true)
((bazel_status != 0 && failed == 0)) && failed=1  # the build itself failed

plain=$(mktemp -d)
if g++ -std=c++20 -O2 -march=native -Iinclude examples/embed_backbone.cpp -o "$plain/embed_backbone" -pthread &&
   "$plain/embed_backbone" >"$plain/log"; then
  echo "plain g++ build and run of examples/embed_backbone.cpp: PASSED"
  passed=$((passed + 1))
else
  echo "plain g++ build and run of examples/embed_backbone.cpp: FAILED"
  failed=$((failed + 1))
fi

echo "tests: $passed passed, $failed failed"
((failed == 0))
