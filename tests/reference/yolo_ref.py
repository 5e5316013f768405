"""YOLOv5 (release v7.0) head on the RIFormer backbone, NMS and letterbox, in plain PyTorch/numpy.

The reference for shared/spec/MODEL.md sections 2 and 3, written without a
YOLOv5 checkout (nor torchvision, nor OpenCV):

* Conv / Bottleneck / C3 / SPPF / Concat / Detect are YOLOv5 v7.0's
  models/common.py and models/yolo.py, with BatchNorm eps 1e-3, momentum 0.03
  (what YOLOv5's initialize_weights sets).
* DetectionModel assembles the seed's yaml (RIFormer at model.0, then SPPF,
  ...), with the seed's parse_model channel arithmetic and its _forward_once
  (the backbone fills y[0..4] = [None, P2, P3, P4, P5]), so state_dict keys
  are exactly `model.N.`-prefixed as in MODEL.md's table.
* non_max_suppression follows YOLOv5 v7.0 utils/general.py with a numpy
  re-implementation of torchvision.ops.nms (see `nms` for exact semantics).
* letterbox / scale_boxes follow utils/augmentations.py and utils/general.py;
  the resize emulates OpenCV's INTER_LINEAR fixed-point path (see `resize_linear_u8`).
"""

from __future__ import annotations

import math
import os
import sys
from typing import List, Optional, Sequence, Tuple, Union

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import riformer_ref as R  # noqa: E402

ANCHORS = [[10, 13, 16, 30, 33, 23], [30, 61, 62, 45, 59, 119], [116, 90, 156, 198, 373, 326]]
STRIDES = [8.0, 16.0, 32.0]
DEPTH_MULTIPLE = 0.33
WIDTH_MULTIPLE = 0.25
BN_EPS = 1e-3
BN_MOMENTUM = 0.03
MAX_WH = 7680          # class offset of batched NMS
MAX_NMS = 30000        # candidates kept for NMS after sorting
MAX_DET = 300


def make_divisible(x: float, divisor: int = 8) -> int:
    """YOLOv5: channels rounded up to a multiple of divisor."""
    return int(math.ceil(x / divisor) * divisor)


def autopad(k: int, p: Optional[int] = None) -> int:
    return k // 2 if p is None else p


# ----------------------------------------------------------------------------
# Building blocks (models/common.py, v7.0)


class Conv(nn.Module):
    """Conv2d (no bias) -> BatchNorm2d(eps 1e-3) -> SiLU."""

    def __init__(self, c1: int, c2: int, k: int = 1, s: int = 1, p: Optional[int] = None):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, autopad(k, p), bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    """cv1 1x1, cv2 3x3; residual only when shortcut (never in this head)."""

    def __init__(self, c1: int, c2: int, shortcut: bool = True, e: float = 0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_, c2, 3, 1)
        self.add = shortcut and c1 == c2

    def forward(self, x):
        return x + self.cv2(self.cv1(x)) if self.add else self.cv2(self.cv1(x))


