#!/usr/bin/env python3
"""Latency of this library against PyTorch, measured in one run.

The machine this runs on is shared and noisy, so both sides are measured in
the same invocation, alternating round by round, and compared as a ratio of
medians. PyTorch runs the golden-test reference (tests/reference/) with the
same synthetic weights, prepared as one would deploy it: the RIFormer token
mixer re-parameterized (switch_to_deploy) and, in the detector, every
BatchNorm fused into its convolution. The library side runs the command-line
tool (`riformer backbone` / `riformer bench`), which reports the median of
its own timed runs.

usage: /usr/bin/python3 benchmarks/compare_pytorch.py [--model backbone|detector] [--arch s12]
           [--sizes 640] [--threads 1 2] [--rounds 3] [--runs 10]
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
from torch.nn.utils.fusion import fuse_conv_bn_eval  # noqa: E402

import riformer_ref  # noqa: E402
import yolo_ref  # noqa: E402


def deployed_pytorch_model(model: str, arch: str) -> torch.nn.Module:
    """The reference model with synthetic weights, folded as for deployment."""
    if model == "backbone":
        return riformer_ref.synthetic_backbone(arch, form="deploy").eval()
    net = yolo_ref.synthetic_detector(arch, nc=80)
    for m in net.modules():
        if isinstance(m, riformer_ref.RIFormerBlock):
            m.switch_to_deploy()
        if isinstance(m, yolo_ref.Conv) and isinstance(m.bn, torch.nn.BatchNorm2d):
            m.conv = fuse_conv_bn_eval(m.conv, m.bn)
            m.bn = torch.nn.Identity()
    return net.eval()


def time_pytorch(net: torch.nn.Module, size: int, runs: int) -> float:
    """Median ms of `runs` forward passes after one warm-up."""
    x = riformer_ref.synthetic_input(size, size)
    with torch.inference_mode():
        net(x)
        times = []
        for _ in range(runs):
            t = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def time_library(binary: str, model: str, arch: str, size: int, threads: int, runs: int) -> float:
    """The median ms of the network forward pass the tool reports."""
    common = ["--arch", arch, "--imgsz", str(size), "--threads", str(threads), "--runs", str(runs)]
    if model == "backbone":
        out = subprocess.run([binary, "backbone", *common], check=True, capture_output=True, text=True).stdout
        m = re.search(r"latency\s+median ([0-9.]+) ms", out)
    else:
        out = subprocess.run([binary, "bench", *common], check=True, capture_output=True, text=True).stdout
        m = re.search(r"network \(backbone \+ head\)\s+[0-9.]+\s+([0-9.]+)", out)
    if not m:
        raise RuntimeError(f"unexpected output from {binary}:\n{out}")
    return float(m.group(1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["backbone", "detector"], default="detector")
    ap.add_argument("--arch", default="s12")
    ap.add_argument("--sizes", type=int, nargs="+", default=[640])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds; the table shows medians over rounds")
    ap.add_argument("--runs", type=int, default=10, help="timed forward passes per round and side")
    ap.add_argument("--binary", default=os.path.join(ROOT, "bazel-bin", "examples", "riformer"))
    args = ap.parse_args()
    if not os.path.exists(args.binary):
        sys.exit(f"{args.binary} not found: run `bazel build //examples:riformer` first")

    net = deployed_pytorch_model(args.model, args.arch)
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, torch {torch.__version__}")
    print(f"# RIFormer-{args.arch.upper()} {args.model}, batch 1, network forward only, "
          f"medians of {args.rounds} rounds x {args.runs} runs")
    print("| input | threads | riformer (ms) | PyTorch (ms) | speed-up |")
    print("|---|---|---|---|---|")
    for size in args.sizes:
        for threads in args.threads:
            torch.set_num_threads(threads)
            ours, theirs = [], []
            for _ in range(args.rounds):
                ours.append(time_library(args.binary, args.model, args.arch, size, threads, args.runs))
                # PyTorch on one thread takes seconds per pass at 640: fewer runs there.
                slow = threads == 1 and size >= 512
                theirs.append(time_pytorch(net, size, max(1, args.runs // 4 if slow else args.runs)))
            a, b = statistics.median(ours), statistics.median(theirs)
            print(f"| {size}x{size} | {threads} | {a:.1f} | {b:.1f} | {b / a:.2f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
