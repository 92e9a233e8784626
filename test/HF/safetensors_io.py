"""A safetensors writer and reader (numpy only; torch 1.13 has none): the 8-byte
little-endian header length, the JSON header padded with spaces to a
multiple of 8, then each tensor's bytes in name order."""
import json
import struct

import numpy as np


def bf16_words(array):
    """float32 -> bfloat16 bit patterns (round to nearest even), as uint16."""
    bits = np.ascontiguousarray(array, dtype=np.float32).view(np.uint32)
    rounded = bits + 0x7FFF + ((bits >> 16) & 1)
    return (rounded >> 16).astype("<u2")


def save(path, tensors, dtype="F32"):
    """tensors: {name: float32 numpy array}, stored as dtype F32 or BF16."""
    header, offset, names = {}, 0, sorted(tensors)
    for name in names:
        a = tensors[name]
        size = a.size * (4 if dtype == "F32" else 2)
        header[name] = {"dtype": dtype, "shape": list(a.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    header["__metadata__"] = {"format": "pt"}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for name in names:
            a = tensors[name]
            data = a.astype("<f4") if dtype == "F32" else bf16_words(a)
            f.write(data.tobytes())


def load(path):
    """{name: float32 numpy array} of a safetensors file (F32, BF16, F16)."""
    with open(path, "rb") as f:
        blob = f.read()
    n = struct.unpack("<Q", blob[:8])[0]
    header = json.loads(blob[8:8 + n])
    data = blob[8 + n:]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        if info["dtype"] == "F32":
            a = np.frombuffer(raw, "<f4")
        elif info["dtype"] == "BF16":
            a = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
        elif info["dtype"] == "F16":
            a = np.frombuffer(raw, "<f2").astype(np.float32)
        else:
            raise ValueError(f"{path}: {name} has dtype {info['dtype']}")
        out[name] = a.reshape(info["shape"]).copy()
    return out
