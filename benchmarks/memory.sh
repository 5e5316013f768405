#!/usr/bin/env bash
# Peak resident memory of `riformer detect` at 640x640 against the size of its
# weights (a synthetic checkpoint of the same layout as a trained one).
#
#   benchmarks/memory.sh [ARCH] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${1:-s12}
threads=${2:-1}
bazel build //examples:riformer //benchmarks:synthetic_checkpoint >&2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
bazel-bin/benchmarks/synthetic_checkpoint "$arch" 80 "$dir/weights.safetensors" >&2
weights=$(stat -c %s "$dir/weights.safetensors")
/usr/bin/time -f "%M" -o "$dir/rss" bazel-bin/examples/riformer detect --weights "$dir/weights.safetensors" \
  --source examples/data/street.jpg --out "$dir/out" --threads "$threads" --max-det 10 >/dev/null 2>&1
rss_kb=$(cat "$dir/rss")
awk -v w="$weights" -v r="$rss_kb" -v a="$arch" -v t="$threads" 'BEGIN {
  printf "%s detect at 640x640, %d thread(s): peak RSS %.1f MB, weights %.1f MB, RSS - weights %.1f MB\n",
         a, t, r / 1024, w / 1048576, r / 1024 - w / 1048576 }'
