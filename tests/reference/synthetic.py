#!/usr/bin/env python3
"""Counter-based synthetic weights and test input (see SYNTHETIC.md).

Why: the golden tests cover every RIFormer variant, but the weights of the big
ones (M48 is ~300 MB) cannot be committed.  Python and C++ therefore compute
every parameter from the same formula, bit for bit, and only the outputs of
the PyTorch reference are committed.  Changing anything here means changing
include/riformer/io/synthetic.hpp identically.

Everything is vectorized over the flat element index with numpy uint32
arithmetic (numpy wraps uint32 products modulo 2**32, which is exactly the
formula's arithmetic), so even M48 (~73 M values) takes a few seconds.

Resolutions of points SYNTHETIC.md leaves open (mirrored in the C++ side):

* "ends with" is a plain string-suffix test on the full key.
* "module whose last component starts with `norm` or is `bn`": the key is
  split at its last '.', the module part's own last component is tested;
  the parameter must be exactly `weight` or `bias` for that rule.
* A `.weight` that reaches the fan-in rule with fewer than 2 dims is an
  error (unknown parameter kind), as is anything else unmatched
  (`num_batches_tracked`, `model.16.anchors`, ...).
* Keys of deploy-form blocks (`X.norm_reparam.weight/bias`) are never drawn
  directly: `synth` folds the training-form values of `X.norm1.*` and
  `X.token_mixer.affine.*` in float32 (SYNTHETIC.md "Deploy form").
* The float64 evaluation is `lo + (hi - lo) * u` with two separately rounded
  float64 operations (no fused multiply-add), then one rounding to float32
  (round to nearest even).  For the fan-in rule lo = -a, hi = a, so
  hi - lo = 2a exactly.
"""

from __future__ import annotations

import math
import sys
from typing import Sequence

import numpy as np

_U32 = np.uint32
FNV_OFFSET = 0x811C9DC5
FNV_PRIME = 0x01000193
GOLDEN = 0x9E3779B9
INDEX_OFFSET = 0x7F4A7C15


def fnv1a(key: str) -> int:
    """32-bit FNV-1a over the UTF-8 bytes of key (a Python int < 2**32)."""
    h = FNV_OFFSET
    for b in key.encode("utf-8"):
        h = ((h ^ b) * FNV_PRIME) & 0xFFFFFFFF
    return h


def mix(x: np.ndarray) -> np.ndarray:
    """The 32-bit finalizer of SYNTHETIC.md on a uint32 array (returns a new array)."""
    x = np.asarray(x, dtype=_U32).copy()
    x ^= x >> _U32(16)
    x *= _U32(0x7FEB352D)
    x ^= x >> _U32(15)
    x *= _U32(0x846CA68B)
    x ^= x >> _U32(16)
    return x


def bits(key: str, count: int, start: int = 0) -> np.ndarray:
    """bits(key, i) for i = start .. start+count-1, as uint32."""
    if start + count > 2**32:
        raise ValueError(f"{key}: element index exceeds 32 bits")
    i = np.arange(start, start + count, dtype=np.uint64).astype(_U32)
    with np.errstate(over="ignore"):
        inner = i * _U32(GOLDEN) + _U32(INDEX_OFFSET)
        return mix(_U32(fnv1a(key)) ^ mix(inner))


def uniform(key: str, count: int) -> np.ndarray:
    """u(key, i) = (bits >> 8) * 2**-24 in float64, exact, in [0, 1)."""
    return (bits(key, count) >> _U32(8)).astype(np.float64) * (2.0 ** -24)


def value_range(key: str, shape: Sequence[int]) -> tuple[float, float]:
    """[lo, hi) for a key, by the first matching rule of SYNTHETIC.md's table."""
    shape = tuple(int(s) for s in shape)
    if key == "input":
        return 0.0, 1.0
    if key.endswith("layer_scale_1") or key.endswith("layer_scale_2"):
        return 0.1, 0.5
    if key.endswith("token_mixer.affine.weight"):
        return 0.5, 1.5
    if key.endswith("token_mixer.affine.bias"):
        return -0.2, 0.2
    if key.endswith("running_mean"):
        return -0.2, 0.2
    if key.endswith("running_var"):
        return 0.5, 1.5
    module, _, leaf = key.rpartition(".")
    module_leaf = module.rpartition(".")[2]
    is_norm = module != "" and (module_leaf.startswith("norm") or module_leaf == "bn")
    if is_norm and leaf == "weight":
        return 0.8, 1.2
    if is_norm and leaf == "bias":
        return -0.2, 0.2
    if leaf == "weight" and module != "":
        if len(shape) < 2:
            raise KeyError(f"unknown parameter kind: {key} {list(shape)} "
                           "(a .weight with fewer than 2 dims outside a norm/bn module)")
        fan_in = 1
        for s in shape[1:]:
            fan_in *= s
        a = math.sqrt(3.0 / fan_in)
        return -a, a
    if leaf == "bias" and module != "":
        return -0.1, 0.1
    raise KeyError(f"unknown parameter kind: {key} {list(shape)}")


def _draw(key: str, shape: Sequence[int]) -> np.ndarray:
    """float32(lo + (hi - lo) * u) over all elements, C order."""
    lo, hi = value_range(key, shape)
    count = int(np.prod(shape, dtype=np.int64)) if len(shape) else 1
    u = uniform(key, count)
    width = hi - lo                      # float64, one rounding
    v = lo + width * u                   # numpy: two roundings, never fused
    return v.astype(np.float32).reshape(tuple(int(s) for s in shape))


