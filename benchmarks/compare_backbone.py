#!/usr/bin/env python3
"""RIFormer backbone latency: this library against PyTorch, in one run.

The machine this runs on is shared and noisy, so both sides are measured in
the same invocation, alternating, and compared as a ratio of medians. PyTorch
runs the same architecture (tests/reference/riformer_ref.py, the golden-test
reference) in deploy form (token mixer folded, as one would deploy it), with
the same synthetic weights; the library runs its command-line tool's
`backbone` subcommand, which reports the median of its own timed runs.

usage: /usr/bin/python3 benchmarks/compare_backbone.py [--arch s12] [--sizes 224 640]
           [--threads 1] [--rounds 3] [--runs 10]
Needs Debian's python3-torch (/usr/bin/python3) and `bazel build //examples:riformer`.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))

import torch  # noqa: E402

import riformer_ref  # noqa: E402


def time_pytorch(model: torch.nn.Module, size: int, runs: int) -> float:
    """Median ms of `runs` forward passes after one warm-up."""
    x = riformer_ref.synthetic_input(size, size)
    with torch.inference_mode():
        model(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            model(x)
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def time_library(binary: str, arch: str, size: int, threads: int, runs: int) -> float:
    """The median ms the tool reports for `runs` timed runs."""
    out = subprocess.run([binary, "backbone", "--arch", arch, "--imgsz", str(size), "--threads", str(threads),
                          "--runs", str(runs)], check=True, capture_output=True, text=True).stdout
    m = re.search(r"latency\s+median ([0-9.]+) ms", out)
    if not m:
        raise RuntimeError(f"unexpected output from {binary}:\n{out}")
    return float(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="s12")
    ap.add_argument("--sizes", type=int, nargs="+", default=[224, 640])
    ap.add_argument("--threads", type=int, nargs="+", default=[1])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the table shows medians over rounds")
    ap.add_argument("--runs", type=int, default=10, help="timed forward passes per round and side")
    ap.add_argument("--binary", default=os.path.join(ROOT, "bazel-bin", "examples", "riformer"))
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `bazel build //examples:riformer` first")

    model = riformer_ref.synthetic_backbone(args.arch, form="deploy").eval()
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"# RIFormer-{args.arch.upper()} backbone, batch 1, medians of {args.rounds} rounds x {args.runs} runs")
    print(f"| input | threads | riformer (ms) | PyTorch (ms) | speed-up |")
    print(f"|---|---|---|---|---|")
    for size in args.sizes:
        for threads in args.threads:
            torch.set_num_threads(threads)
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(time_library(args.binary, args.arch, size, threads, args.runs))
                theirs.append(time_pytorch(model, size, max(1, args.runs // (4 if size >= 512 else 1))))
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"| {size}x{size} | {threads} | {a:.1f} | {b:.1f} | {b / a:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
