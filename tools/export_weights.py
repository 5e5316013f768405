#!/usr/bin/env python3
"""Convert a PyTorch RIFormer / YOLOv5-RIFormer checkpoint to safetensors for the C++ library.

Why: the C++ library reads safetensors only (no pickle, no PyTorch).  This
tool is the one place that understands PyTorch checkpoints, and it must work
on a machine that has PyTorch but none of the training code (mmpretrain,
mmcv, mmengine, a YOLOv5 checkout): unknown classes in the pickle become inert
placeholder objects and only the tensors are taken.
"""

from __future__ import annotations

import argparse
import io
import os
import pickle
import re
import sys
import types
from collections import OrderedDict
from typing import Dict, List, Optional, Tuple

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

EPILOG = """\
input checkpoints (.pth / .pt, read with torch.load(map_location='cpu')):
  * a raw state_dict (name -> tensor);
  * an mmpretrain/mmengine checkpoint: a dict whose 'state_dict' holds the
    tensors (keys 'backbone.patch_embed.proj.weight', ..., 'head.fc.weight');
  * a YOLOv5 checkpoint of the RIFormer detector: a dict whose 'ema' (preferred
    when not None, as YOLOv5's detect.py does) or 'model' entry is the whole
    nn.Module; its state_dict is rebuilt from the objects' _parameters,
    _buffers and _modules, so no YOLOv5 checkout is needed (one on sys.path /
    PYTHONPATH also works);
  * a plain detector state_dict (keys 'model.0.patch_embed.proj.weight', ...).
  Classes whose module cannot be imported (mmengine config objects, numpy
  scalars of another numpy version, YOLOv5 modules, ...) are unpickled as
  inert placeholders.  As with torch.load itself, only open checkpoints you
  trust: unpickling can run code of importable modules.

output (safetensors):
  * every tensor of the state_dict under its original key, prefix included
    ('backbone.', 'model.N.'), including non-backbone entries such as
    'head.fc.*'; 'num_batches_tracked' and non-tensor entries are dropped;
  * floating-point tensors converted to --dtype (f32: exact; f16: round to
    nearest, an error if a finite value overflows; bf16: round to nearest
    even); a checkpoint stored in f16/bf16 is first widened to f32 exactly;
  * --deploy folds every training-form RIFormer block
        norm_reparam.weight = norm1.weight * (affine.weight - 1)
        norm_reparam.bias   = norm1.bias * (affine.weight - 1) + affine.bias
    in float32 (mmpretrain's switch_to_deploy) and drops norm1.* and
    token_mixer.affine.*; deploy-form input passes through unchanged.

metadata (__metadata__, all strings):
  format          riformer-backbone | yolov5-riformer
  arch            s12 s24 s36 m36 m48 (inferred from shapes) or custom
  form            training | deploy (of the written file)
  depths          blocks per stage, e.g. 2,2,6,2 (counted)
  dims            channels per stage, e.g. 64,128,320,512
  mlp_ratios      fc1 width / dim per stage, e.g. 4,4,4,4
  out_indices     network indices that have a norm{i}, e.g. 0,2,4,6
  prefix          key prefix of the backbone, e.g. 'backbone.' or 'model.0.'
  dtype           f32 | f16 | bf16
  source          input file name
  detector files also: nc, anchors (pixels, comma-separated, 18 numbers),
  strides (8,16,32), width_multiple, depth_multiple, head_prefix ('model.')
  ImageNet classifiers (a 'head.fc.weight' beside the backbone) also: classes
  (its rows), for riformer::load_classifier and `riformer classify`

--arch NAME states the expected arch (s12 s24 s36 m36 m48 or custom); if the
shapes say otherwise the export fails and names expected and found shapes.

exit codes: 0 written; 2 bad input (missing file, not a checkpoint, no
RIFormer keys, mixed training/deploy blocks, inconsistent shapes) with a
message naming the file.
"""

