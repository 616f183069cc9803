"""Writes the reader tests' bundles into OUTDIR (NumPy, and tools/attnviz_bundle.py).

Every valid bundle's attention is pattern(L, H, n, m): raw = 1 + (7l + 5h + 3i + j) mod 11,
each row divided by its sum; bundle_reader_test.cpp computes the same numbers independently.
"""
import json
import os
import struct
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from attnviz_bundle import save_bundle  # noqa: E402


def pattern(L, H, n, m):
    l, h, i, j = np.meshgrid(np.arange(L), np.arange(H), np.arange(n), np.arange(m), indexing="ij")
    raw = 1.0 + (7 * l + 5 * h + 3 * i + j) % 11
    return raw / raw.sum(-1, keepdims=True)


def main(out):
    os.makedirs(out, exist_ok=True)
    p = lambda name: os.path.join(out, name)
    a = pattern(2, 3, 4, 4)
    tokens = np.array(["The", "café", "日本", "!"])
    np.savez(p("stored.npz"), attention=a.astype(np.float32), tokens=tokens)
    np.savez_compressed(p("deflated.npz"), attention=a.astype(np.float32), tokens=tokens)
    np.savez(p("f16.npz"), attention=a.astype(np.float16), tokens=tokens)
    np.savez(p("f64.npz"), attention=a, tokens=tokens)
    np.savez(p("fortran.npz"), attention=np.asfortranarray(a.astype(np.float32)), tokens=tokens)
    assert np.load(p("fortran.npz"))["attention"].flags.f_contiguous
    np.savez(p("two_d.npz"), attention=pattern(1, 1, 3, 5)[0, 0], query_tokens=np.array(["a", "b", "c"]),
             key_tokens=np.array(["k0", "k1", "k2", "k3", "k4"]))
    np.savez(p("three_d.npz"), attention=pattern(1, 2, 3, 3)[0])
    # q, k, v from which the engine recomputes the weights (scaled dot product, causal mask).
    rng = np.random.default_rng(7)
    q = rng.standard_normal((2, 2, 5, 4)).astype(np.float32)
    k = rng.standard_normal((2, 2, 5, 4)).astype(np.float32)
    v = rng.standard_normal((2, 2, 5, 3)).astype(np.float32)
    s = (q.astype(np.float64) @ k.transpose(0, 1, 3, 2)) / 2.0
    s = np.where(np.tril(np.ones((5, 5), bool)), s, -np.inf)
    w = np.exp(s - s.max(-1, keepdims=True))
    w /= w.sum(-1, keepdims=True)
    words = ["a", "b", "a", "b", "a"]
    save_bundle(p("qkv.npz"), words, w, q=q, k=k, v=v, metadata={"model": "toy"})
    save_bundle(p("qkv.safetensors"), words, w, q=q, k=k, v=v, metadata={"model": "toy"})
    save_bundle(p("qkv_masked.npz"), words, w, q=q, k=k, v=v, mask=np.tril(np.ones((5, 5), bool)))
    save_bundle(p("weights.safetensors"), list(tokens), a)
    # Broken bundles, one per validation message.
    np.savez(p("no_attention.npz"), tokens=tokens)
    np.savez(p("five_d.npz"), attention=a[None].astype(np.float32))
    np.savez(p("one_d.npz"), attention=np.ones(4, np.float32))
    np.savez(p("q_shape.npz"), attention=w, q=q[:, :, :4], k=k)
    np.savez(p("k_width.npz"), attention=w, q=q, k=k[..., :3])
    np.savez(p("q_without_k.npz"), attention=w, q=q)
    bad = a.copy()
    bad[1, 2, 3] *= 1.5
    np.savez(p("row_sum.npz"), attention=bad, tokens=tokens)
    neg = a.copy()
    neg[0, 1, 2, 0] = -0.25
    neg[0, 1, 2, 1] += 0.25
    np.savez(p("negative.npz"), attention=neg)
    nan = a.copy()
    nan[1, 0, 2, 3] = np.nan
    np.savez(p("nan.npz"), attention=nan)
    inf = a.copy()
    inf[0, 2, 1, 1] = np.inf
    np.savez(p("inf.npz"), attention=inf)
    np.savez(p("q_nan.npz"), attention=w, q=np.where(q == q[1, 1, 2, 3], np.nan, q), k=k)
    np.savez(p("labels_count.npz"), attention=a, tokens=tokens[:3])
    np.savez(p("labels_self_not_square.npz"), attention=pattern(1, 1, 3, 5), tokens=np.array(["a", "b", "c"]))
    np.savez(p("labels_numbers.npz"), attention=a, tokens=np.arange(4))
    np.savez(p("labels_both.npz"), attention=a, tokens=tokens, query_tokens=tokens, key_tokens=tokens)
    np.savez(p("object_tokens.npz"), attention=a, tokens=np.array(list(tokens), dtype=object))
    np.savez(p("newer.npz"), attention=a, format_version=np.array(2))
    np.savez(p("unknown_key.npz"), attention=a, attentions=a)
    np.savez(p("mask_shape.npz"), attention=a, mask=np.ones((4, 3), bool))
    np.savez(p("big_endian.npz"), attention=a.astype(">f4"))
    with open(p("not_a_zip.npz"), "wb") as f:
        f.write(b"this is not a zip archive at all")
    header = json.dumps({"attention": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]},
                         "__metadata__": {"tokens": "[\"a\", \"b\", \"c\"]"}}).encode()
    with open(p("labels_count.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header + np.full(4, 0.5, np.float32).tobytes())


if __name__ == "__main__":
    main(sys.argv[1])
