#!/usr/bin/python3
"""An independent float64 PyTorch GPT-2 forward (Hugging Face GPT2Model semantics, tied lm_head).

It reads the checkpoint folder itself: config.json and model.safetensors or
model.safetensors.index.json + shards, parsing the safetensors header with json/struct and
decoding F32/F16/BF16 to float64. Nothing here is shared with make_checkpoint.py or attnviz.

  ref = Gpt2Reference(folder); r = ref.forward([3, 14, 15], temperature=1.0)
  r["hidden"] [L+1, n, d]   entry 0 = wte + wpe, entry l = residual stream after block l
  r["logits"] [n, vocab]    ln_f(hidden[L]) @ wte^T
  r["layers"][l] dict of q, k, v [H, n, dh], scores (q·k), scaled, masked (-inf above the
                 diagonal), weights (softmax), output (weights @ v) [H, n, dh]
  hook(name, layer, tensor) -> tensor, optional, may replace ("resid_pre", l, x [n, d]) for
                 l = 0..L (L: the final stream) and ("z", l, output [H, n, dh]) (patching_test.py)
"""

import json
import math
import os
import struct

import numpy as np
import torch

DTYPES = {"F32": ("<f4", 4), "F16": ("<f2", 2), "BF16": ("<u2", 2), "F64": ("<f8", 8)}


def readSafetensors(path):
    """{name: float64 torch tensor} from one .safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    (hlen,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + hlen].decode("utf-8"))
    base = 8 + hlen
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        npType, size = DTYPES[info["dtype"]]
        begin, end = info["data_offsets"]
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        assert end - begin == count * size, name
        a = np.frombuffer(raw, dtype=npType, count=count, offset=base + begin)
        if info["dtype"] == "BF16":
            a = (a.astype("<u4") << 16).view("<f4")
        out[name] = torch.from_numpy(a.astype(np.float64).reshape(info["shape"]))
    return out


def readCheckpoint(folder):
    single = os.path.join(folder, "model.safetensors")
    if os.path.exists(single):
        tensors = readSafetensors(single)
    else:
        with open(os.path.join(folder, "model.safetensors.index.json")) as f:
            index = json.load(f)
        tensors = {}
        for fname in sorted(set(index["weight_map"].values())):
            tensors.update(readSafetensors(os.path.join(folder, fname)))
    return {(k[len("transformer."):] if k.startswith("transformer.") else k): v
            for k, v in tensors.items()}


def layerNorm(x, w, b, eps):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps) * w + b


def activation(name, x):
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3)))
    if name == "gelu":
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))
    if name == "relu":
        return torch.clamp(x, min=0.0)
    raise ValueError(name)


class Gpt2Reference:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = readCheckpoint(folder)

    def forward(self, ids, temperature=1.0, hook=None):
        cfg, w = self.cfg, self.w
        d, H, L = cfg["n_embd"], cfg["n_head"], cfg["n_layer"]
        dh = d // H
        eps = cfg.get("layer_norm_epsilon", 1e-5)
        act = cfg.get("activation_function", "gelu_new")
        n = len(ids)
        idx = torch.tensor(ids, dtype=torch.long)
        hook = hook or (lambda name, layer, t: t)
        x = hook("resid_pre", 0, w["wte.weight"][idx] + w["wpe.weight"][:n])
        hidden = [x]
        layers = []
        causal = torch.tril(torch.ones(n, n, dtype=torch.bool))
        for l in range(L):
            p = f"h.{l}."
            h = layerNorm(x, w[p + "ln_1.weight"], w[p + "ln_1.bias"], eps)
            qkv = h @ w[p + "attn.c_attn.weight"] + w[p + "attn.c_attn.bias"]  # [n, 3d]
            q, k, v = qkv.split(d, dim=1)

            def heads(t):
                return t.reshape(n, H, dh).transpose(0, 1)  # [H, n, dh]

            q, k, v = heads(q), heads(k), heads(v)
            scores = q @ k.transpose(1, 2)
            scale = 1.0
            if cfg.get("scale_attn_weights", True):
                scale /= math.sqrt(dh)
            if cfg.get("scale_attn_by_inverse_layer_idx", False):
                scale /= float(l + 1)
            scaled = scores * scale / temperature
            masked = scaled.masked_fill(~causal, float("-inf"))
            weights = torch.softmax(masked, dim=-1)
            output = hook("z", l, weights @ v)  # [H, n, dh]
            merged = output.transpose(0, 1).reshape(n, d)
            attn = merged @ w[p + "attn.c_proj.weight"] + w[p + "attn.c_proj.bias"]
            x = x + attn
            h2 = layerNorm(x, w[p + "ln_2.weight"], w[p + "ln_2.bias"], eps)
            m = activation(act, h2 @ w[p + "mlp.c_fc.weight"] + w[p + "mlp.c_fc.bias"])
            x = hook("resid_pre", l + 1, x + m @ w[p + "mlp.c_proj.weight"] + w[p + "mlp.c_proj.bias"])
            hidden.append(x)
            layers.append(dict(q=q, k=k, v=v, scores=scores, scaled=scaled, masked=masked,
                               weights=weights, output=output))
        final = layerNorm(x, w["ln_f.weight"], w["ln_f.bias"], eps)
        logits = final @ w["wte.weight"].T
        return dict(hidden=torch.stack(hidden).numpy(), logits=logits.numpy(),
                    layers=[{k: t.numpy() for k, t in layer.items()} for layer in layers])


if __name__ == "__main__":
    import sys
    r = Gpt2Reference(sys.argv[1]).forward([int(t) for t in sys.argv[2].split(",")])
    print("hidden", r["hidden"].shape, "logits", r["logits"].shape)
    print("layer0 weights\n", r["layers"][0]["weights"][0])
