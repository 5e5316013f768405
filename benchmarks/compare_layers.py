#!/usr/bin/env python3
"""Where the time goes, layer by layer: this library beside ONNX Runtime.

Runs `riformer bench --layers` and ONNX Runtime with its profiler on the same
detector (synthetic weights, deployed form, exported as in compare.py), and
prints one table of per-layer medians named as in the state_dict
("network.4" = stage 2's blocks, "model.13" = the head's second stride-2
conv). riformer's layer times are wall time between the ends of consecutive
layers; ORT's are its nodes' kernel times summed per module (so ORT's total
leaves out its own overhead between nodes). Concatenations riformer writes in
place (model.4, 8, 11, 14) have no time of their own there.

The two alternate for --rounds rounds (the machine is noisy) and the table
shows each layer's median over the rounds. With --vs-threads N the peer is
riformer itself on N threads instead of ONNX Runtime: where a second thread
pays least.

usage: /usr/bin/python3 benchmarks/compare_layers.py [--arch s12] [--size 320] [--threads 1] [--runs 20] [--rounds 3]
           [--vs-threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

import compare  # noqa: E402  (same folder: model export, ORT install, library build)


def execution_order(name: str) -> float:
    """Backbone first (each stage's output norm after its blocks), then the head by module index."""
    number = re.search(r"\d+$", name)
    n = int(number.group()) if number else 0
    if name.startswith("network."):
        return 1 + n
    if name.startswith("norm"):
        return 1.5 + n
    if name.startswith("model."):
        return 100 + n
    return 0 if name == "patch_embed" else 1000


def library_layers(binary: str, arch: str, size: int, threads: int, runs: int) -> dict[str, float]:
    out = subprocess.run([binary, "bench", "--arch", arch, "--imgsz", str(size), "--threads", str(threads), "--runs",
                          str(runs), "--layers"], check=True, capture_output=True, text=True).stdout
    table = out.split("\nlayer ", 1)[1]
    return {m.group(1): float(m.group(2)) for m in re.finditer(r"^(\S+)\s+([0-9.]+)\s+[0-9.]+%$", table, re.M)}


def onnxruntime_layers(onnx: str, size: int, threads: int, runs: int) -> dict[str, float]:
    out = subprocess.run(["node", "layer_times.mjs", onnx, str(size), str(threads), str(runs)], cwd=compare.ORT_DIR,
                         check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1])["layers"])


def median_per_layer(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Each layer's median over the rounds, in the first round's order."""
    return {name: statistics.median(r[name] for r in rounds if name in r) for name in rounds[0]}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--arch", default="s12")
    ap.add_argument("--size", type=int, default=320)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=20, help="timed passes of each, per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds alternating the two; medians over rounds")
    ap.add_argument("--vs-threads", type=int, help="compare with riformer on this many threads instead of ORT")
    args = ap.parse_args()

    binary = compare.ensure_library()
    if args.vs_threads:
        peer_name = f"riformer, {args.vs_threads} threads"
        ratio_name, ratio = f"speed-up on {args.vs_threads} threads", lambda ours_ms, peer_ms: ours_ms / peer_ms
        peer = lambda: library_layers(binary, args.arch, args.size, args.vs_threads, args.runs)
    else:
        compare.ensure_onnxruntime()
        onnx = compare.exported_onnx(compare.deployed_pytorch_model("detector", args.arch), "detector", args.arch,
                                     args.size)
        peer_name = "ORT"
        ratio_name, ratio = "ORT / riformer", lambda ours_ms, peer_ms: peer_ms / ours_ms
        peer = lambda: onnxruntime_layers(onnx, args.size, args.threads, args.runs)
    rounds_ours, rounds_peer = [], []
    for _ in range(args.rounds):
        rounds_ours.append(library_layers(binary, args.arch, args.size, args.threads, args.runs))
        rounds_peer.append(peer())
    ours, other = median_per_layer(rounds_ours), median_per_layer(rounds_peer)

    print(f"# {time.strftime('%Y-%m-%d')}, RIFormer-{args.arch.upper()} detector {args.size}x{args.size}, "
          f"{args.threads} thread{'s' if args.threads > 1 else ''}, medians of {args.rounds} rounds x {args.runs} runs")
    print(f"# command: benchmarks/compare_layers.py {' '.join(sys.argv[1:])}")
    print(f"| layer | riformer (ms) | {peer_name} (ms) | {ratio_name} |")
    print("|---|---|---|---|")
    names = list(ours) + [n for n in other if n not in ours]
    for name in sorted(names, key=execution_order):
        a, b = ours.get(name), other.get(name)
        shown = f"{ratio(a, b):.2f}x" if a and b else ""
        print(f"| {name} | {a:.2f} |" if a is not None else f"| {name} | (in place) |", f"{b:.2f} |" if b is not None else "– |",
              f"{shown} |")
    a, b = sum(ours.values()), sum(other.values())
    print(f"| **sum** | {a:.2f} | {b:.2f} | {ratio(a, b):.2f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
