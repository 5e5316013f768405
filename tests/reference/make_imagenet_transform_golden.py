#!/usr/bin/env python3
"""Write tests/golden/imagenet_transform_cases.safetensors from Pillow.

Why: include/riformer/postprocess/imagenet_transform.hpp claims mmpretrain's
ImageNet test-time preprocessing bit for bit, and that preprocessing is
Pillow's bicubic resize (mmcv.imresize(..., backend='pillow')), whose fixed-point
arithmetic no formula in MODEL.md pins down. This script runs the real thing
once; the C++ test (tests/postprocess/imagenet_transform_test.cpp) reads the
committed fixture and needs neither Pillow nor Python.

The pipeline, transcribed from mmpretrain 1.x (the RIFormer configs' test_pipeline
and data_preprocessor):
  ResizeEdge(scale=248, edge='short', backend='pillow', interpolation='bicubic')
      w < h: (248, int(248 * h / w)), else (int(248 * w / h), 248);
      Image.fromarray(img).resize((new_w, new_h), Image.BICUBIC)
  CenterCrop(crop_size=224)
      y1 = max(0, int(round((H - 224) / 2.))), x1 likewise; img[y1:y1+224, x1:x1+224]
  ClsDataPreprocessor: (x.float() - mean) / std with float32 mean and std buffers,
      NCHW; here numpy float32, the same two correctly rounded float32 operations.

Size: the source pictures are not stored. They are procedural (PATTERNS below;
the C++ test rebuilds them and checks each against its FNV-1a 64 hash stored
here), and Pillow's resized pictures are stored PNG-encoded (lossless; the test
decodes them with stb_image) as U8 tensors. The normalized tensors (600 KB each)
are stored as numpy's normalization of every byte value (`norm_table`) plus a
strided sample of each tensor; this script asserts that each whole tensor equals
norm_table looked up at Pillow's crop, bit for bit, so the test can rebuild it.

Requirements: Debian 12's /usr/bin/python3 with python3-numpy and python3-pil
(Pillow 9.4). Deterministic: reruns are byte-identical with the same Pillow/zlib.

usage: /usr/bin/python3 tests/reference/make_imagenet_transform_golden.py
"""

from __future__ import annotations

import io
import math
import os
import sys
from collections import OrderedDict
from typing import Dict, List, Tuple

import numpy as np
import PIL
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tools"))

import safetensors_io  # noqa: E402

GENERATOR = "tests/reference/make_imagenet_transform_golden.py"
OUTPUT = os.path.join(ROOT, "tests", "golden", "imagenet_transform_cases.safetensors")

RESIZE_SHORT = 248
CROP = 224
MEAN = np.array([123.675, 116.28, 103.53], dtype=np.float32)  # float32, as mmpretrain's buffers
STD = np.array([58.395, 57.12, 57.375], dtype=np.float32)
SAMPLE_STEP = 37  # tensor[:, ::37, ::37]: rows and columns 0, 37, ..., 222

PATTERNS = (
    "uint8 [h, w, 3] RGB, C order. "
    "noise:S = numpy.random.RandomState(S).bytes(h * w * 3) (= std::mt19937(S) outputs, little-endian); "
    "gradient = (x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // max(w + h - 2, 1)); "
    "checker:C = (255, 0, 200) where (x // C + y // C) is odd, else (0, 255, 30); "
    "mixed:S:C = (noise:S red, gradient red, checker:C blue)"
)

# name, pattern, width, height: the whole pipeline (ResizeEdge 248, CenterCrop 224, normalize).
PIPELINE_CASES = [
    ("down_landscape_noise", "noise:1001", 500, 375),        # 330x248, x1 = 53
    ("down_portrait_gradient", "gradient", 480, 640),        # 248x330
    ("down_landscape_checker", "checker:16", 640, 480),      # 330x248, ringing clipped at 0 and 255
    ("up_portrait_mixed", "mixed:1002:5", 37, 53),           # 248x355, y1 = round(65.5) = 66
    ("up_square_checker", "checker:7", 100, 100),            # square: the height branch, 248x248
    ("same_size_checker", "checker:5", 248, 300),            # already 248: Pillow copies, y1 = 38
    ("crop_half_up_checker", "checker:20", 334, 250),        # 331x248, x1 = round(53.5) = 54
    ("crop_half_down_gradient", "gradient", 246, 183),       # 333x248, x1 = round(54.5) = 54
    ("crop_half_portrait_checker", "checker:19", 250, 334),  # 248x331, y1 = round(53.5) = 54
]