ARCHS = {
    "s12": ([2, 2, 6, 2], [64, 128, 320, 512], [4, 4, 4, 4]),
    "s24": ([4, 4, 12, 4], [64, 128, 320, 512], [4, 4, 4, 4]),
    "s36": ([6, 6, 18, 6], [64, 128, 320, 512], [4, 4, 4, 4]),
    "m36": ([6, 6, 18, 6], [96, 192, 384, 768], [4, 4, 4, 4]),
    "m48": ([8, 8, 24, 8], [96, 192, 384, 768], [4, 4, 4, 4]),
}
DEFAULT_ANCHORS = [10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326]
DEFAULT_STRIDES = [8, 16, 32]


class ExportError(Exception):
    """A user-facing error; main() prints it and exits with code 2."""


# ----------------------------------------------------------------------------
# Lenient unpickling


class Placeholder:
    """Stands in for an object whose class cannot be imported.

    It accepts any constructor arguments and any pickled state, so unpickling
    goes through; an nn.Module's state (its __dict__ with _parameters,
    _buffers, _modules) ends up in the placeholder's __dict__ and can be
    walked to rebuild the state_dict.
    """

    _placeholder_for = "?"

    def __new__(cls, *args, **kwargs):
        obj = object.__new__(cls)
        obj.__dict__["_placeholder_args"] = args
        return obj

    def __init__(self, *args, **kwargs):
        pass

    def __setstate__(self, state):
        if isinstance(state, tuple) and len(state) == 2 and (state[0] is None or isinstance(state[0], dict)):
            state, slots = state
            if isinstance(slots, dict):
                self.__dict__.update(slots)
        if isinstance(state, dict):
            self.__dict__.update(state)
        else:
            self.__dict__["_placeholder_state"] = state

    # Subclasses of dict / list (e.g. mmengine's ConfigDict) are rebuilt with
    # SETITEMS / APPENDS: keep the items so nothing fails.
    def __setitem__(self, key, value):
        self.__dict__.setdefault("_placeholder_items", {})[key] = value

    def __getitem__(self, key):
        return self.__dict__.get("_placeholder_items", {})[key]

    def append(self, value):
        self.__dict__.setdefault("_placeholder_list", []).append(value)

    def extend(self, values):
        self.__dict__.setdefault("_placeholder_list", []).extend(values)

    def __repr__(self):
        return f"<placeholder for {self._placeholder_for}>"


_PLACEHOLDERS: Dict[Tuple[str, str], type] = {}


def placeholder_class(module: str, name: str) -> type:
    key = (module, name)
    if key not in _PLACEHOLDERS:
        _PLACEHOLDERS[key] = type(name, (Placeholder,), {"__module__": module,
                                                        "_placeholder_for": f"{module}.{name}"})
    return _PLACEHOLDERS[key]


class LenientUnpickler(pickle.Unpickler):
    """pickle.Unpickler whose find_class falls back to a placeholder class."""

    def find_class(self, module, name):
        try:
            return super().find_class(module, name)
        except (ImportError, AttributeError, TypeError, ValueError, SyntaxError):
            return placeholder_class(module, name)


def _lenient_load(file, **kwargs):
    return LenientUnpickler(file, **kwargs).load()


def _lenient_loads(data, **kwargs):
    return LenientUnpickler(io.BytesIO(data), **kwargs).load()


lenient_pickle = types.ModuleType("lenient_pickle")
lenient_pickle.Unpickler = LenientUnpickler
lenient_pickle.load = _lenient_load
lenient_pickle.loads = _lenient_loads
lenient_pickle.__dict__["UnpicklingError"] = pickle.UnpicklingError