class C3(nn.Module):
    """cv3(cat(m(cv1(x)), cv2(x))) with n Bottlenecks (e=1.0) in m."""

    def __init__(self, c1: int, c2: int, n: int = 1, shortcut: bool = True, e: float = 0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c1, c_, 1, 1)
        self.cv3 = Conv(2 * c_, c2, 1)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, e=1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class SPPF(nn.Module):
    """cv2(cat(x, p(x), p(p(x)), p(p(p(x))))) with x = cv1(input), p = maxpool k5 s1 p2."""

    def __init__(self, c1: int, c2: int, k: int = 5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_, 1, 1)
        self.cv2 = Conv(c_ * 4, c2, 1, 1)
        self.m = nn.MaxPool2d(kernel_size=k, stride=1, padding=k // 2)

    def forward(self, x):
        x = self.cv1(x)
        y1 = self.m(x)
        y2 = self.m(y1)
        return self.cv2(torch.cat((x, y1, y2, self.m(y2)), 1))


class Concat(nn.Module):
    def __init__(self, dimension: int = 1):
        super().__init__()
        self.d = dimension

    def forward(self, x):
        return torch.cat(x, self.d)


class Detect(nn.Module):
    """YOLOv5 v7.0 Detect: 1x1 conv per level; in eval mode also the decoded boxes.

    The anchors buffer holds anchors / stride (grid units), shape [nl, na, 2].
    Decode (v7.0 arithmetic, float32): s = sigmoid(raw);
      grid = (col, row) - 0.5;  xy = (s_xy * 2 + grid) * stride
      wh = (s_wh * 2) ** 2 * (anchors * stride);  obj, cls = s
    """

    def __init__(self, nc: int = 80, anchors=ANCHORS, ch: Sequence[int] = (), strides=STRIDES):
        super().__init__()
        self.nc = nc
        self.no = nc + 5
        self.nl = len(anchors)
        self.na = len(anchors[0]) // 2
        self.grid = [torch.empty(0) for _ in range(self.nl)]
        self.anchor_grid = [torch.empty(0) for _ in range(self.nl)]
        self.stride = torch.tensor(strides, dtype=torch.float32)
        a = torch.tensor(anchors).float().view(self.nl, -1, 2)
        self.register_buffer("anchors", a / self.stride.view(-1, 1, 1))
        self.m = nn.ModuleList(nn.Conv2d(x, self.no * self.na, 1) for x in ch)

    def forward(self, x: List[torch.Tensor]):
        z = []
        x = list(x)
        for i in range(self.nl):
            x[i] = self.m[i](x[i])
            bs, _, ny, nx = x[i].shape
            x[i] = x[i].view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
            if not self.training:
                self.grid[i], self.anchor_grid[i] = self._make_grid(nx, ny, i)
                xy, wh, conf = x[i].sigmoid().split((2, 2, self.nc + 1), 4)
                xy = (xy * 2 + self.grid[i]) * self.stride[i]
                wh = (wh * 2) ** 2 * self.anchor_grid[i]
                y = torch.cat((xy, wh, conf), 4)
                z.append(y.view(bs, self.na * nx * ny, self.no))
        return x if self.training else (torch.cat(z, 1), x)

    def _make_grid(self, nx: int, ny: int, i: int):
        d, t = self.anchors[i].device, self.anchors[i].dtype
        shape = 1, self.na, ny, nx, 2
        y, x = torch.arange(ny, device=d, dtype=t), torch.arange(nx, device=d, dtype=t)
        yv, xv = torch.meshgrid(y, x, indexing="ij")
        grid = torch.stack((xv, yv), 2).expand(shape) - 0.5
        anchor_grid = (self.anchors[i] * self.stride[i]).view((1, self.na, 1, 1, 2)).expand(shape)
        return grid, anchor_grid


# ----------------------------------------------------------------------------
# The seed's yaml


def yaml_dict(arch: Union[str, dict], nc: int) -> dict:
    """The seed's model yaml as a dict (with the backbone arch filled in; the seed's `False` is a copy error)."""
    return {
        "nc": nc, "depth_multiple": DEPTH_MULTIPLE, "width_multiple": WIDTH_MULTIPLE,
        "anchors": [list(a) for a in ANCHORS],
        "backbone": [[-1, 1, "RIFormer", [arch]], [-1, 1, "SPPF", [1024, 5]]],
        "head": [[-1, 1, "Conv", [512, 1, 1]],
                 [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
                 [[-1, 3], 1, "Concat", [1]],
                 [-1, 3, "C3", [512, False]],
                 [-1, 1, "Conv", [256, 1, 1]],
                 [-1, 1, "nn.Upsample", [None, 2, "nearest"]],
                 [[-1, 2], 1, "Concat", [1]],
                 [-1, 3, "C3", [256, False]],
                 [-1, 1, "Conv", [256, 3, 2]],
                 [[-1, 10], 1, "Concat", [1]],
                 [-1, 3, "C3", [512, False]],
                 [-1, 1, "Conv", [512, 3, 2]],
                 [[-1, 5], 1, "Concat", [1]],
                 [-1, 3, "C3", [1024, False]],
                 [[13, 16, 19], 1, "Detect", ["nc", "anchors"]]],
    }


def parse_model(d: dict) -> Tuple[nn.Sequential, List[int]]:
    """The seed's parse_model, restricted to the modules of its yaml.

    Returns the nn.Sequential (positions = state_dict `model.N.` prefixes) and
    the sorted save list of y indices.  Each module gets .i (its YOLOv5 index,
    position + 4 once the backbone is in) and .f (its `from`).
    """
    nc, gd, gw = d["nc"], d["depth_multiple"], d["width_multiple"]
    na = len(d["anchors"][0]) // 2
    no = na * (nc + 5)
    blocks = {"SPPF": SPPF, "Conv": Conv, "C3": C3, "Concat": Concat, "Detect": Detect}
    layers, save, ch = [], [], [3]
    is_backbone = False
    for i, (f, n, m, args) in enumerate(d["backbone"] + d["head"]):
        args = list(args)
        n = max(round(n * gd), 1) if n > 1 else n
        if m == "RIFormer":
            module = R.RIFormer(args[0], out_indices=[0, 2, 4, 6])
            c2 = [dim for dim in module.arch["embed_dims"]]
        elif m in ("Conv", "SPPF", "C3"):
            c1, c2 = ch[f], args[0]
            if c2 != no:
                c2 = make_divisible(c2 * gw, 8)
            args = [c1, c2, *args[1:]]
            if m == "C3":
                args.insert(2, n)
                n = 1
            module = blocks[m](*args)
        elif m == "nn.Upsample":
            module = nn.Upsample(None, 2, "nearest")
            c2 = ch[f]
        elif m == "Concat":
            module = Concat(1)
            c2 = sum(ch[x] for x in f)
        elif m == "Detect":
            module = Detect(nc, d["anchors"], [ch[x] for x in f])
            c2 = None
        else:
            raise ValueError(f"module {m} is not in the seed's yaml")
        if isinstance(c2, list):
            is_backbone = True
            module.backbone = True
        assert n == 1, "every layer of the seed's yaml has one repeat after depth_multiple"
        module.i, module.f = (i + 4 if is_backbone else i), f
        save.extend(x % (i + 4 if is_backbone else i) for x in ([f] if isinstance(f, int) else f) if x != -1)
        layers.append(module)
        if i == 0:
            ch = []
        if isinstance(c2, list):
            ch.extend(c2)
            for _ in range(5 - len(ch)):
                ch.insert(0, 0)
        else:
            ch.append(c2)
    return nn.Sequential(*layers), sorted(save)


class DetectionModel(nn.Module):
    """The whole detector; forward in eval mode returns (pred [B, N, nc+5], [head0, head1, head2])."""

    def __init__(self, arch: Union[str, dict] = "s12", nc: int = 80):
        super().__init__()
        self.yaml = yaml_dict(arch, nc)
        self.model, self.save = parse_model(self.yaml)
        self.names = [str(i) for i in range(nc)]
        self.stride = torch.tensor(STRIDES)
        self.backbone_outputs: List[torch.Tensor] = []

    def forward(self, x):
        """The seed's _forward_once: a backbone fills y[0..4], others append one entry."""
        y = []
        for m in self.model:
            if m.f != -1:
                x = y[m.f] if isinstance(m.f, int) else [x if j == -1 else y[j] for j in m.f]
            if hasattr(m, "backbone"):
                x = m(x)
                self.backbone_outputs = list(x)
                for _ in range(5 - len(x)):
                    x.insert(0, None)
                for i_idx, i in enumerate(x):
                    y.append(i if i_idx in self.save else None)
                x = x[-1]
            else:
                x = m(x)
                y.append(x if m.i in self.save else None)
        return x

    def detect_layer(self) -> Detect:
        return self.model[-1]


def build_detector(arch: Union[str, dict], nc: int) -> DetectionModel:
    return DetectionModel(arch, nc).float().eval()


def synthetic_detector(arch: Union[str, dict], nc: int) -> DetectionModel:
    """A detector with every state_dict entry from the synthetic formula under its full `model.N.` key.

    BN running statistics are synthesized too; num_batches_tracked is left
    alone and the anchors buffer keeps the spec's anchors.
    """
    model = build_detector(arch, nc)
    R.fill_synthetic(model, prefix="")
    return model


# ----------------------------------------------------------------------------
# NMS (utils/general.py non_max_suppression, v7.0), numpy


def xywh2xyxy(x: np.ndarray) -> np.ndarray:
    """[cx, cy, w, h] -> [x1, y1, x2, y2] in float32 (w/2 exact, one rounding per add/sub)."""
    x = x.astype(np.float32)
    y = x.copy()
    half_w = x[..., 2] / np.float32(2)
    half_h = x[..., 3] / np.float32(2)
    y[..., 0] = x[..., 0] - half_w
    y[..., 1] = x[..., 1] - half_h
    y[..., 2] = x[..., 0] + half_w
    y[..., 3] = x[..., 1] + half_h
    return y


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thres: float, max_keep: Optional[int] = None) -> np.ndarray:
    """torchvision.ops.nms (CPU kernel) semantics in float32.

    Order: scores descending, ties by index (stable).  Greedy: a box not yet
    suppressed is kept and suppresses every later box with
    IoU = inter / (area_i + area_j - inter) > iou_thres, where
    area = (x2 - x1) * (y2 - y1) (no +1), inter = max(0, min x2 - max x1) *
    max(0, min y2 - max y1), all float32, evaluated left to right.
    A 0/0 IoU (two zero-area boxes) is NaN and suppresses nothing.
    max_keep stops after that many kept boxes (same result as truncating).
    """
    boxes = boxes.astype(np.float32)
    n = boxes.shape[0]
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    x1, y1, x2, y2 = (boxes[:, k].copy() for k in range(4))
    areas = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores.astype(np.float32), kind="stable")
    suppressed = np.zeros(n, dtype=bool)
    thr = np.float32(iou_thres)
    keep = []
    for _i in range(n):
        i = order[_i]
        if suppressed[i]:
            continue
        keep.append(i)
        if max_keep is not None and len(keep) >= max_keep:
            break
        rest = order[_i + 1:]
        rest = rest[~suppressed[rest]]
        if rest.size == 0:
            continue
        xx1 = np.maximum(x1[i], x1[rest])
        yy1 = np.maximum(y1[i], y1[rest])
        xx2 = np.minimum(x2[i], x2[rest])
        yy2 = np.minimum(y2[i], y2[rest])
        w = np.maximum(np.float32(0), xx2 - xx1)
        h = np.maximum(np.float32(0), yy2 - yy1)
        inter = w * h
        with np.errstate(invalid="ignore", divide="ignore"):
            ovr = inter / ((areas[i] + areas[rest]) - inter)
            suppressed[rest[ovr > thr]] = True
    return np.asarray(keep, dtype=np.int64)