# name, pattern, width, height, out width, out height: resize_bicubic_pil alone.
RESIZE_CASES = [
    ("down8_noise", "noise:2001", 500, 375, 61, 47),  # 8x smaller: about 33 taps per output
    ("up_x_down_y_noise", "noise:2002", 37, 53, 200, 9),
    ("horizontal_only_checker", "checker:7", 640, 480, 97, 480),
    ("vertical_only_checker", "checker:7", 100, 100, 100, 37),
    ("near_identity_noise", "noise:2003", 64, 48, 63, 49),
    ("one_pixel_up_noise", "noise:2004", 1, 1, 3, 2),
    ("to_one_pixel_gradient", "gradient", 480, 640, 1, 1),
    ("tiny_up_noise", "noise:2005", 5, 4, 121, 83),
    ("thin_noise", "noise:2006", 7, 1, 2, 1),
    ("column_noise", "noise:2007", 1, 9, 1, 4),
    ("extreme_checker", "checker:3", 1500, 2, 3, 5),
    ("copy_noise", "noise:2008", 7, 5, 7, 5),
]


def pattern(spec: str, w: int, h: int) -> np.ndarray:
    """The procedural source picture `spec` (PATTERNS), uint8 [h, w, 3]."""
    kind, *args = spec.split(":")
    y, x = np.mgrid[0:h, 0:w].astype(np.int64)
    if kind == "noise":
        return np.frombuffer(np.random.RandomState(int(args[0])).bytes(h * w * 3), np.uint8).reshape(h, w, 3).copy()
    if kind == "gradient":
        return np.stack([x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), (x + y) * 255 // max(w + h - 2, 1)],
                        axis=-1).astype(np.uint8)
    if kind == "checker":
        cell = int(args[0])
        odd = ((x // cell + y // cell) % 2 == 1)[..., None]
        return np.where(odd, np.array([255, 0, 200], np.uint8), np.array([0, 255, 30], np.uint8)).astype(np.uint8)
    if kind == "mixed":
        noise, grad, check = pattern("noise:" + args[0], w, h), pattern("gradient", w, h), pattern("checker:" + args[1], w, h)
        return np.stack([noise[..., 0], grad[..., 0], check[..., 2]], axis=-1)
    raise ValueError(spec)


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def resize_edge(w: int, h: int, scale: int = RESIZE_SHORT) -> Tuple[int, int]:
    """mmpretrain ResizeEdge(edge='short').transform's (width, height)."""
    if w < h:
        return scale, int(scale * h / w)
    return int(scale * w / h), scale


def pillow_resize(img: np.ndarray, w: int, h: int) -> np.ndarray:
    """mmcv.imresize(img, (w, h), interpolation='bicubic', backend='pillow')."""
    return np.array(Image.fromarray(img).resize((w, h), Image.BICUBIC))


def center_crop(img: np.ndarray, crop: int = CROP) -> Tuple[np.ndarray, int, int]:
    """mmpretrain CenterCrop(crop_size=crop): the crop and its (x1, y1)."""
    img_height, img_width = img.shape[:2]
    y1 = max(0, int(round((img_height - crop) / 2.)))
    x1 = max(0, int(round((img_width - crop) / 2.)))
    y2 = min(img_height, y1 + crop) - 1
    x2 = min(img_width, x1 + crop) - 1
    return img[y1:y2 + 1, x1:x2 + 1], x1, y1


def normalize(img: np.ndarray) -> np.ndarray:
    """ClsDataPreprocessor: [H, W, 3] uint8 RGB -> [3, H, W] float32 (x - mean) / std."""
    return np.ascontiguousarray(((img.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1))


def png(img: np.ndarray) -> np.ndarray:
    """Lossless PNG bytes of an RGB picture, as a U8 tensor; checked by decoding it back."""
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, "PNG", optimize=True)
    data = buf.getvalue()
    assert np.array_equal(np.array(Image.open(io.BytesIO(data)).convert("RGB")), img)
    return np.frombuffer(data, np.uint8).copy()


def resize_edge_table() -> np.ndarray:
    """[N, 5] int32 rows (w, h, short edge, new w, new h): tall, wide, square, near-integer quotients."""
    pairs: List[Tuple[int, int, int]] = [
        (500, 375, 248), (375, 500, 248), (640, 480, 248), (480, 640, 248), (37, 53, 248), (53, 37, 248),
        (100, 100, 248), (248, 300, 248), (300, 248, 248), (248, 248, 248), (1, 1, 248), (1, 2, 248), (2, 1, 248),
        (334, 250, 248), (250, 334, 248), (246, 183, 248), (1920, 1080, 248), (1080, 1920, 248), (4000, 3000, 248),
        (600, 400, 248), (1, 65536, 248), (65536, 1, 248), (65536, 65535, 248), (500, 375, 256), (500, 375, 1),
        (3, 7, 65536), (7, 3, 65536), (640, 480, 224), (99, 100, 248), (100, 99, 248),
    ]
    # Quotients just below an integer: 248 * l / s with the largest fractional part, for s < 1000.
    near = []
    for s in range(2, 1000):
        for l in range(s + 1, 2 * s):
            q = 248 * l / s
            frac = q - math.floor(q)
            if frac > 1 - 1.5 / s and frac < 1:
                near.append((frac, s, l))
    near.sort(reverse=True)
    for _, s, l in near[:6]:
        pairs += [(s, l, 248), (l, s, 248)]
    rows = []
    for w, h, short in pairs:
        nw, nh = resize_edge(w, h, short)
        rows.append((w, h, short, nw, nh))
    return np.array(rows, dtype=np.int32)


def main() -> None:
    tensors: Dict[str, np.ndarray] = OrderedDict()
    meta: Dict[str, str] = {
        "generator": GENERATOR,
        "pillow": PIL.__version__,
        "numpy": np.__version__,
        "patterns": PATTERNS,
        "resize_short": str(RESIZE_SHORT),
        "crop": str(CROP),
        "mean": ",".join(repr(float(v)) for v in MEAN),
        "std": ",".join(repr(float(v)) for v in STD),
        "sample_step": str(SAMPLE_STEP),
        "pipeline_cases": ",".join(c[0] for c in PIPELINE_CASES),
        "resize_cases": ",".join(c[0] for c in RESIZE_CASES),
        "resized_png": "Pillow's resized uint8 [h, w, 3] RGB picture, PNG-encoded (lossless)",
        "tensor_sample": "normalized [3, 224, 224] tensor [:, ::sample_step, ::sample_step]",
        "tensor_fsum": "repr(math.fsum) of the whole normalized float32 tensor, in float64",
        "norm_table": "[3, 256] float32: (float32(v) - mean[c]) / std[c] in numpy float32 for every byte v",
        "resize_edge_cases": "[N, 5] int32: width, height, short edge, new width, new height (ResizeEdge)",
    }

    byte_values = np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=2)  # [1, 256, 3]
    table = normalize(byte_values)[:, 0, :]  # [3, 256]
    tensors["norm_table"] = table

    print(f"Pillow {PIL.__version__}, numpy {np.__version__}")
    for name, spec, w, h in PIPELINE_CASES:
        src = pattern(spec, w, h)
        nw, nh = resize_edge(w, h)
        resized = pillow_resize(src, nw, nh)
        crop, x1, y1 = center_crop(resized)
        assert crop.shape == (CROP, CROP, 3)
        tensor = normalize(crop)
        # The whole tensor is norm_table at Pillow's crop: the test rebuilds it from there.
        rebuilt = np.stack([table[c][crop[..., c]] for c in range(3)])
        assert rebuilt.tobytes() == tensor.tobytes(), name
        tensors[f"{name}.resized_png"] = png(resized)
        tensors[f"{name}.tensor_sample"] = np.ascontiguousarray(tensor[:, ::SAMPLE_STEP, ::SAMPLE_STEP])
        meta[f"{name}.pattern"] = spec
        meta[f"{name}.source"] = f"{w},{h}"
        meta[f"{name}.source_fnv1a64"] = fnv1a64(src.tobytes())
        meta[f"{name}.resized"] = f"{nw},{nh}"
        meta[f"{name}.resized_fnv1a64"] = fnv1a64(resized.tobytes())
        meta[f"{name}.crop_xy"] = f"{x1},{y1}"
        meta[f"{name}.tensor_fsum"] = repr(math.fsum(tensor.astype(np.float64).reshape(-1).tolist()))
        print(f"  {name}: {spec} {w}x{h} -> {nw}x{nh}, crop at ({x1}, {y1}), "
              f"PNG {tensors[name + '.resized_png'].size} bytes")

    for name, spec, w, h, ow, oh in RESIZE_CASES:
        src = pattern(spec, w, h)
        resized = pillow_resize(src, ow, oh)
        tensors[f"{name}.resized_png"] = png(resized)
        meta[f"{name}.pattern"] = spec
        meta[f"{name}.source"] = f"{w},{h}"
        meta[f"{name}.source_fnv1a64"] = fnv1a64(src.tobytes())
        meta[f"{name}.resized"] = f"{ow},{oh}"
        meta[f"{name}.resized_fnv1a64"] = fnv1a64(resized.tobytes())
        print(f"  {name}: {spec} {w}x{h} -> {ow}x{oh}, PNG {tensors[name + '.resized_png'].size} bytes")

    tensors["resize_edge_cases"] = resize_edge_table()
    safetensors_io.write(OUTPUT, tensors, meta)
    print(f"wrote {os.path.relpath(OUTPUT, ROOT)}: {os.path.getsize(OUTPUT)} bytes")


if __name__ == "__main__":
    main()
