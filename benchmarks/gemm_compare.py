#!/usr/bin/env python3
"""The library's GEMM beside oneDNN and OpenBLAS on every RIFormer MLP shape, in one run.

Runs //benchmarks:gemm_peers_bench with repetitions in random interleaving
(the machine is shared and noisy: all three contenders see the same noise)
and prints a Markdown table of median GFLOP/s, percent of the FMA peak
measured in the same run, and the ratios to the peers.

usage: python3 benchmarks/gemm_compare.py [--threads 1 2] [--repetitions 5] [--min-time 0.2] [--filter REGEX]
Installs libdnnl-dev, libopenblas-dev and the build tools on first use (apt; root or sudo).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PEER_PACKAGES = ["libdnnl-dev", "libopenblas-dev"]

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_setup  # noqa: E402  (same folder)


def build() -> str:
    subprocess.run(["bazel", "build", "//benchmarks:gemm_peers_bench"], cwd=ROOT, check=True, capture_output=True)
    return os.path.join(ROOT, "bazel-bin", "benchmarks", "gemm_peers_bench")


def run(binary: str, args: argparse.Namespace) -> tuple[dict, str]:
    threads = "|".join(str(t) for t in args.threads)
    pattern = f"({args.filter}).*/threads:({threads})/"
    # Debian's OpenBLAS picks SSE3 kernels on this CPU unless told; its idle
    # threads would otherwise spin for ~0.1 s after each call and slow down
    # whichever contender runs next (riformer's pool spins 1 ms, OpenMP's ~1 ms).
    env = dict(os.environ, OPENBLAS_CORETYPE="SkylakeX", OPENBLAS_THREAD_TIMEOUT="4")
    out = subprocess.run([binary, f"--benchmark_filter={pattern}", f"--benchmark_repetitions={args.repetitions}",
                          "--benchmark_enable_random_interleaving=true", f"--benchmark_min_time={args.min_time}",
                          "--benchmark_format=json"], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    peak_line, _, body = out.stdout.partition("\n")  # the program prints the measured FMA peak first
    return json.loads(body), peak_line


def medians(report: dict) -> dict[tuple[str, str, int], float]:
    """(contender, shape, threads) -> median GFLOP/s over the repetitions."""
    samples: dict[tuple[str, str, int], list[float]] = {}
    for b in report["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = re.sub(r"/real_time$", "", b["run_name"])
        contender, shape, threads = re.fullmatch(r"(\w+)/([\w-]+)/threads:(\d+)", name).groups()
        samples.setdefault((contender, shape, int(threads)), []).append(b["GFLOP/s"])
    return {key: statistics.median(v) for key, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--filter", default="", help="regex on the shape name, e.g. 's-stage0'")
    args = parser.parse_args()
    peer_setup.ensure_packages(PEER_PACKAGES)
    report, peak_line = run(build(), args)
    med = medians(report)
    peaks = [float(x) for x in re.findall(r"([\d.]+) GFLOP/s", peak_line)]

    print(f"# {datetime.date.today()}, {platform.node() or 'machine'}, {os.cpu_count()} cores, {peak_line}")
    print(f"# command: benchmarks/gemm_compare.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"# medians of {args.repetitions} interleaved repetitions; GFLOP/s = 2*M*K*N / time")
    print("| shape | M x K x N | threads | riformer GFLOP/s | % of peak | oneDNN GFLOP/s | vs oneDNN | OpenBLAS GFLOP/s | vs OpenBLAS |")
    print("|---|---|---|---|---|---|---|---|---|")
    shapes = sorted({b["run_name"].split("/")[1] for b in report["benchmarks"]}, key=shape_order)
    ratios = {t: [] for t in args.threads}
    worst = {t: 1e9 for t in args.threads}
    for threads in args.threads:
        for shape in shapes:
            ours, dnnl, blas = (med.get((c, shape, threads)) for c in ("riformer", "onednn", "openblas"))
            if ours is None:
                continue
            peak = peaks[threads - 1] if threads <= len(peaks) else float("nan")
            ratios[threads].append(ours / dnnl)
            worst[threads] = min(worst[threads], 100 * ours / peak)
            print(f"| {shape} | {mkn(shape)} | {threads} | {ours:.0f} | {100 * ours / peak:.0f}% | {dnnl:.0f} | "
                  f"{ours / dnnl:.2f}x | {blas:.0f} | {ours / blas:.2f}x |")
    for threads in args.threads:
        if ratios[threads]:
            geo = statistics.geometric_mean(ratios[threads])
            print(f"# {threads} thread(s): geometric mean vs oneDNN {geo:.2f}x, lowest {min(ratios[threads]):.2f}x; "
                  f"lowest % of peak {worst[threads]:.0f}%")


def shape_order(shape: str) -> tuple:
    family, stage, size, fc = re.fullmatch(r"(\w)-stage(\d)-(\d+)-(fc\d)", shape).groups()
    return family != "s", int(size), int(stage), fc


def mkn(shape: str) -> str:
    family, stage, size, fc = re.fullmatch(r"(\w)-stage(\d)-(\d+)-(fc\d)", shape).groups()
    c = ({"s": [64, 128, 320, 512], "m": [96, 192, 384, 768]})[family][int(stage)]
    m = (int(size) // 4 >> int(stage)) ** 2
    return f"{m} x {c} x {4 * c}" if fc == "fc1" else f"{m} x {4 * c} x {c}"


if __name__ == "__main__":
    main()
