#!/usr/bin/env python3
"""Writes Tests/PumaTests/Vectors/dequantization.json: for each GGUF tensor type puma reads, a few
blocks of raw bytes and the Float32 values the reference `gguf` package (PyPI, gguf-py) dequantizes
them to. Run once; the file is committed. Needs `pip install gguf numpy`.

Blocks are quantized from random data where gguf-py can quantize the type, else made of random bytes
with finite, moderate f16 scales (the K types), so every bit field is exercised."""
import base64, json, os, sys
import numpy as np
from gguf import GGMLQuantizationType as T
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

rng = np.random.default_rng(20261205)
from importlib.metadata import version
out = {"generator": "scripts/make-dequantization-vectors.py", "gguf_version": version("gguf"), "types": {}}


def f16_bytes(values):
    return np.asarray(values, dtype=np.float16).view(np.uint8)


for name in ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "Q5_K", "Q6_K"]:
    qtype = T[name]
    block, size = GGML_QUANT_SIZES[qtype]
    n = 4 * max(block, 64)  # 4 blocks of 256, 8 of 32, 256 plain values
    data = (rng.standard_normal(n) * 0.05).astype(np.float32)
    data[:3] = [0.0, -0.0, 1.5]
    if name in ("F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1"):
        raw = quantize(data.reshape(-1, n), qtype).reshape(-1)
    else:
        blocks = rng.integers(0, 256, size=(n // block, size), dtype=np.uint8)
        if name in ("Q4_K", "Q5_K"):
            blocks[:, 0:2] = f16_bytes(rng.uniform(-0.01, 0.01, n // block)).reshape(-1, 2)   # d
            blocks[:, 2:4] = f16_bytes(rng.uniform(-0.01, 0.01, n // block)).reshape(-1, 2)   # dmin
        else:  # Q6_K: d is the last two bytes
            blocks[:, size - 2:size] = f16_bytes(rng.uniform(-0.01, 0.01, n // block)).reshape(-1, 2)
        raw = blocks.reshape(-1)
    values = dequantize(raw, qtype).reshape(-1).astype(np.float32)
    assert values.size == n and np.all(np.isfinite(values)), name
    out["types"][name] = {"elements": n, "bytes": base64.b64encode(raw.tobytes()).decode(),
                          "bits": [int(b) for b in values.view(np.uint32)]}

path = os.path.join(os.path.dirname(__file__), "..", "Tests", "PumaTests", "Vectors", "dequantization.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
print(path, {k: v["elements"] for k, v in out["types"].items()})