def synth(key: str, shape: Sequence[int]) -> np.ndarray:
    """The synthetic float32 tensor for a full state_dict key and shape.

    Deploy-form `...norm_reparam.weight/bias` are folded from the
    training-form keys of the same block, exactly as mmpretrain's
    `switch_to_deploy` does in float32.
    """
    for leaf in ("norm_reparam.weight", "norm_reparam.bias"):
        if key.endswith("." + leaf) or key == leaf:
            block = key[: -len(leaf)]
            dim = int(np.prod(shape))
            w1 = _draw(block + "norm1.weight", [dim])
            b1 = _draw(block + "norm1.bias", [dim])
            aw = _draw(block + "token_mixer.affine.weight", [dim, 1, 1, 1])
            ab = _draw(block + "token_mixer.affine.bias", [dim])
            w, b = fold_affine(w1, b1, aw, ab)
            out = w if leaf.endswith("weight") else b
            return out.reshape(tuple(int(s) for s in shape))
    return _draw(key, shape)


def fold_affine(norm_w: np.ndarray, norm_b: np.ndarray, aff_w: np.ndarray, aff_b: np.ndarray):
    """mmpretrain RIFormerBlock.fuse_affine in float32: returns (weight', bias').

    g = aff_w - 1; weight' = norm_w * g; bias' = norm_b * g + aff_b, every
    operation rounded to float32 separately (numpy float32 never fuses).
    """
    g = aff_w.reshape(-1).astype(np.float32) - np.float32(1.0)
    w = norm_w.astype(np.float32) * g
    b = norm_b.astype(np.float32) * g
    b = b + aff_b.astype(np.float32)
    return w.astype(np.float32), b.astype(np.float32)


SELFTEST_CASES = [
    ("input", [1, 3, 64, 96]),
    ("network.0.0.mlp.fc1.weight", [256, 64, 1, 1]),
    ("network.0.0.mlp.fc1.bias", [256]),
    ("network.0.0.layer_scale_1", [64]),
    ("network.0.0.token_mixer.affine.weight", [64, 1, 1, 1]),
    ("network.0.0.token_mixer.affine.bias", [64]),
    ("network.0.0.norm1.weight", [64]),
    ("network.0.0.norm1.bias", [64]),
    ("network.0.0.norm_reparam.weight", [64]),
    ("network.0.0.norm_reparam.bias", [64]),
    ("norm0.weight", [64]),
    ("patch_embed.proj.weight", [64, 3, 7, 7]),
    ("model.0.network.0.1.mlp.fc1.weight", [256, 64, 1, 1]),
    ("model.1.cv1.bn.running_var", [128]),
    ("model.1.cv1.bn.running_mean", [128]),
    ("model.1.cv1.bn.weight", [128]),
    ("model.16.m.0.weight", [24, 64, 1, 1]),
]


def selftest() -> None:
    """Print fnv1a/bits and the first 4 values (repr + float32 hex bits) of a few keys."""
    for key in ("", "input", "a"):
        print(f"fnv1a({key!r}) = 0x{fnv1a(key):08X}")
    b = bits("input", 4)
    print("bits('input', 0..3) = " + ", ".join(f"0x{int(x):08X}" for x in b))
    for key, shape in SELFTEST_CASES:
        v = synth(key, shape).reshape(-1)[:4]
        lo_hi = "folded" if "norm_reparam" in key else "[%r, %r)" % value_range(key, shape)
        print(f"{key} {shape} {lo_hi}")
        for i, x in enumerate(v):
            h = int(np.array(x, dtype=np.float32).view(np.uint32))
            print(f"  [{i}] {float(x)!r:<24} 0x{h:08X}")
    # Sanity of the vectorized uint32 path against a plain-int implementation.
    def ref_bits(key: str, i: int) -> int:
        def m(x: int) -> int:
            x ^= x >> 16
            x = (x * 0x7FEB352D) & 0xFFFFFFFF
            x ^= x >> 15
            x = (x * 0x846CA68B) & 0xFFFFFFFF
            x ^= x >> 16
            return x
        return m(fnv1a(key) ^ m((i * GOLDEN + INDEX_OFFSET) & 0xFFFFFFFF))
    big = 5_000_000
    for key in ("input", "network.0.0.mlp.fc1.weight"):
        got = bits(key, 8, start=big)
        want = [ref_bits(key, big + k) for k in range(8)]
        assert [int(x) for x in got] == want, (key, got, want)
    print("plain-int cross-check of bits(): ok")
    # And of the float path: float64 Python arithmetic, float32 rounding by struct.
    import struct
    for key, shape in SELFTEST_CASES:
        if "norm_reparam" in key:
            continue
        lo, hi = value_range(key, shape)
        got = synth(key, shape).reshape(-1)[:4]
        for k in range(4):
            u = (ref_bits(key, k) >> 8) * 2.0 ** -24
            want = struct.unpack("<f", struct.pack("<f", lo + (hi - lo) * u))[0]
            assert float(got[k]) == want, (key, k, float(got[k]), want)
    print("plain-float cross-check of values: ok")


if __name__ == "__main__":
    if "--selftest" in sys.argv[1:]:
        selftest()
    else:
        print(__doc__)
        print("usage: synthetic.py --selftest")