def non_max_suppression(pred: np.ndarray, conf_thres: float = 0.25, iou_thres: float = 0.45,
                        classes: Optional[Sequence[int]] = None, agnostic: bool = False,
                        max_det: int = MAX_DET, max_nms: int = MAX_NMS, max_wh: float = MAX_WH) -> np.ndarray:
    """YOLOv5 v7.0 NMS of one image: pred [N, 5 + nc] (xywh, obj, cls...) -> [K, 6] (x1, y1, x2, y2, conf, cls).

    Exact semantics (float32 throughout; thresholds compared as float32, as
    PyTorch compares a float32 tensor with a Python scalar):
      1. keep rows with obj > conf_thres;
      2. cls scores *= obj (conf = obj * cls);
      3. best class = first index of the maximum conf; keep conf > conf_thres;
      4. optional class filter;
      5. sort by conf descending (stable: ties keep row order), keep the first max_nms;
      6. NMS (see `nms`) on boxes + class * max_wh (0 when agnostic; float32 add);
      7. at most max_det rows, in NMS keep order (conf descending).
    """
    pred = np.asarray(pred, dtype=np.float32)
    nc = pred.shape[1] - 5
    thr = np.float32(conf_thres)
    x = pred[pred[:, 4] > thr].copy()
    if x.shape[0] == 0:
        return np.zeros((0, 6), dtype=np.float32)
    x[:, 5:] *= x[:, 4:5]
    box = xywh2xyxy(x[:, :4])
    cls_scores = x[:, 5:5 + nc]
    j = np.argmax(cls_scores, axis=1)
    conf = cls_scores[np.arange(x.shape[0]), j]
    det = np.concatenate([box, conf[:, None], j[:, None].astype(np.float32)], axis=1).astype(np.float32)
    det = det[conf > thr]
    if classes is not None:
        det = det[np.isin(det[:, 5], np.asarray(classes, dtype=np.float32))]
    if det.shape[0] == 0:
        return np.zeros((0, 6), dtype=np.float32)
    det = det[np.argsort(-det[:, 4], kind="stable")[:max_nms]]
    c = det[:, 5:6] * np.float32(0 if agnostic else max_wh)
    boxes = det[:, :4] + c
    keep = nms(boxes, det[:, 4], iou_thres, max_keep=max_det)
    return det[keep[:max_det]]