def load_checkpoint(path: str):
    """torch.load(path, map_location='cpu') with the lenient pickle module."""
    import torch

    if not os.path.exists(path):
        raise ExportError(f"{path}: no such file")
    if not os.path.isfile(path):
        raise ExportError(f"{path}: not a file")
    kwargs = {"map_location": "cpu", "pickle_module": lenient_pickle}
    try:
        import inspect
        if "weights_only" in inspect.signature(torch.load).parameters:
            kwargs["weights_only"] = False
    except (TypeError, ValueError):
        pass
    # torch 1.13.0 ignores pickle_module when weights_only is False (it resets
    # it to the pickle module), so pickle.Unpickler itself is swapped for the
    # duration of the call; torch subclasses it at call time.
    saved = pickle.Unpickler
    pickle.Unpickler = LenientUnpickler
    try:
        return torch.load(path, **kwargs)
    except Exception as e:  # torch raises many kinds (RuntimeError, UnpicklingError, EOFError, ...)
        raise ExportError(f"{path}: not a PyTorch checkpoint ({type(e).__name__}: {e})") from None
    finally:
        pickle.Unpickler = saved


# ----------------------------------------------------------------------------
# Finding the state_dict


def _is_tensor(x) -> bool:
    import torch
    return isinstance(x, torch.Tensor)


def module_state_dict(obj, prefix: str = "", out=None) -> "OrderedDict[str, object]":
    """The state_dict of an nn.Module or of a placeholder standing in for one.

    Walks _parameters, _buffers (minus _non_persistent_buffers_set) and
    _modules recursively, in that order, as nn.Module.state_dict does.
    """
    import torch.nn as nn

    if out is None:
        out = OrderedDict()
    if isinstance(obj, nn.Module) and type(obj).state_dict is nn.Module.state_dict and prefix == "":
        try:
            return OrderedDict(obj.state_dict())
        except Exception:
            pass  # a real module with placeholder children: walk it
    d = getattr(obj, "__dict__", {})
    non_persistent = d.get("_non_persistent_buffers_set", set()) or set()
    for name, p in (d.get("_parameters") or {}).items():
        if p is not None:
            out[prefix + name] = p
    for name, b in (d.get("_buffers") or {}).items():
        if b is not None and name not in non_persistent:
            out[prefix + name] = b
    for name, m in (d.get("_modules") or {}).items():
        if m is not None:
            module_state_dict(m, prefix + name + ".", out)
    return out


def _looks_like_module(obj) -> bool:
    d = getattr(obj, "__dict__", None)
    return isinstance(d, dict) and "_modules" in d and "_parameters" in d


def extract_state_dict(obj, path: str):
    """(state_dict, model object or None, where) from whatever torch.load returned."""
    if _looks_like_module(obj):
        return module_state_dict(obj), obj, "a whole model object"
    if isinstance(obj, Placeholder) and "_placeholder_items" in obj.__dict__:
        obj = obj.__dict__["_placeholder_items"]
    if not isinstance(obj, dict):
        raise ExportError(f"{path}: not a checkpoint (torch.load returned {type(obj).__name__}, "
                          "expected a dict or a model)")
    if isinstance(obj.get("state_dict"), dict):
        return obj["state_dict"], None, "'state_dict'"
    for key in ("ema", "model"):
        entry = obj.get(key)
        if entry is None:
            continue
        if _looks_like_module(entry):
            return module_state_dict(entry), entry, f"'{key}' (a whole model object)"
        if isinstance(entry, dict) and any(_is_tensor(v) for v in entry.values()):
            return entry, None, f"'{key}'"
    if any(_is_tensor(v) for v in obj.values()):
        return obj, None, "a raw state_dict"
    raise ExportError(f"{path}: not a checkpoint: no tensors found (top-level keys: "
                      f"{', '.join(map(str, list(obj)[:12]))})")


# ----------------------------------------------------------------------------
# Backbone structure


def _fmt_num(x: float) -> str:
    x = float(x)
    return str(int(x)) if x.is_integer() else repr(x)


def _join(xs) -> str:
    return ",".join(_fmt_num(x) for x in xs)


def _shape(t) -> List[int]:
    return [int(s) for s in t.shape]


