#!/usr/bin/env python3
"""Write the golden fixtures of tests/golden/ from the PyTorch reference.

Why: the C++ tests must prove the library gives PyTorch's outputs without
PyTorch in CI.  This script (run by a developer with PyTorch) computes the
outputs once; the C++ tests recompute the weights from the synthetic formula
(or read the small exported files) and compare.

Rerunnable and deterministic: one thread, deterministic algorithms, inputs
and weights from synthetic.py or fixed torch seeds, temp files only in a
temporary directory.

usage: /usr/bin/python3 tests/reference/make_golden.py [GROUP ...]
  groups: backbone tiny classifier detector nms letterbox export (default: all; export
  only checks, it writes no fixture; classifier reads the tiny group's files)
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import tempfile
import types
from collections import OrderedDict
from typing import Dict, List

import numpy as np
import torch
import torch.nn as nn

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
GOLDEN = os.path.join(ROOT, "tests", "golden")
TOOLS = os.path.join(ROOT, "tools")
sys.path.insert(0, HERE)
sys.path.insert(0, TOOLS)

import riformer_ref as R  # noqa: E402
import safetensors_io  # noqa: E402
import synthetic  # noqa: E402

GENERATOR = "tests/reference/make_golden.py"
ARCHS = ["s12", "s24", "s36", "m36", "m48"]


def setup_torch() -> None:
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    torch.manual_seed(0)


def to_np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy().astype(np.float32)


def write(name: str, tensors: Dict[str, np.ndarray], meta: Dict[str, str]) -> str:
    path = os.path.join(GOLDEN, name)
    safetensors_io.write(path, tensors, meta)
    print(f"  {name}: {os.path.getsize(path)} bytes, tensors "
          + ", ".join(f"{k}{list(v.shape)}" for k, v in tensors.items()))
    return path


def backbone_outputs(model: nn.Module, x: torch.Tensor) -> "OrderedDict[str, np.ndarray]":
    with torch.no_grad():
        outs = model(x)
    return OrderedDict((f"out{i}", to_np(o)) for i, o in enumerate(outs))


# ----------------------------------------------------------------------------
# Part one: backbone on synthetic weights


def make_backbone() -> None:
    """backbone_{arch}_64x96_{form}.safetensors for every arch and form, plus s12 at 224x224."""
    print("backbone fixtures (synthetic weights, no key prefix)")
    cases = [(a, f, 64, 96) for a in ARCHS for f in ("training", "deploy")] + [("s12", "training", 224, 224)]
    for arch, form, h, w in cases:
        model = R.synthetic_backbone(arch, form)
        x = R.synthetic_input(h, w)
        meta = {"arch": arch, "form": form, "height": str(h), "width": str(w),
                "input_sum": R.input_sum(x), "generator": GENERATOR}
        write(f"backbone_{arch}_{h}x{w}_{form}.safetensors", backbone_outputs(model, x), meta)
        del model


# ----------------------------------------------------------------------------
# Part one: a real PyTorch checkpoint of a tiny custom arch, through the exporter


def _fake_module(name: str, **attrs) -> types.ModuleType:
    """Register a module under `name` (and its parents) so pickle can save references to it."""
    parts = name.split(".")
    for i in range(1, len(parts) + 1):
        sub = ".".join(parts[:i])
        if sub not in sys.modules:
            sys.modules[sub] = types.ModuleType(sub)
            sys.modules[sub].__dict__["_riformer_fake"] = True
    mod = sys.modules[name]
    for k, v in attrs.items():
        v.__module__ = name
        v.__qualname__ = k
        setattr(mod, k, v)
    return mod


def _drop_fake_modules() -> None:
    for name in [n for n, m in sys.modules.items() if getattr(m, "_riformer_fake", False)]:
        del sys.modules[name]


def save_mmpretrain_checkpoint(path: str, backbone: nn.Module, num_classes: int = 10, seed: int = 99) -> None:
    """torch.save in mmpretrain's layout, with objects the exporter cannot import.

    'meta' holds an mmengine-like ConfigDict (a dict subclass from module
    `mmengine.config.config`, which is not installed) and a stand-in for a
    numpy-2 scalar (`numpy._core.multiarray.scalar`, absent from numpy 1.x),
    so converting the file exercises the exporter's placeholder unpickling.
    """
    class ConfigDict(dict):
        pass

    def scalar(dtype_name, raw):  # what numpy 2 pickles a numpy scalar as
        return np.frombuffer(raw, dtype=dtype_name)[0]

    class NumpyScalar2:
        def __init__(self, v):
            self.v = v

        def __reduce__(self):
            return scalar, ("<f8", np.float64(self.v).tobytes())

    _fake_module("mmengine.config.config", ConfigDict=ConfigDict)
    _fake_module("numpy._core.multiarray", scalar=scalar)
    try:
        g = torch.Generator().manual_seed(seed)
        head_w = (torch.rand(num_classes, backbone.arch["embed_dims"][-1], generator=g) * 2 - 1) * 0.1
        head_b = (torch.rand(num_classes, generator=g) * 2 - 1) * 0.1
        state = OrderedDict(("backbone." + k, v.clone()) for k, v in backbone.state_dict().items())
        state["head.fc.weight"] = head_w
        state["head.fc.bias"] = head_b
        cfg = ConfigDict(type="ImageClassifier", backbone=ConfigDict(type="RIFormer", arch="custom"))
        meta = {"mmengine_version": "0.7.0", "cfg": cfg, "epoch": 300,
                "best_score": NumpyScalar2(76.9), "dataset_meta": {"classes": [f"c{i}" for i in range(num_classes)]}}
        torch.save({"meta": meta, "state_dict": state, "message_hub": cfg}, path)
    finally:
        _drop_fake_modules()


def run_exporter(*args: str) -> subprocess.CompletedProcess:
    """tools/export_weights.py as a user runs it: a fresh interpreter, no reference modules on the path."""
    cmd = [sys.executable, os.path.join(TOOLS, "export_weights.py"), *args]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=ROOT)


def load_backbone_from_file(path: str, prefix: str = "backbone.") -> R.RIFormer:
    """A RIFormer built from an exported file's metadata, with the weights as stored (widened to f32)."""
    tensors, meta = safetensors_io.read_float32(path)
    arch = {"layers": [int(v) for v in meta["depths"].split(",")],
            "embed_dims": [int(v) for v in meta["dims"].split(",")],
            "mlp_ratios": [float(v) for v in meta["mlp_ratios"].split(",")]}
    out_indices = [int(v) for v in meta["out_indices"].split(",")]
    model = R.RIFormer(arch, out_indices=out_indices, deploy=meta["form"] == "deploy").eval()
    state = {k[len(prefix):]: torch.from_numpy(v) for k, v in tensors.items() if k.startswith(prefix)}
    model.load_state_dict(state, strict=True)
    return model