# ----------------------------------------------------------------------------
# Letterbox and box mapping (utils/augmentations.py, utils/general.py)


INTER_RESIZE_COEF_BITS = 11
INTER_RESIZE_COEF_SCALE = 1 << INTER_RESIZE_COEF_BITS


def _linear_taps(src: int, dst: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: (left source index, right source index, 11-bit weights [2]) as OpenCV computes them.

    scale = 1 / (dst / src) in float64; f = float32((d + 0.5) * scale - 0.5);
    s = floor(f); f -= s (float32); s < 0 -> (s, f) = (0, 0);
    s >= src - 1 -> (s, f) = (src - 1, 0); weights = (rint((1 - f) * 2048),
    rint(f * 2048)) with 1 - f in float32 and rint rounding half to even.
    """
    scale = 1.0 / (float(dst) / float(src))
    d = np.arange(dst, dtype=np.float64)
    f = ((d + 0.5) * scale - 0.5).astype(np.float32)
    s = np.floor(f).astype(np.int64)
    f = (f - s.astype(np.float32)).astype(np.float32)
    low = s < 0
    f[low] = 0
    s[low] = 0
    high = s >= src - 1
    f[high] = 0
    s[high] = src - 1
    w0 = np.rint((np.float32(1) - f).astype(np.float32) * np.float32(INTER_RESIZE_COEF_SCALE)).astype(np.int64)
    w1 = np.rint(f * np.float32(INTER_RESIZE_COEF_SCALE)).astype(np.int64)
    s1 = np.minimum(s + 1, src - 1)
    return s, s1, np.stack([w0, w1], axis=1)


def resize_linear_u8(img: np.ndarray, new_w: int, new_h: int) -> np.ndarray:
    """cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR) for uint8 HxWxC, emulated.

    OpenCV's generic fixed-point path: half-pixel centers, edge clamp, 11-bit
    weights per axis (`_linear_taps`); horizontal sums
    h = p[s0] * wx0 + p[s1] * wx1 (integers), then
    out = (h[row0] * wy0 + h[row1] * wy1 + 2**21) >> 22, clamped to [0, 255].
    Real OpenCV builds may take SIMD/IPP paths that round differently by at
    most one gray level; geometry and weights are identical.
    """
    img = np.asarray(img, dtype=np.uint8)
    h, w = img.shape[:2]
    xs0, xs1, wx = _linear_taps(w, new_w)
    ys0, ys1, wy = _linear_taps(h, new_h)
    src = img.astype(np.int64)
    horiz = src[:, xs0, :] * wx[None, :, 0:1] + src[:, xs1, :] * wx[None, :, 1:2]       # [h, new_w, C]
    acc = horiz[ys0, :, :] * wy[:, 0, None, None] + horiz[ys1, :, :] * wy[:, 1, None, None]
    out = (acc + (1 << (2 * INTER_RESIZE_COEF_BITS - 1))) >> (2 * INTER_RESIZE_COEF_BITS)
    return np.clip(out, 0, 255).astype(np.uint8)


def letterbox(img: np.ndarray, new_shape: Tuple[int, int], color: int = 114):
    """YOLOv5 letterbox with auto=False (pad to the full target, as MODEL.md states).

    img: uint8 HxWx3 (RGB).  r = min(H_t / h, W_t / w) (float64);
    new size (round(w * r), round(h * r)) with Python's round (half to even);
    resized with `resize_linear_u8` unless already that size; padded with
    `color` by top = round(dh / 2 - 0.1), bottom = round(dh / 2 + 0.1),
    left/right likewise (dh, dw = total padding).
    Returns (uint8 H_t x W_t x 3, r, (dw / 2, dh / 2), (top, left)).
    """
    h, w = img.shape[:2]
    ht, wt = new_shape
    r = min(ht / h, wt / w)
    new_unpad = int(round(w * r)), int(round(h * r))
    dw, dh = (wt - new_unpad[0]) / 2, (ht - new_unpad[1]) / 2
    if (w, h) != new_unpad:
        img = resize_linear_u8(img, new_unpad[0], new_unpad[1])
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    out = np.full((ht, wt, img.shape[2]), color, dtype=np.uint8)
    out[top:top + img.shape[0], left:left + img.shape[1]] = img
    assert top + img.shape[0] + bottom == ht and left + img.shape[1] + right == wt
    return out, r, (dw, dh), (top, left)


def to_tensor(img: np.ndarray) -> np.ndarray:
    """uint8 HxWx3 RGB -> float32 [1, 3, H, W] in [0, 1]: float32(v) / 255 (one float32 division)."""
    x = np.ascontiguousarray(img.transpose(2, 0, 1))[None].astype(np.float32)
    return x / np.float32(255.0)


def scale_boxes(img1_shape: Tuple[int, int], boxes: np.ndarray, img0_shape: Tuple[int, int]) -> np.ndarray:
    """YOLOv5 scale_boxes (ratio_pad=None) + clip_boxes: letterboxed coords -> original image coords.

    gain = min(H1 / H0, W1 / W0); pad = ((W1 - W0 * gain) / 2, (H1 - H0 * gain) / 2)
    (float64, unrounded); x -= pad_x, y -= pad_y, /= gain, clip x to [0, W0],
    y to [0, H0].  Box tensors are float32 (torch float32 op float64 scalar
    computes in float32 with the scalar rounded to float32).
    """
    h1, w1 = img1_shape
    h0, w0 = img0_shape
    gain = min(h1 / h0, w1 / w0)
    pad = (w1 - w0 * gain) / 2, (h1 - h0 * gain) / 2
    b = np.asarray(boxes, dtype=np.float32).copy()
    b[:, [0, 2]] -= np.float32(pad[0])
    b[:, [1, 3]] -= np.float32(pad[1])
    b[:, :4] /= np.float32(gain)
    b[:, [0, 2]] = np.clip(b[:, [0, 2]], 0, w0)
    b[:, [1, 3]] = np.clip(b[:, [1, 3]], 0, h0)
    return b
