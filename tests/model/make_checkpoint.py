#!/usr/bin/python3
"""Writes a random tiny GPT-2 checkpoint folder in Hugging Face layout, with NumPy only.

The folder holds config.json, model.safetensors (or model.safetensors.index.json and two
shards), vocab.json and merges.txt. The safetensors container is written by hand: an 8-byte
little-endian header length, a JSON header {name: {dtype, shape, data_offsets}} plus
__metadata__, padded with spaces to a multiple of 8, then the raw little-endian data.

Used as a module by model_forward_test.py (makeCheckpoint) and as a script:
  make_checkpoint.py OUT_DIR [--layers 2 --heads 2 --d-model 16 --dtype F32 ...]
"""

import argparse
import json
import os
import struct

import numpy as np

# ---- the byte-level tokenizer ----------------------------------------------------------------


def bytesToUnicode():
    """GPT-2's byte → printable character table (openai/gpt-2 encoder.py), in GPT-2's order."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
        list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return list(zip(bs, [chr(c) for c in cs]))


def mergePair(word, a, b):
    """One BPE step: every adjacent (a, b) in `word`, left to right, becomes a + b."""
    merged, i = [], 0
    while i < len(word):
        if i + 1 < len(word) and word[i] == a and word[i + 1] == b:
            merged.append(a + b)
            i += 2
        else:
            merged.append(word[i])
            i += 1
    return merged


# Merges in rank order; each uses only tokens that exist before it. "Ġ" is the space byte.
MERGES = [
    ("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("i", "n"), ("Ġ", "a"), ("e", "r"), ("o", "n"),
    ("Ġ", "s"), ("r", "e"), ("a", "t"), ("e", "n"), ("Ġ", "c"), ("o", "r"), ("i", "s"),
    ("Ġ", "w"), ("e", "s"), ("a", "n"), ("Ġ", "o"), ("in", "g"), ("Ġ", "b"), ("e", "d"),
    ("Ġ", "f"), ("Ġa", "n"), ("Ġan", "d"), ("o", "u"), ("Ġ", "m"), ("l", "l"), ("a", "r"),
    ("Ġ", "p"), ("Ġo", "f"), ("i", "t"), ("Ġt", "o"), ("Ġ", "h"), ("a", "l"), ("Ġ", "i"),
    ("Ġi", "n"), ("Ġ", "d"), ("l", "e"), ("Ġs", "t"), ("o", "m"), ("Ġ", "Ġ"), ("ĠĠ", "ĠĠ"),
    ("Ġ", "1"), ("1", "2"), ("Ġc", "at"), ("Ġs", "at"), ("Ġo", "n"), ("Ġm", "at"),
]
EOT = "<|endoftext|>"


def tokenizerFiles(vocabSize):
    """vocab.json and merges.txt texts for a vocabulary of exactly vocabSize entries:
    256 bytes, vocabSize - 257 merges, then <|endoftext|>."""
    nMerges = vocabSize - 257
    if not 0 <= nMerges <= len(MERGES):
        raise ValueError(f"vocab_size must be in [257, {257 + len(MERGES)}]")
    vocab = {}
    for _, ch in bytesToUnicode():
        vocab[ch] = len(vocab)
    merges = MERGES[:nMerges]
    for a, b in merges:
        assert a in vocab and b in vocab, (a, b)
        vocab[a + b] = len(vocab)
    vocab[EOT] = len(vocab)
    assert len(vocab) == vocabSize
    mergesText = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    return json.dumps(vocab, ensure_ascii=False), mergesText


def writeTokenizer(out, vocabSize):
    vocabText, mergesText = tokenizerFiles(vocabSize)
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        f.write(vocabText)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write(mergesText)


# ---- safetensors -----------------------------------------------------------------------------


def toBf16Bits(a):
    """float32 → bfloat16 bits (upper 16 bits, round to nearest, ties to even)."""
    u = np.ascontiguousarray(a, dtype="<f4").view("<u4").astype(np.uint64)
    rounded = (u + 0x7FFF + ((u >> 16) & 1)) >> 16
    return rounded.astype("<u2")


def fromBf16Bits(bits):
    return (bits.astype("<u4") << 16).view("<f4")


def encodeTensor(a, dtype):
    """(bytes, the float32 values the bytes decode to)."""
    a = np.asarray(a, dtype=np.float32)
    if dtype == "F32":
        data = a.astype("<f4")
        return data.tobytes(), data.astype(np.float32)
    if dtype == "F16":
        data = a.astype("<f2")
        return data.tobytes(), data.astype(np.float32)
    if dtype == "BF16":
        bits = toBf16Bits(a)
        return bits.tobytes(), fromBf16Bits(bits).reshape(a.shape)
    raise ValueError(dtype)


def writeSafetensors(path, tensors, dtype, metadata=None):
    """tensors: list of (name, float array). Returns {name: decoded float32 array}."""
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    blobs = []
    decoded = {}
    offset = 0
    for name, a in tensors:
        data, values = encodeTensor(a, dtype)
        header[name] = {"dtype": dtype, "shape": list(np.shape(a)),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        decoded[name] = values
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    return decoded


# ---- the model -------------------------------------------------------------------------------

DEFAULTS = dict(vocab_size=300, n_positions=48, n_embd=16, n_layer=2, n_head=2, n_inner=None,
                layer_norm_epsilon=1e-5, activation_function="gelu_new",
                scale_attn_weights=True, scale_attn_by_inverse_layer_idx=False)


def randomWeights(cfg, rng):
    """HF GPT-2 tensor names (no prefix) → float32 arrays, in checkpoint order."""
    d, V, P = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"]
    inner = cfg["n_inner"] or 4 * d

    def normal(*shape, std=0.2):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def gain(n):
        return (1.0 + rng.normal(0.0, 0.2, size=n)).astype(np.float32)

    # Q·K grows with d: above d = 64 the Q|K|V weights shrink as 1/sqrt(d), so that the deepest
    # layers' softmax stays within what float32 can reproduce to 1e-5 (at d = 128 and std 0.2,
    # a correct float32 forward is off by 1.1e-5 in layer 3).
    qkvStd = 0.2 * min(1.0, (64.0 / d) ** 0.5)
    w = [("wte.weight", normal(V, d)), ("wpe.weight", normal(P, d))]
    for l in range(cfg["n_layer"]):
        p = f"h.{l}."
        w += [
            (p + "ln_1.weight", gain(d)), (p + "ln_1.bias", normal(d, std=0.1)),
            (p + "attn.c_attn.weight", normal(d, 3 * d, std=qkvStd)),
            (p + "attn.c_attn.bias", normal(3 * d, std=0.1)),
            (p + "attn.c_proj.weight", normal(d, d)), (p + "attn.c_proj.bias", normal(d, std=0.1)),
            (p + "ln_2.weight", gain(d)), (p + "ln_2.bias", normal(d, std=0.1)),
            (p + "mlp.c_fc.weight", normal(d, inner)), (p + "mlp.c_fc.bias", normal(inner, std=0.1)),
            (p + "mlp.c_proj.weight", normal(inner, d)), (p + "mlp.c_proj.bias", normal(d, std=0.1)),
        ]
    w += [("ln_f.weight", gain(d)), ("ln_f.bias", normal(d, std=0.1))]
    return w


def makeCheckpoint(out, seed=0, dtype="F32", prefix="", attnBias=False, sharded=False, **config):
    """Writes the folder; returns (config dict, {unprefixed name: decoded float32 weights})."""
    cfg = dict(DEFAULTS)
    cfg.update(config)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    weights = randomWeights(cfg, rng)
    tensors = [(prefix + name, a) for name, a in weights]
    if attnBias:
        P = cfg["n_positions"]
        tri = np.tril(np.ones((P, P), np.float32)).reshape(1, 1, P, P)
        extra = []
        for name, a in tensors:
            extra.append((name, a))
            if name.endswith("attn.c_proj.bias"):
                base = name[: -len("c_proj.bias")]
                extra += [(base + "bias", tri), (base + "masked_bias", np.float32(-1e4))]
        tensors = extra
    meta = {"format": "pt"}
    decoded = {}
    if sharded:
        half = len(tensors) // 2
        files = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
        weightMap = {}
        total = 0
        for fname, part in zip(files, (tensors[:half], tensors[half:])):
            decoded.update(writeSafetensors(os.path.join(out, fname), part, dtype, meta))
            for name, a in part:
                weightMap[name] = fname
                total += np.asarray(a).size * (4 if dtype == "F32" else 2)
        with open(os.path.join(out, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weightMap}, f, indent=2)
    else:
        decoded = writeSafetensors(os.path.join(out, "model.safetensors"), tensors, dtype, meta)
    config_json = dict(cfg)
    config_json.update(model_type="gpt2", architectures=["GPT2LMHeadModel"],
                       n_ctx=cfg["n_positions"], bos_token_id=cfg["vocab_size"] - 1,
                       eos_token_id=cfg["vocab_size"] - 1, torch_dtype={
                           "F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype])
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config_json, f, indent=2)
    writeTokenizer(out, cfg["vocab_size"])
    plain = {name[len(prefix):]: a for name, a in decoded.items()}
    return cfg, plain


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--prefix", action="store_true", help="names start with transformer.")
    ap.add_argument("--attn-bias", action="store_true", help="add h.N.attn.bias/masked_bias")
    ap.add_argument("--sharded", action="store_true")
    ap.add_argument("--vocab-size", type=int, default=DEFAULTS["vocab_size"])
    ap.add_argument("--n-positions", type=int, default=DEFAULTS["n_positions"])
    ap.add_argument("--d-model", type=int, default=DEFAULTS["n_embd"])
    ap.add_argument("--layers", type=int, default=DEFAULTS["n_layer"])
    ap.add_argument("--heads", type=int, default=DEFAULTS["n_head"])
    ap.add_argument("--inner", type=int, default=None)
    ap.add_argument("--activation", default="gelu_new", choices=["gelu_new", "gelu", "relu"])
    ap.add_argument("--no-scale", action="store_true")
    ap.add_argument("--inverse-layer-idx", action="store_true")
    a = ap.parse_args()
    makeCheckpoint(a.out, seed=a.seed, dtype=a.dtype, prefix="transformer." if a.prefix else "",
                   attnBias=a.attn_bias, sharded=a.sharded, vocab_size=a.vocab_size,
                   n_positions=a.n_positions, n_embd=a.d_model, n_layer=a.layers,
                   n_head=a.heads, n_inner=a.inner, activation_function=a.activation,
                   scale_attn_weights=not a.no_scale,
                   scale_attn_by_inverse_layer_idx=a.inverse_layer_idx)


if __name__ == "__main__":
    main()