def make_tiny() -> None:
    """tiny_{f32,f16,bf16}.safetensors via the exporter, and their outputs from the stored weights."""
    print("tiny custom-arch checkpoint through tools/export_weights.py")
    model = R.randomize(R.RIFormer(R.TINY_ARCH).eval(), seed=20230406)
    h, w = 64, 96
    x = R.synthetic_input(h, w)
    with tempfile.TemporaryDirectory() as tmp:
        pth = os.path.join(tmp, "tiny.pth")
        save_mmpretrain_checkpoint(pth, model)
        variants = [("f32", "training", ["--dtype", "f32"]),
                    ("f16", "deploy", ["--dtype", "f16", "--deploy"]),
                    ("bf16", "training", ["--dtype", "bf16", "--arch", "custom"])]
        for tag, form, opts in variants:
            out = os.path.join(GOLDEN, f"tiny_{tag}.safetensors")
            r = run_exporter(pth, out, *opts)
            if r.returncode != 0:
                raise SystemExit(f"exporter failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
            print("  " + r.stdout.strip())
            _, meta = safetensors_io.read(out)
            assert meta["form"] == form and meta["arch"] == "custom" and meta["prefix"] == "backbone.", meta
            print(f"  tiny_{tag}.safetensors: {os.path.getsize(out)} bytes")
            stored = load_backbone_from_file(out)
            outs = backbone_outputs(stored, x)
            if tag == "f32":
                # F32 export is lossless: the stored model is the original model.
                ref = backbone_outputs(model, x)
                assert all(np.array_equal(outs[k], ref[k]) for k in ref), "f32 export changed the outputs"
            meta_out = {"arch": "custom", "form": form, "height": str(h), "width": str(w),
                        "input_sum": R.input_sum(x), "generator": GENERATOR,
                        "weights": f"tiny_{tag}.safetensors", "dtype": tag}
            write(f"tiny_{tag}_outputs.safetensors", outs, meta_out)


# ----------------------------------------------------------------------------
# Part one: the ImageNet classifier (MODEL.md section 5) on the same backbones


def classifier_logits(backbone: nn.Module, head_w: torch.Tensor, head_b: torch.Tensor, x: torch.Tensor):
    """mmpretrain's ImageClassifier: the last stage (norm6), GlobalAveragePooling, head.fc."""
    with torch.no_grad():
        last = backbone(x)[-1]                                          # [1, d3, h3, w3]
        pooled = nn.AdaptiveAvgPool2d((1, 1))(last).view(1, -1)         # [1, d3]
        return pooled, nn.functional.linear(pooled, head_w, head_b)    # [1, classes]


def make_classifier() -> None:
    """classifier_s12_224x224.safetensors (synthetic weights, 1000 classes) and
    classifier_tiny_logits.safetensors (the tiny group's exported files, whose head has 10 classes)."""
    print("classifier fixtures")
    h = w = 224
    model = R.synthetic_backbone("s12", "training")
    head_w = torch.from_numpy(synthetic.synth("head.fc.weight", [1000, 512]))
    head_b = torch.from_numpy(synthetic.synth("head.fc.bias", [1000]))
    x = R.synthetic_input(h, w)
    pooled, logits = classifier_logits(model, head_w, head_b, x)
    meta = {"arch": "s12", "height": str(h), "width": str(w), "classes": "1000", "input_sum": R.input_sum(x),
            "generator": GENERATOR}
    write("classifier_s12_224x224.safetensors", OrderedDict(pooled=to_np(pooled), logits=to_np(logits)), meta)
    del model

    h, w = 64, 96
    x = R.synthetic_input(h, w)
    out = OrderedDict()
    for tag in ("f32", "f16", "bf16"):
        path = os.path.join(GOLDEN, f"tiny_{tag}.safetensors")
        stored = load_backbone_from_file(path)
        tensors, _ = safetensors_io.read_float32(path)
        _, logits = classifier_logits(stored, torch.from_numpy(tensors["head.fc.weight"]),
                                      torch.from_numpy(tensors["head.fc.bias"]), x)
        out[f"logits_{tag}"] = to_np(logits)
    meta = {"height": str(h), "width": str(w), "input_sum": R.input_sum(x), "generator": GENERATOR}
    write("classifier_tiny_logits.safetensors", out, meta)


# ----------------------------------------------------------------------------
# Part two: detector on synthetic weights


DETECTOR_CASES = [("s12", 3), ("s12", 80), ("m36", 3)]
NMS_LOW = 0.001
NMS_MID = (0.3, 0.35, 0.4, 0.45, 0.5)


def make_detector() -> None:
    """detector_{arch}_128x160_nc{nc}.safetensors: backbone outputs, raw heads, decoded pred, NMS rows.

    p2..p5 of (s12, nc 80) are bit-identical to those of (s12, nc 3) (the
    model.0.* keys and so the backbone weights are the same), so that file
    leaves them out to keep the fixtures small; its metadata says so.
    """
    import yolo_ref as Y

    print("detector fixtures (synthetic weights, full model.N. keys)")
    h, w = 128, 160
    x = R.synthetic_input(h, w)
    p_cache = {}
    for arch, nc in DETECTOR_CASES:
        model = Y.synthetic_detector(arch, nc)
        with torch.no_grad():
            pred, heads = model(x)
        p = [to_np(t) for t in model.backbone_outputs]
        tensors = OrderedDict()
        meta = {"arch": arch, "nc": str(nc), "form": "training", "height": str(h), "width": str(w),
                "input_sum": R.input_sum(x), "generator": GENERATOR,
                "anchors": ",".join(str(a) for lvl in Y.ANCHORS for a in lvl), "strides": "8,16,32",
                "conf_thres": "0.25", "iou_thres": "0.45", "nms_low_conf_thres": repr(NMS_LOW),
                "max_det": str(Y.MAX_DET)}
        if arch in p_cache:
            assert all(np.array_equal(a, b) for a, b in zip(p, p_cache[arch]))
            meta["p_tensors"] = f"omitted: identical to detector_{arch}_{h}x{w}_nc{p_cache[arch + '_nc']}.safetensors"
        else:
            p_cache[arch], p_cache[arch + "_nc"] = p, nc
            for k, t in zip(("p2", "p3", "p4", "p5"), p):
                tensors[k] = t
        for l, t in enumerate(heads):
            tensors[f"head{l}"] = to_np(t)
        tensors["pred"] = to_np(pred)
        det = Y.non_max_suppression(to_np(pred[0]), 0.25, 0.45)
        low = Y.non_max_suppression(to_np(pred[0]), NMS_LOW, 0.45)
        # Synthetic weights give objectness ~0.5, so 0.25 and 0.001 both hit max_det (300 rows);
        # nms_mid uses the first threshold of NMS_MID that leaves 1..299 rows, so the
        # confidence threshold (not max_det) bounds the result.
        mid_thres = next(t for t in NMS_MID if 0 < len(Y.non_max_suppression(to_np(pred[0]), t, 0.45)) < 300)
        mid = Y.non_max_suppression(to_np(pred[0]), mid_thres, 0.45)
        tensors["nms"] = det
        tensors["nms_low"] = low
        tensors["nms_mid"] = mid
        meta["nms_rows"], meta["nms_low_rows"] = str(len(det)), str(len(low))
        meta["nms_mid_conf_thres"], meta["nms_mid_rows"] = repr(mid_thres), str(len(mid))
        write(f"detector_{arch}_{h}x{w}_nc{nc}.safetensors", tensors, meta)
        print(f"    nms rows {len(det)} (conf 0.25), nms_low rows {len(low)} (conf {NMS_LOW}), "
              f"nms_mid rows {len(mid)} (conf {mid_thres}); "
              f"objectness range {float(pred[0, :, 4].min()):.3f}..{float(pred[0, :, 4].max()):.3f}")
        assert len(det) > 0, "the default-threshold NMS fixture is empty"
        del model


# ----------------------------------------------------------------------------
# Part two: NMS corner cases


def _box_rows(rows, nc):
    """rows of (cx, cy, w, h, obj, {class: score}) -> float32 [N, 5 + nc]."""
    out = np.zeros((len(rows), 5 + nc), np.float32)
    for r, (cx, cy, bw, bh, obj, cls) in enumerate(rows):
        out[r, :5] = (cx, cy, bw, bh, obj)
        for c, v in cls.items():
            out[r, 5 + c] = v
    return out


MANY_ROWS, MANY_NC = 40000, 3
MANY_CLUSTER = [(320, 322), (240, 242), (100, 102), (80, 82), (0.9, 1.0), (0.9, 1.0), (0.0, 0.5), (0.0, 0.5)]
MANY_SPREAD = [(0, 640), (0, 480), (4, 40), (4, 40), (0.3, 0.8), (0.5, 1.0), (0.5, 1.0), (0.5, 1.0)]
MANY_GENERATOR = (
    "pred[r][c] for r < 40000, c < 8 (nc 3): u = u('nms_many', 8*r + c) of SYNTHETIC.md "
    "((bits >> 8) * 2^-24, float64); value = float32(lo + (hi - lo) * u) with [lo, hi) by column: "
    "rows with r % 8 != 7 (35000 'cluster' rows, all about the same box, class 0 best, conf >= 0.81): "
    "cx [320,322) cy [240,242) w [100,102) h [80,82) obj [0.9,1) cls0 [0.9,1) cls1 [0,0.5) cls2 [0,0.5); "
    "rows with r % 8 == 7 (5000 'spread' rows, conf < 0.8): cx [0,640) cy [0,480) w [4,40) h [4,40) "
    "obj [0.3,0.8) cls0..2 [0.5,1). The 30000-candidate cap keeps only cluster rows, so the result is 1 row; "
    "without the cap (or taking the first 30000 rows unsorted) spread boxes would survive.")


def many_candidates() -> np.ndarray:
    """The procedural > 30000-candidate input described by MANY_GENERATOR."""
    import synthetic

    u = synthetic.uniform("nms_many", MANY_ROWS * (5 + MANY_NC)).reshape(MANY_ROWS, 5 + MANY_NC)
    spread = (np.arange(MANY_ROWS) % 8 == 7)[:, None]
    lo = np.where(spread, [r[0] for r in MANY_SPREAD], [r[0] for r in MANY_CLUSTER]).astype(np.float64)
    hi = np.where(spread, [r[1] for r in MANY_SPREAD], [r[1] for r in MANY_CLUSTER]).astype(np.float64)
    return (lo + (hi - lo) * u).astype(np.float32)


def nms_cases() -> "OrderedDict[str, dict]":
    """Each case: pred [N, 5 + nc] and the arguments of non_max_suppression."""
    cases: "OrderedDict[str, dict]" = OrderedDict()
    d = dict(conf_thres=0.25, iou_thres=0.45, classes=None, agnostic=False, max_det=300)
    cases["empty_input"] = dict(d, pred=np.zeros((0, 8), np.float32))
    cases["no_boxes"] = dict(d, pred=_box_rows([
        (50, 50, 20, 20, 0.2, {0: 0.9}),              # objectness below the threshold
        (60, 50, 20, 20, 0.25, {1: 1.0}),             # objectness == threshold: not > 0.25
        (70, 50, 20, 20, 0.3, {2: 0.5}),              # conf 0.15 after obj * cls
        (80, 50, 20, 20, 0.5, {0: 0.5}),              # conf == 0.25 exactly: not > 0.25
    ], 3))
    one = _box_rows([
        (100, 100, 50, 50, 0.9, {0: 0.9}),
        (105, 100, 50, 50, 0.8, {0: 0.9}),            # IoU 0.82 with the first: suppressed
        (130, 100, 50, 50, 0.85, {0: 0.9}),           # IoU 0.25 with the first: kept
        (300, 300, 10, 10, 0.4, {0: 0.9}),
        (302, 300, 10, 10, 0.6, {0: 0.9}),            # higher conf wins, the other is suppressed
        (10, 10, 4, 4, 0.95, {0: 0.3}),               # conf 0.285
    ], 1)
    cases["one_class"] = dict(d, pred=one)
    ident = _box_rows([
        (200, 200, 40, 30, 0.7, {1: 0.9}),
        (200, 200, 40, 30, 0.9, {1: 0.9}),            # same box, higher conf: this one is kept
        (201, 200, 40, 30, 0.9, {1: 0.9}),            # conf tie with the previous row, box 1 px right:
                                                      # the earlier row wins (stable sort), this one is suppressed
        (200, 200, 40, 30, 0.8, {2: 0.9}),            # same box, another class: kept (not agnostic)
        (200, 200, 40, 30, 0.8, {0: 0.6, 2: 0.6}),    # class-score tie: the lower class index (0)
    ], 3)
    cases["identical"] = dict(d, pred=ident)
    cases["identical_agnostic"] = dict(d, pred=ident, agnostic=True)
    cases["zero_area"] = dict(d, pred=_box_rows([
        (50, 50, 0, 20, 0.9, {0: 0.9}),               # w = 0
        (50, 50, 0, 20, 0.8, {0: 0.9}),               # identical zero-area box: IoU 0/0 = NaN, kept
        (50, 50, 20, 0, 0.7, {0: 0.9}),               # h = 0, crossing the first: inter 0, kept
        (50, 50, 40, 40, 0.6, {0: 0.9}),              # big box around them: IoU 0, kept
        (150, 150, 0, 0, 0.9, {1: 0.9}),              # a point
    ], 3))
    cases["iou_edge"] = dict(d, pred=_box_rows([
        (5, 5, 10, 10, 0.9, {0: 0.9}),                # [0,0,10,10], area 100
        (4.5, 2.5, 9, 5, 0.8, {0: 0.9}),              # [0,0,9,5] inside: IoU 45/100 = 0.45, not > 0.45: kept
        (25, 5, 10, 10, 0.9, {0: 0.9}),               # [20,0,30,10]
        (24.5, 2.55, 9, 5.1, 0.8, {0: 0.9}),          # IoU 45.9/100 > 0.45: suppressed
    ], 1))
    rng = np.random.RandomState(2023)
    n = 300
    rand = np.zeros((n, 10), np.float32)
    rand[:, 0:2] = rng.uniform(0, 160, (n, 2))
    rand[:, 2:4] = rng.uniform(2, 50, (n, 2))
    rand[:, 4:] = rng.uniform(0, 1, (n, 6))
    cases["random"] = dict(d, pred=rand)
    cases["class_filter"] = dict(d, pred=rand, classes=[0, 2])
    cases["agnostic"] = dict(d, pred=rand, agnostic=True)
    cases["low_conf_high_iou"] = dict(d, pred=rand, conf_thres=0.001, iou_thres=0.7)
    gx, gy = np.meshgrid(np.arange(20), np.arange(20))
    grid = np.zeros((400, 6), np.float32)
    grid[:, 0] = gx.reshape(-1) * 16 + 8
    grid[:, 1] = gy.reshape(-1) * 16 + 8
    grid[:, 2:4] = 12
    grid[:, 4] = 0.5 + 0.4 * ((np.arange(400) * 37) % 400) / 400.0
    grid[:, 5] = 1.0
    cases["max_det"] = dict(d, pred=grid)           # 400 disjoint boxes, 300 kept
    cases["many"] = dict(d, pred=many_candidates(), generated=MANY_GENERATOR)
    return cases


def make_nms() -> None:
    """nms_cases.safetensors: {case}.pred, {case}.expected, arguments in the metadata."""
    import yolo_ref as Y

    print("NMS corner cases")
    tensors = OrderedDict()
    meta = {"generator": GENERATOR, "cases": "", "semantics": "yolo_ref.non_max_suppression (YOLOv5 v7.0)",
            "max_wh": str(Y.MAX_WH), "max_nms": str(Y.MAX_NMS)}
    names = []
    for name, c in nms_cases().items():
        got = Y.non_max_suppression(c["pred"], c["conf_thres"], c["iou_thres"], c["classes"], c["agnostic"],
                                    c["max_det"])
        names.append(name)
        if "generated" in c:
            tensors[f"{name}.pred_head"] = c["pred"][:16]
            meta[f"{name}.generator"] = c["generated"]
            meta[f"{name}.pred_shape"] = ",".join(map(str, c["pred"].shape))
            meta[f"{name}.pred_sum"] = repr(math.fsum(c["pred"].astype(np.float64).reshape(-1).tolist()))
            uncapped = Y.non_max_suppression(c["pred"], c["conf_thres"], c["iou_thres"], max_nms=10 ** 9)
            meta[f"{name}.rows_without_cap"] = str(len(uncapped))
            assert len(uncapped) > len(got), "the > 30000 case does not exercise the cap"
        else:
            tensors[f"{name}.pred"] = c["pred"]
        tensors[f"{name}.expected"] = got
        meta[f"{name}.conf_thres"] = repr(c["conf_thres"])
        meta[f"{name}.iou_thres"] = repr(c["iou_thres"])
        meta[f"{name}.classes"] = "" if c["classes"] is None else ",".join(map(str, c["classes"]))
        meta[f"{name}.agnostic"] = "1" if c["agnostic"] else "0"
        meta[f"{name}.max_det"] = str(c["max_det"])
        meta[f"{name}.rows"] = str(len(got))
        print(f"    {name}: {c['pred'].shape[0]} candidates -> {len(got)} rows")
    meta["cases"] = ",".join(names)
    write("nms_cases.safetensors", tensors, meta)


# ----------------------------------------------------------------------------
# Part two: letterbox


LETTERBOX_CASES = [("up", 37, 53), ("down", 150, 100), ("same", 64, 96), ("narrow", 20, 7), ("wide", 20, 100),
                   ("tie", 128, 5)]
LETTERBOX_TARGET = (64, 96)


def letterbox_image(name: str, h: int, w: int) -> np.ndarray:
    """uint8 [h, w, 3] test image: bits('letterbox.' + name, i) >> 24 (SYNTHETIC.md bits), C order."""
    import synthetic

    return (synthetic.bits("letterbox." + name, h * w * 3) >> np.uint32(24)).astype(np.uint8).reshape(h, w, 3)


def make_letterbox() -> None:
    """letterbox_cases.safetensors: letterboxed uint8 images and scale_boxes results."""
    import yolo_ref as Y

    print("letterbox cases")
    ht, wt = LETTERBOX_TARGET
    tensors = OrderedDict()
    meta = {"generator": GENERATOR, "target": f"{ht},{wt}", "pad_value": "114",
            "image": "uint8 [h,w,3] RGB = bits('letterbox.' + case, i) >> 24 (SYNTHETIC.md), i in C order",
            "cases": ",".join(c[0] for c in LETTERBOX_CASES)}
    for name, h, w in LETTERBOX_CASES:
        img = letterbox_image(name, h, w)
        out, r, (dw, dh), (top, left) = Y.letterbox(img, (ht, wt))
        tensors[f"{name}.letterboxed"] = out
        rh, rw = int(round(h * r)), int(round(w * r))
        meta.update({f"{name}.shape": f"{h},{w}", f"{name}.ratio": repr(r), f"{name}.resized": f"{rh},{rw}",
                     f"{name}.top_left": f"{top},{left}", f"{name}.pad": f"{dw!r},{dh!r}"})
        # Boxes in letterboxed pixels -> original pixels (scale_boxes + clip).
        boxes = np.array([[left, top, left + rw, top + rh, 0.9, 0],
                          [-5, -5, 10.5, 12.25, 0.5, 1],
                          [wt * 0.3, ht * 0.2, wt * 0.7, ht * 1.1, 0.7, 2]], np.float32)
        tensors[f"{name}.boxes"] = boxes
        tensors[f"{name}.boxes_mapped"] = Y.scale_boxes((ht, wt), boxes, (h, w))
        print(f"    {name}: {h}x{w} -> r {r:.4f}, resized {rh}x{rw}, top {top} left {left}")
    tensors["tensor_example"] = Y.to_tensor(tensors["down.letterboxed"])[:, :, :4, :4].copy()
    meta["tensor_example"] = "to_tensor(down.letterboxed)[:, :, :4, :4]: float32(v) / 255"
    write("letterbox_cases.safetensors", tensors, meta)


# ----------------------------------------------------------------------------
# Part two: the exporter on YOLOv5 checkpoints (a check, no fixture)


def _detector_classes():
    import yolo_ref as Y
    return {"models.yolo": [Y.DetectionModel, Y.Detect], "models.common": [Y.Conv, Y.Bottleneck, Y.C3, Y.SPPF,
                                                                           Y.Concat],
            "models.riformer": [R.RIFormer, R.RIFormerBlock, R.PatchEmbed, R.Affine, R.Mlp]}


def save_yolov5_checkpoint(path: str, model: nn.Module) -> None:
    """torch.save a YOLOv5-style checkpoint whose 'model' is the whole (half) module object.

    The classes are pickled as models.yolo / models.common / models.riformer,
    modules that do not exist when the exporter runs: it must use placeholders.
    """
    import copy

    saved = {}
    try:
        for mod, classes in _detector_classes().items():
            _fake_module(mod)
            for c in classes:
                saved[c] = (c.__module__, c.__qualname__)
                c.__module__ = mod
                setattr(sys.modules[mod], c.__name__, c)
        ckpt = {"epoch": -1, "best_fitness": None, "model": copy.deepcopy(model).half(), "ema": None,
                "updates": None, "optimizer": None, "opt": {"imgsz": 640, "hyp": {"lr0": 0.01}},
                "git": None, "date": "2023-04-06T00:00:00"}
        torch.save(ckpt, path)
    finally:
        for c, (mod, qual) in saved.items():
            c.__module__ = mod
        _drop_fake_modules()


def check_export_detector() -> None:
    """Export pickled whole-model and state_dict YOLOv5 checkpoints; compare tensors and outputs."""
    import yolo_ref as Y

    print("exporter on YOLOv5-RIFormer checkpoints")
    model = R.randomize(Y.build_detector(R.TINY_ARCH, 3), seed=7)
    x = R.synthetic_input(64, 96)
    with tempfile.TemporaryDirectory() as tmp:
        pt = os.path.join(tmp, "best.pt")
        save_yolov5_checkpoint(pt, model)
        sd_pt = os.path.join(tmp, "detector_state.pth")
        torch.save(model.state_dict(), sd_pt)
        half = {k: v.half().float() for k, v in model.state_dict().items() if v.is_floating_point()}
        for src, opts, want in [(pt, ["--dtype", "f32"], half), (pt, ["--deploy", "--dtype", "f32"], half),
                                (sd_pt, ["--arch", "custom"], model.state_dict())]:
            out = os.path.join(tmp, "out.safetensors")
            r = run_exporter(src, out, *opts)
            if r.returncode != 0:
                raise SystemExit(f"exporter failed ({r.returncode}):\n{r.stdout}\n{r.stderr}")
            tensors, meta = safetensors_io.read_float32(out)
            assert meta["format"] == "yolov5-riformer" and meta["nc"] == "3", meta
            assert meta["anchors"] == ",".join(str(a) for lvl in Y.ANCHORS for a in lvl), meta["anchors"]
            assert meta["strides"] == "8,16,32" and meta["width_multiple"] == "0.25", meta
            assert meta["depth_multiple"] == "0.33" and meta["prefix"] == "model.0.", meta
            deploy = "--deploy" in opts
            assert meta["form"] == ("deploy" if deploy else "training")
            ref = Y.build_detector(R.TINY_ARCH, 3)
            if deploy:
                ref.model[0].switch_to_deploy()
            missing, unexpected = ref.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()},
                                                      strict=False)
            assert not unexpected and all(k.endswith("num_batches_tracked") for k in missing), (missing,
                                                                                                unexpected)
            if not deploy:
                for k, v in want.items():
                    if not k.endswith("num_batches_tracked"):
                        assert torch.equal(torch.from_numpy(tensors[k]), v.float()), k
            src_model = Y.build_detector(R.TINY_ARCH, 3)
            src_model.load_state_dict({k: v for k, v in want.items()}, strict=False)
            with torch.no_grad():
                a, b = ref(x)[0], src_model(x)[0]
            err = float((a - b).abs().max())
            assert err < 1e-3, err
            print(f"  {os.path.basename(src)} {' '.join(opts)}: {len(tensors)} tensors, meta ok, "
                  f"pred max |diff| vs source weights {err:.1e}")


# ----------------------------------------------------------------------------


GROUPS = OrderedDict([("backbone", make_backbone), ("tiny", make_tiny), ("classifier", make_classifier),
                      ("detector", make_detector), ("nms", make_nms), ("letterbox", make_letterbox),
                      ("export", check_export_detector)])


def main(argv: List[str]) -> int:
    unknown = [a for a in argv if a not in GROUPS]
    if unknown or "-h" in argv or "--help" in argv:
        print(__doc__)
        return 0 if not unknown else 2
    setup_torch()
    os.makedirs(GOLDEN, exist_ok=True)
    for name in (argv or list(GROUPS)):
        GROUPS[name]()
    total = sum(os.path.getsize(os.path.join(GOLDEN, f)) for f in sorted(os.listdir(GOLDEN)))
    print(f"tests/golden/: {len(os.listdir(GOLDEN))} files, {total} bytes ({total / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
