"""Minimal safetensors reader and writer in pure Python (struct + json + numpy).

Why: the exporter and the golden-fixture generator must run without the
`safetensors` package, and the C++ library reads exactly this subset.

File layout (https://github.com/huggingface/safetensors):
  8 bytes   little-endian uint64 N, the header length
  N bytes   UTF-8 JSON: {"__metadata__": {str: str}, name: {"dtype": "F32",
            "shape": [..], "data_offsets": [begin, end]}, ...}; this writer pads
            it with trailing spaces so that N is a multiple of 8 (so the data
            block starts 8-byte aligned)
  data      raw little-endian tensors, C order, offsets relative to the data
            block start; this writer stores them contiguously in the order given

Supported dtypes: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.  numpy has no
bfloat16, so BF16 is produced from float32 by round-to-nearest-even on the
upper 16 bits (what torch's `.to(torch.bfloat16)` does; NaN becomes a quiet
NaN) and read back by shifting the 16 bits into the high half of a float32.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Dict, Mapping, Optional, Tuple

import numpy as np

_NP_OF = {
    "F64": np.dtype("<f8"),
    "F32": np.dtype("<f4"),
    "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"),
    "I32": np.dtype("<i4"),
    "I16": np.dtype("<i2"),
    "I8": np.dtype("i1"),
    "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
    "BF16": np.dtype("<u2"),  # raw bits
}
_TAG_OF = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}
FLOAT_TAGS = ("F32", "F16", "BF16")


class SafetensorsError(ValueError):
    """A malformed or unsupported safetensors file."""


def float32_to_bf16_bits(x: np.ndarray) -> np.ndarray:
    """float32 -> bfloat16 bits (uint16), round to nearest even, NaN -> 0x7FC0|sign."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    u = x.view(np.uint32).astype(np.uint64)
    rounded = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
    nan = np.isnan(x)
    if nan.any():
        rounded[nan] = ((u[nan] >> 16).astype(np.uint16) & np.uint16(0x8000)) | np.uint16(0x7FC0)
    return rounded


def bf16_bits_to_float32(b: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16) -> float32, exact."""
    return (np.asarray(b, dtype=np.uint16).astype(np.uint32) << np.uint32(16)).view(np.float32)


def encode(array: np.ndarray, tag: Optional[str] = None) -> Tuple[str, bytes]:
    """(dtype tag, raw bytes) of an array, converting floats to `tag` if given."""
    a = np.asarray(array)
    if tag is None:
        if a.dtype not in _TAG_OF:
            raise SafetensorsError(f"unsupported dtype {a.dtype}")
        tag = _TAG_OF[a.dtype]
    if tag not in _NP_OF:
        raise SafetensorsError(f"unsupported dtype tag {tag}")
    if tag == "BF16":
        raw = float32_to_bf16_bits(a.astype(np.float32))
    else:
        raw = np.ascontiguousarray(a.astype(_NP_OF[tag], copy=False))
    return tag, raw.tobytes(order="C")


def write(path: str, tensors: Mapping[str, np.ndarray], metadata: Optional[Mapping[str, str]] = None,
          float_dtype: Optional[str] = None) -> None:
    """Write `tensors` (name -> numpy array) to `path`.

    float_dtype ("F32", "F16", "BF16" or None) converts every floating-point
    tensor; integer and bool tensors keep their dtype.  Metadata values must be
    strings (the format requires it).
    """
    header: Dict[str, object] = {}
    if metadata:
        for k, v in metadata.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise SafetensorsError(f"metadata must map str to str, got {k!r}: {v!r}")
        header["__metadata__"] = dict(metadata)
    blobs = []
    offset = 0
    for name, array in tensors.items():
        if name == "__metadata__":
            raise SafetensorsError("a tensor cannot be named __metadata__")
        a = np.asarray(array)
        tag = float_dtype if (float_dtype and a.dtype.kind == "f") else None
        tag, raw = encode(a, tag)
        header[name] = {"dtype": tag, "shape": [int(s) for s in a.shape],
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((-len(text)) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)
    os.replace(tmp, path)


def read_header(path: str) -> Tuple[dict, int]:
    """(parsed JSON header, data block start offset); validates the framing."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise SafetensorsError(f"{path}: too short for a safetensors file")
        (n,) = struct.unpack("<Q", head)
        if n > size - 8 or n > 100 * 1024 * 1024:
            raise SafetensorsError(f"{path}: header length {n} exceeds the file")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    if not isinstance(header, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    return header, 8 + n


def read(path: str, raw_bf16: bool = False) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Read every tensor: (name -> numpy array, metadata).

    F16 stays float16; BF16 becomes float32 (exact) unless raw_bf16, in which
    case the uint16 bits are returned.
    """
    header, start = read_header(path)
    meta = header.pop("__metadata__", {}) or {}
    with open(path, "rb") as f:
        f.seek(start)
        data = f.read()
    out: Dict[str, np.ndarray] = {}
    spans = []
    for name, info in header.items():
        tag = info.get("dtype")
        if tag not in _NP_OF:
            raise SafetensorsError(f"{path}: tensor {name}: unsupported dtype {tag}")
        shape = [int(s) for s in info["shape"]]
        begin, end = (int(x) for x in info["data_offsets"])
        count = int(np.prod(shape, dtype=np.int64))
        if end - begin != count * _NP_OF[tag].itemsize or end > len(data) or begin < 0:
            raise SafetensorsError(f"{path}: tensor {name}: data_offsets {begin},{end} "
                                   f"do not fit shape {shape} {tag}")
        spans.append((begin, end, name))
        a = np.frombuffer(data, dtype=_NP_OF[tag], count=count, offset=begin).reshape(shape).copy()
        if tag == "BF16" and not raw_bf16:
            a = bf16_bits_to_float32(a)
        out[name] = a
    spans.sort()
    pos = 0
    for begin, end, name in spans:
        if begin != pos:
            raise SafetensorsError(f"{path}: tensor {name} does not start where the previous ends")
        pos = end
    if pos != len(data):
        raise SafetensorsError(f"{path}: {len(data) - pos} trailing bytes after the last tensor")
    return out, dict(meta)


def read_float32(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Read and widen every floating tensor to float32 (exact for F16/BF16)."""
    tensors, meta = read(path)
    return {k: (v.astype(np.float32) if v.dtype.kind == "f" else v) for k, v in tensors.items()}, meta
