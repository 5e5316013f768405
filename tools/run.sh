#!/usr/bin/env bash
# The main job: builds the riformer command-line tool and runs it. With no
# arguments it runs the backbone demo; otherwise the arguments go to the tool,
# e.g. tools/run.sh backbone --weights w.safetensors --imgsz 640.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/ensure_deps.sh
bazel build //examples:riformer >&2
if (($# == 0)); then
  # The main job: detect objects in the demo picture (synthetic weights unless --weights is given).
  set -- detect --source examples/data/street.jpg --out runs/detect --max-det 10
fi
exec bazel-bin/examples/riformer "$@"
