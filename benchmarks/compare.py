#!/usr/bin/env python3
"""The detector's (or backbone's) latency: this library, ONNX Runtime and PyTorch, in one run.

The machine this runs on is shared and noisy, so every peer is measured in
the same invocation, round-robin, and compared as a ratio of medians. All run
the same network with the same synthetic weights, prepared as one would
deploy it: the RIFormer token mixer re-parameterized (switch_to_deploy) and,
in the detector, every BatchNorm fused into its convolution.

- riformer: `riformer bench` (backbone: `riformer backbone`), the median of its
  timed forward passes; for the detector, network + decode, since the
  exported model decodes too (NMS is in none of the three).
- ONNX Runtime 1.30 (npm's onnxruntime-node, CPU): the model exported from the
  PyTorch reference with torch.onnx.export (opset 13), graph optimization
  'all'; both the wall time of session.run and ORT's own profiled model_run.
- PyTorch 1.13 (Debian's python3-torch), torch.inference_mode.

usage: /usr/bin/python3 benchmarks/compare.py [--model detector|backbone] [--arch s12]
           [--sizes 640] [--threads 1 2] [--rounds 3] [--runs 10] [--peers onnxruntime pytorch]
Installs on first use what it needs (apt: python3-torch, Node.js and npm where the machine
has none, the build tools; npm: onnxruntime-node into benchmarks/onnxruntime/node_modules),
re-runs itself under /usr/bin/python3 (Debian's torch) if started by another python3, and
builds //examples:riformer.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ORT_DIR = os.path.join(HERE, "onnxruntime")
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "riformer-bench")
sys.path.insert(0, os.path.join(ROOT, "tests", "reference"))

import peer_setup  # noqa: E402  (same folder)

# Node.js only where the machine has none of its own (Debian's is 18).
PEER_PACKAGES = ["python3-torch"] + ([] if shutil.which("node") and shutil.which("npm") else ["nodejs", "npm"])
try:
    import torch  # noqa: E402
except ModuleNotFoundError:  # a fresh machine, or an interpreter that is not Debian's
    peer_setup.ensure_packages(PEER_PACKAGES)
    peer_setup.ensure_system_python()
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


def ensure_library() -> str:
    peer_setup.ensure_packages(PEER_PACKAGES)  # Bazel and Node.js too
    subprocess.run(["bazel", "build", "//examples:riformer"], cwd=ROOT, check=True, capture_output=True)
    return os.path.join(ROOT, "bazel-bin", "examples", "riformer")


def ensure_onnxruntime() -> None:
    if os.path.isdir(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node")):
        return
    print("# installing onnxruntime-node (first run only)", file=sys.stderr)
    env = dict(os.environ, ONNXRUNTIME_NODE_INSTALL="skip")  # CPU binaries only, no CUDA download
    peer_setup.run_or_exit(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"], cwd=ORT_DIR, env=env)


def exported_onnx(net: torch.nn.Module, model: str, arch: str, size: int) -> str:
    os.makedirs(CACHE, exist_ok=True)
    path = os.path.join(CACHE, f"{model}_{arch}_{size}.onnx")
    if not os.path.exists(path):
        with torch.inference_mode(False), torch.no_grad():
            torch.onnx.export(net, riformer_ref.synthetic_input(size, size), path, opset_version=13,
                              input_names=["images"], do_constant_folding=True)
    return path


def time_library(binary: str, model: str, arch: str, size: int, threads: int, runs: int) -> float:
    common = ["--arch", arch, "--imgsz", str(size), "--threads", str(threads), "--runs", str(runs)]
    if model == "backbone":
        out = subprocess.run([binary, "backbone", *common], check=True, capture_output=True, text=True).stdout
        return float(re.search(r"latency\s+median ([0-9.]+) ms", out).group(1))
    out = subprocess.run([binary, "bench", *common], check=True, capture_output=True, text=True).stdout
    median = lambda name: float(re.search(rf"{re.escape(name)}\s+[0-9.]+\s+([0-9.]+)", out).group(1))
    return median("network (backbone + head)") + median("decode, every row")


def time_onnxruntime(onnx: str, size: int, threads: int, runs: int) -> tuple[float, float]:
    out = subprocess.run(["node", "run_session.mjs", onnx, str(size), str(threads), str(runs)], cwd=ORT_DIR,
                         check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return statistics.median(result["wall_ms"]), statistics.median(result["profiled_ms"])


def blas_thread_setter():
    """openblas_set_num_threads of the BLAS PyTorch calls, or None.

    Debian's PyTorch runs its convolutions through the system BLAS
    (libblas.so.3). Where that is OpenBLAS (libopenblas-dev, a peer of
    gemm_compare.py, switches the alternative to it), OpenBLAS keeps its own
    pool of threads, which torch.set_num_threads does not reach: "1 thread"
    PyTorch then used both cores (CPU time twice its wall time, measured).
    dlopen of a library already loaded returns the one PyTorch uses.
    """
    try:
        return ctypes.CDLL("libblas.so.3").openblas_set_num_threads
    except (OSError, AttributeError):
        return None


def time_pytorch(net: torch.nn.Module, size: int, threads: int, runs: int) -> tuple[float, float]:
    """Median wall time (ms) of a forward pass, and the CPU time it used per wall time (cores busy)."""
    torch.set_num_threads(threads)
    set_blas_threads = blas_thread_setter()
    if set_blas_threads:
        set_blas_threads(threads)
    x = riformer_ref.synthetic_input(size, size)
    with torch.inference_mode():
        net(x)
        times = []
        cpu_start, wall_start = time.process_time(), time.perf_counter()
        for _ in range(runs):
            t = time.perf_counter()
            net(x)
            times.append((time.perf_counter() - t) * 1e3)
        cores = (time.process_time() - cpu_start) / (time.perf_counter() - wall_start)
    return statistics.median(times), cores


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", choices=["backbone", "detector"], default="detector")
    ap.add_argument("--arch", default="s12")
    ap.add_argument("--sizes", type=int, nargs="+", default=[640])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3, help="round-robin rounds; tables show medians over rounds")
    ap.add_argument("--runs", type=int, default=10, help="timed passes per round and peer")
    ap.add_argument("--peers", nargs="*", default=["onnxruntime", "pytorch"], choices=["onnxruntime", "pytorch"])
    args = ap.parse_args()

    binary = ensure_library()
    net = deployed_pytorch_model(args.model, args.arch)
    if "onnxruntime" in args.peers:
        ensure_onnxruntime()
    print(f"# {time.strftime('%Y-%m-%d')}, {platform.node()}, {os.cpu_count()} cores, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}, onnxruntime-node 1.30.0")
    print(f"# RIFormer-{args.arch.upper()} {args.model}, batch 1, medians of {args.rounds} rounds x {args.runs} runs")
    print(f"# command: benchmarks/compare.py {' '.join(sys.argv[1:])}")
    header = "| input | threads | riformer (ms) |"
    rule = "|---|---|---|"
    if "onnxruntime" in args.peers:
        header += " ORT run (ms) | ORT profiled (ms) | vs ORT |"
        rule += "---|---|---|"
    if "pytorch" in args.peers:
        header += " PyTorch (ms) | vs PyTorch |"
        rule += "---|---|"
    print(header)
    print(rule)
    for size in args.sizes:
        onnx = exported_onnx(net, args.model, args.arch, size) if "onnxruntime" in args.peers else None
        for threads in args.threads:
            ours, ort_wall, ort_prof, pt = [], [], [], []
            pt_cores = 0.0
            for _ in range(args.rounds):
                ours.append(time_library(binary, args.model, args.arch, size, threads, args.runs))
                if onnx:
                    wall, prof = time_onnxruntime(onnx, size, threads, args.runs)
                    ort_wall.append(wall)
                    ort_prof.append(prof)
                if "pytorch" in args.peers:
                    # PyTorch on one thread is the slowest at 640 (0.45 s a pass on the Zen 4 of 2026-11-30,
                    # seconds where its BLAS is the reference one): fewer runs there.
                    slow = threads == 1 and size >= 512
                    ms, cores = time_pytorch(net, size, threads, max(1, args.runs // 4 if slow else args.runs))
                    pt.append(ms)
                    pt_cores = max(pt_cores, cores)
            a = statistics.median(ours)
            line = f"| {size}x{size} | {threads} | {a:.1f} |"
            if onnx:
                w, p = statistics.median(ort_wall), statistics.median(ort_prof)
                line += f" {w:.1f} | {p:.1f} | {w / a:.2f}x |"
            if pt:
                b = statistics.median(pt)
                line += f" {b:.1f} | {b / a:.2f}x |"
            print(line, flush=True)
            if pt and pt_cores > threads + 0.25:
                print(f"# PyTorch kept {pt_cores:.1f} cores busy at {threads} thread(s): "
                      "its ratio is not like for like", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