class Backbone:
    """What the shapes say about one RIFormer backbone in a state_dict."""

    def __init__(self, prefix, depths, dims, hidden, form, out_indices, in_channels):
        self.prefix, self.depths, self.dims, self.hidden = prefix, depths, dims, hidden
        self.form, self.out_indices, self.in_channels = form, out_indices, in_channels
        self.mlp_ratios = [h / d for h, d in zip(hidden, dims)]

    def arch_name(self) -> str:
        for name, (l, d, r) in ARCHS.items():
            if self.depths == l and self.dims == d and self.mlp_ratios == r:
                return name
        return "custom"

    def describe(self) -> str:
        return (f"layers {_join(self.depths)}, dims {_join(self.dims)}, mlp ratios {_join(self.mlp_ratios)} "
                f"({self.prefix}network.0.0.mlp.fc1.weight {[self.hidden[0], self.dims[0], 1, 1]})")


def find_backbone_prefix(sd, path: str) -> str:
    prefixes = sorted({k[: -len("patch_embed.proj.weight")] for k in sd
                       if k.endswith("patch_embed.proj.weight")})
    if not prefixes:
        sample = ", ".join(list(sd)[:6])
        raise ExportError(f"{path}: no RIFormer keys found (no '...patch_embed.proj.weight'; "
                          f"first keys: {sample})")
    if len(prefixes) > 1:
        raise ExportError(f"{path}: several RIFormer backbones found (prefixes {prefixes})")
    return prefixes[0]


def analyze_backbone(sd, prefix: str, path: str) -> Backbone:
    """Count blocks, read dims and hidden widths, check every backbone key and shape."""
    def get(name):
        return sd.get(prefix + name)

    def fail(msg):
        raise ExportError(f"{path}: inconsistent RIFormer shapes: {msg}")

    pe = get("patch_embed.proj.weight")
    if pe.dim() != 4 or list(pe.shape[2:]) != [7, 7]:
        fail(f"{prefix}patch_embed.proj.weight is {_shape(pe)}, expected [d0, in_channels, 7, 7]")
    d0, in_ch = int(pe.shape[0]), int(pe.shape[1])
    expected: Dict[str, List[int]] = {"patch_embed.proj.weight": [d0, in_ch, 7, 7], "patch_embed.proj.bias": [d0]}
    depths, dims, hidden, forms = [], [], [], {}
    block_re = re.compile(re.escape(prefix) + r"network\.(\d+)\.(\d+)\.")
    present: Dict[int, set] = {}
    for k in sd:
        m = block_re.match(k)
        if m:
            present.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    for s in range(4):
        idx = 2 * s
        blocks = present.get(idx, set())
        if not blocks:
            fail(f"stage {s} has no blocks (no '{prefix}network.{idx}.0.*' keys)")
        n = max(blocks) + 1
        if blocks != set(range(n)):
            fail(f"stage {s} blocks are not numbered 0..{n - 1}: {sorted(blocks)}")
        n2 = get(f"network.{idx}.0.norm2.weight")
        if n2 is None:
            fail(f"missing {prefix}network.{idx}.0.norm2.weight")
        d = int(n2.shape[0])
        fc1 = get(f"network.{idx}.0.mlp.fc1.weight")
        if fc1 is None:
            fail(f"missing {prefix}network.{idx}.0.mlp.fc1.weight")
        h = int(fc1.shape[0])
        depths.append(n)
        dims.append(d)
        hidden.append(h)
        if s > 0:
            expected[f"network.{idx - 1}.proj.weight"] = [d, dims[s - 1], 3, 3]
            expected[f"network.{idx - 1}.proj.bias"] = [d]
        for j in range(n):
            b = f"network.{idx}.{j}."
            training = get(b + "norm1.weight") is not None or get(b + "token_mixer.affine.weight") is not None
            deploy = get(b + "norm_reparam.weight") is not None
            if training and deploy:
                fail(f"block {prefix}{b[:-1]} has both norm1/token_mixer and norm_reparam")
            form = "deploy" if deploy else "training"
            forms.setdefault(form, []).append(prefix + b[:-1])
            if form == "training":
                expected.update({b + "norm1.weight": [d], b + "norm1.bias": [d],
                                 b + "token_mixer.affine.weight": [d, 1, 1, 1],
                                 b + "token_mixer.affine.bias": [d]})
            else:
                expected.update({b + "norm_reparam.weight": [d], b + "norm_reparam.bias": [d]})
            expected.update({b + "norm2.weight": [d], b + "norm2.bias": [d],
                             b + "mlp.fc1.weight": [h, d, 1, 1], b + "mlp.fc1.bias": [h],
                             b + "mlp.fc2.weight": [d, h, 1, 1], b + "mlp.fc2.bias": [d],
                             b + "layer_scale_1": [d], b + "layer_scale_2": [d]})
    if len(forms) > 1:
        raise ExportError(f"{path}: mixed RIFormer block forms: {len(forms['training'])} training-form blocks "
                          f"(e.g. {forms['training'][0]}) and {len(forms['deploy'])} deploy-form blocks "
                          f"(e.g. {forms['deploy'][0]})")
    if 6 < max(present):
        fail(f"unexpected network index {max(present)} (RIFormer has network.0 .. network.6)")
    out_indices = []
    for i in range(7):
        if get(f"norm{i}.weight") is not None or get(f"norm{i}.bias") is not None:
            out_indices.append(i)
            expected[f"norm{i}.weight"] = [dims[(i + 1) // 2]]
            expected[f"norm{i}.bias"] = [dims[(i + 1) // 2]]
    problems = []
    for name, shape in expected.items():
        t = get(name)
        if t is None:
            problems.append(f"missing {prefix}{name} (expected {shape})")
        elif _shape(t) != shape:
            problems.append(f"{prefix}{name} is {_shape(t)}, expected {shape}")
    own = re.compile(re.escape(prefix) + r"(patch_embed\.|network\.|norm\d+\.)")
    for k in sd:
        if own.match(k) and k[len(prefix):] not in expected and not k.endswith("num_batches_tracked"):
            problems.append(f"unexpected key {k} {_shape(sd[k])}")
    if problems:
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        fail("; ".join(problems[:8]) + more)
    return Backbone(prefix, depths, dims, hidden, next(iter(forms)), out_indices, in_ch)


def fold_deploy(sd: "OrderedDict", bb: Backbone) -> "OrderedDict":
    """Replace norm1 + token_mixer.affine of every block by norm_reparam (float32 fold)."""
    import torch

    out = OrderedDict()
    for k, v in sd.items():
        if k.endswith(".norm1.weight") and (k[: -len("norm1.weight")] + "token_mixer.affine.weight") in sd:
            b = k[: -len("norm1.weight")]
            w1 = sd[b + "norm1.weight"].to(torch.float32)
            b1 = sd[b + "norm1.bias"].to(torch.float32)
            aw = sd[b + "token_mixer.affine.weight"].to(torch.float32)
            ab = sd[b + "token_mixer.affine.bias"].to(torch.float32)
            g = aw.reshape(-1)
            g = g - torch.ones_like(g)
            out[b + "norm_reparam.weight"] = w1 * g
            out[b + "norm_reparam.bias"] = b1 * g + ab
            continue
        if re.search(r"\.(norm1\.(weight|bias)|token_mixer\.affine\.(weight|bias))$", k) and k.startswith(bb.prefix):
            continue
        out[k] = v
    return out


# ----------------------------------------------------------------------------
# Detector structure (YOLOv5 v7.0 head of the seed's yaml)


def make_divisible(x: float, divisor: int = 8) -> int:
    import math
    return int(math.ceil(x / divisor) * divisor)


def head_shapes(root: str, dims: List[int], nc: int, na: int, gw: float, n: int) -> Dict[str, List[int]]:
    """Every head key of the seed's yaml (model.1 ... model.16) with its shape."""
    shapes: Dict[str, List[int]] = {}

    def conv(p, c1, c2, k):
        shapes[p + "conv.weight"] = [c2, c1, k, k]
        for leaf in ("weight", "bias", "running_mean", "running_var"):
            shapes[p + "bn." + leaf] = [c2]
        return c2

    def c3(p, c1, c2):
        c_ = int(c2 * 0.5)
        conv(p + "cv1.", c1, c_, 1)
        conv(p + "cv2.", c1, c_, 1)
        conv(p + "cv3.", 2 * c_, c2, 1)
        for k in range(n):
            conv(f"{p}m.{k}.cv1.", c_, c_, 1)
            conv(f"{p}m.{k}.cv2.", c_, c_, 3)
        return c2

    p3, p4, p5 = dims[1], dims[2], dims[3]
    r = root
    c_sppf = make_divisible(1024 * gw)
    conv(f"{r}1.cv1.", p5, p5 // 2, 1)
    conv(f"{r}1.cv2.", (p5 // 2) * 4, c_sppf, 1)
    c2 = conv(f"{r}2.", c_sppf, make_divisible(512 * gw), 1)
    c5 = c3(f"{r}5.", c2 + p4, make_divisible(512 * gw))
    c6 = conv(f"{r}6.", c5, make_divisible(256 * gw), 1)
    c9 = c3(f"{r}9.", c6 + p3, make_divisible(256 * gw))
    c10 = conv(f"{r}10.", c9, make_divisible(256 * gw), 3)
    c12 = c3(f"{r}12.", c10 + c6, make_divisible(512 * gw))
    c13 = conv(f"{r}13.", c12, make_divisible(512 * gw), 3)
    c15 = c3(f"{r}15.", c13 + c_sppf, make_divisible(1024 * gw))
    no = nc + 5
    for l, c in enumerate((c9, c12, c15)):
        shapes[f"{r}16.m.{l}.weight"] = [na * no, c, 1, 1]
        shapes[f"{r}16.m.{l}.bias"] = [na * no]
    shapes[f"{r}16.anchors"] = [3, na, 2]
    return shapes


def _attr(obj, name):
    d = getattr(obj, "__dict__", {})
    return d.get(name) if isinstance(d, dict) else None


def analyze_detector(sd, bb: Backbone, model_obj, path: str) -> Dict[str, str]:
    """Metadata of a YOLOv5-RIFormer detector; checks every head key against the seed's yaml."""
    root = bb.prefix[:-2]
    det = f"{root}16."
    anchors = sd.get(det + "anchors")
    m0 = sd.get(det + "m.0.weight")
    if anchors is None or m0 is None:
        raise ExportError(f"{path}: backbone under '{bb.prefix}' but no Detect layer "
                          f"('{det}anchors', '{det}m.0.weight') as in the seed's yaml")
    if anchors.dim() != 3 or list(anchors.shape)[::2] != [3, 2]:
        raise ExportError(f"{path}: {det}anchors is {_shape(anchors)}, expected [3, na, 2]")
    na = int(anchors.shape[1])
    if int(m0.shape[0]) % na or int(m0.shape[0]) // na <= 5:
        raise ExportError(f"{path}: {det}m.0.weight is {_shape(m0)}: output channels not na*(nc+5) with na={na}")
    nc = int(m0.shape[0]) // na - 5

    yaml = None
    strides = None
    if model_obj is not None:
        yaml = _attr(model_obj, "yaml")
        seq = (_attr(model_obj, "_modules") or {}).get("model")
        detect = (_attr(seq, "_modules") or {}).get("16") if seq is not None else None
        s = _attr(detect, "stride") if detect is not None else None
        if s is None:
            s = _attr(model_obj, "stride")
        if s is not None:
            strides = [float(v) for v in (s.tolist() if hasattr(s, "tolist") else s)]
    if strides is None:
        strides = [float(v) for v in DEFAULT_STRIDES]
    if strides != [8.0, 16.0, 32.0]:
        raise ExportError(f"{path}: Detect strides are {strides}, expected 8,16,32 (P3, P4, P5)")
    if isinstance(yaml, dict) and "nc" in yaml and int(yaml["nc"]) != nc:
        raise ExportError(f"{path}: model yaml says nc={yaml['nc']} but {det}m.0.weight gives nc={nc}")

    sppf_out = sd.get(f"{root}1.cv2.conv.weight")
    if sppf_out is None:
        raise ExportError(f"{path}: missing {root}1.cv2.conv.weight (SPPF after the backbone)")
    if isinstance(yaml, dict) and "width_multiple" in yaml:
        gw = float(yaml["width_multiple"])
    else:
        gw = int(sppf_out.shape[0]) / 1024
    n = len({int(m.group(1)) for k in sd for m in [re.match(re.escape(root) + r"5\.m\.(\d+)\.", k)] if m})
    if isinstance(yaml, dict) and "depth_multiple" in yaml:
        gd = float(yaml["depth_multiple"])
        if max(round(3 * gd), 1) != n:
            raise ExportError(f"{path}: depth_multiple {gd} means {max(round(3 * gd), 1)} bottlenecks per C3, "
                              f"found {n} in {root}5.m")
    else:
        # Any depth_multiple in [0.17, 0.5) gives one bottleneck; 0.33 is the seed's value.
        gd = 0.33 if n == 1 else n / 3

    want = head_shapes(root, bb.dims, nc, na, gw, n)
    problems = []
    for name, shape in want.items():
        t = sd.get(name)
        if t is None:
            problems.append(f"missing {name} (expected {shape})")
        elif _shape(t) != shape:
            problems.append(f"{name} is {_shape(t)}, expected {shape}")
    head_re = re.compile(re.escape(root) + r"(\d+)\.")
    for k in sd:
        m = head_re.match(k)
        if m and m.group(1) != "0" and k not in want and not k.endswith("num_batches_tracked"):
            problems.append(f"unexpected key {k} {_shape(sd[k])}")
    if problems:
        more = f" (and {len(problems) - 8} more)" if len(problems) > 8 else ""
        raise ExportError(f"{path}: head does not match the seed's YOLOv5 yaml (width {gw}, {n} bottleneck(s) "
                          f"per C3, nc {nc}): " + "; ".join(problems[:8]) + more)

    import torch
    a = anchors.to(torch.float32)
    pixels = [float(v) for l in range(3) for v in (a[l] * strides[l]).reshape(-1).tolist()]
    return {"nc": str(nc), "anchors": _join(pixels), "strides": _join(strides),
            "width_multiple": _fmt_num(gw), "depth_multiple": _fmt_num(gd), "head_prefix": root}


# ----------------------------------------------------------------------------
# Conversion


def convert_tensors(sd, dtype: str, path: str):
    """name -> numpy array in the output dtype's container (float32/float16; bf16 via safetensors_io)."""
    import torch

    out = OrderedDict()
    for k, v in sd.items():
        if not _is_tensor(v) or k.endswith("num_batches_tracked"):
            continue
        t = v.detach().cpu()
        if t.is_floating_point():
            t32 = t.to(torch.float32)
            if dtype == "f16":
                t16 = t32.to(torch.float16)
                bad = torch.isinf(t16) & torch.isfinite(t32)
                if bool(bad.any()):
                    raise ExportError(f"{path}: {k} has values beyond the f16 range "
                                      f"(max |x| = {float(t32.abs().max())}); use --dtype f32 or bf16")
                out[k] = t16.numpy()
            else:
                out[k] = t32.numpy()
        else:
            out[k] = t.numpy()  # integer / bool buffers keep their dtype
    return out


def export(in_path: str, out_path: str, dtype: str = "f32", deploy: bool = False,
           arch: Optional[str] = None) -> Dict[str, str]:
    """Do the whole conversion; returns the metadata written."""
    import safetensors_io

    obj = load_checkpoint(in_path)
    sd, model_obj, where = extract_state_dict(obj, in_path)
    sd = OrderedDict((str(k), v) for k, v in sd.items() if _is_tensor(v))
    if not sd:
        raise ExportError(f"{in_path}: not a checkpoint: no tensors in {where}")
    prefix = find_backbone_prefix(sd, in_path)
    bb = analyze_backbone(sd, prefix, in_path)
    found = bb.arch_name()
    if arch is not None and arch != "custom":
        if arch not in ARCHS:
            raise ExportError(f"--arch {arch}: unknown arch (choose from {', '.join(ARCHS)}, custom)")
        l, d, r = ARCHS[arch]
        if found != arch:
            raise ExportError(f"{in_path}: --arch {arch} expects layers {_join(l)}, dims {_join(d)}, "
                              f"mlp ratios {_join(r)} (network.0.0.mlp.fc1.weight {[d[0] * r[0], d[0], 1, 1]}), "
                              f"but the checkpoint has {bb.describe()}")
    name = arch or found

    is_detector = re.fullmatch(r"(.*?)0\.", prefix) is not None and any(
        k.startswith(prefix[:-2] + "16.") for k in sd)
    meta = OrderedDict()
    meta["format"] = "yolov5-riformer" if is_detector else "riformer-backbone"
    meta["arch"] = name
    if is_detector:
        meta.update(analyze_detector(sd, bb, model_obj, in_path))
    else:
        root = prefix[:-len("backbone.")] if prefix.endswith("backbone.") else prefix
        head = sd.get(root + "head.fc.weight")
        if head is not None and len(_shape(head)) == 2:
            meta["classes"] = str(_shape(head)[0])
    if deploy and bb.form == "training":
        sd = fold_deploy(sd, bb)
    meta["form"] = "deploy" if deploy else bb.form
    meta["depths"] = _join(bb.depths)
    meta["dims"] = _join(bb.dims)
    meta["mlp_ratios"] = _join(bb.mlp_ratios)
    meta["out_indices"] = _join(bb.out_indices)
    meta["prefix"] = prefix
    meta["dtype"] = dtype
    meta["source"] = os.path.basename(in_path)
    tensors = convert_tensors(sd, dtype, in_path)
    out_dir = os.path.dirname(os.path.abspath(out_path))
    if not os.path.isdir(out_dir):
        raise ExportError(f"{out_path}: directory {out_dir} does not exist")
    safetensors_io.write(out_path, tensors, meta, float_dtype={"f32": "F32", "f16": "F16", "bf16": "BF16"}[dtype])
    return meta


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="export_weights.py",
        description="Convert a RIFormer (mmpretrain) or YOLOv5-RIFormer checkpoint (.pth/.pt) to safetensors "
                    "for the riformer C++ library. Needs PyTorch, but not mmpretrain, mmcv, mmengine or YOLOv5.",
        epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("input", metavar="IN.pth", help="PyTorch checkpoint (.pth / .pt)")
    parser.add_argument("output", metavar="OUT.safetensors", help="file to write")
    parser.add_argument("--dtype", choices=["f32", "f16", "bf16"], default="f32",
                        help="storage type of floating-point tensors (default f32)")
    parser.add_argument("--deploy", action="store_true",
                        help="fold norm1 + token_mixer.affine into norm_reparam (re-parameterized form)")
    parser.add_argument("--arch", metavar="NAME",
                        help="expected arch: s12 s24 s36 m36 m48 or custom (default: inferred from shapes)")
    args = parser.parse_args(argv)
    try:
        meta = export(args.input, args.output, args.dtype, args.deploy, args.arch)
    except ExportError as e:
        print(f"export_weights.py: error: {e}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{k}={v}" for k, v in meta.items() if k not in ("anchors", "source"))
    print(f"wrote {args.output}: {summary}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
