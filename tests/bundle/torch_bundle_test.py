"""PyTorch attention → save_bundle → attnviz compute / export --bundle.

1. nn.MultiheadAttention, q/k/v captured with a forward hook (the README example).
2. A 2-layer model of our own, each layer's q, k, v and weights captured by hooks, causal.
3. Hugging Face's shape: a tuple of per-layer [1, H, n, n] weights, as .safetensors.
attnviz's recomputed weights must match the module's within 1e-5 (absolute; both float32), the
token labels must round-trip, and every layer and head must be reachable (compute and export).
usage: torch_bundle_test.py ATTNVIZ
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "tools"))
from attnviz_bundle import save_bundle  # noqa: E402

TOLERANCE = 1e-5
ATTNVIZ = sys.argv[1]
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def attnviz(*args):
    r = subprocess.run([ATTNVIZ, *args], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SystemExit(f"attnviz {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


def check_bundle(path, tokens, weights, layers, heads, out, recomputed=True):
    """weights: [L, H, n, m] numpy, the module's own."""
    r = attnviz("compute", "--bundle", path, "--out", out)
    info = json.load(open(os.path.join(out, "bundle.json")))
    labels = json.load(open(os.path.join(out, "tokens.json")))
    check(labels["queries"] == tokens and labels["keys"] == tokens, f"{os.path.basename(path)}: token labels round-trip")
    check(info["bundle"]["layers"] == layers and info["bundle"]["heads"] == heads,
          f"{os.path.basename(path)}: {layers} layers × {heads} heads")
    check(info["recomputed"] == recomputed, f"{os.path.basename(path)}: recomputed = {recomputed}")
    worst = 0.0
    for layer in range(layers):
        mine = np.load(os.path.join(out, f"layer{layer}", "weights.npy"))
        check(mine.shape == weights[layer].shape, f"layer {layer} weights shape {mine.shape}")
        worst = max(worst, float(np.abs(mine - weights[layer]).max()))
    check(worst <= TOLERANCE, f"{os.path.basename(path)}: attnviz's weights vs the module's: max |diff| = {worst:.2e} "
                              f"(tolerance {TOLERANCE})")
    if recomputed:
        check(info["comparison"]["within_tolerance"] and "warning" not in r.stderr,
              f"{os.path.basename(path)}: no mismatch warning (reported {info['comparison']['max_abs_difference']:.2e})")
    for layer in range(layers):
        png = os.path.join(out, f"l{layer}.png")
        attnviz("export", "--bundle", path, "--layer", str(layer), "--head", "all", "--png", png)
        with open(png, "rb") as f:
            check(f.read(8) == b"\x89PNG\r\n\x1a\n", f"export --layer {layer} --head all writes a PNG")
    return worst


def multihead_attention(tmp):
    torch.manual_seed(0)
    # The README example, as written there.
    mha = nn.MultiheadAttention(embed_dim=32, num_heads=4, batch_first=True)
    captured = {}
    mha.register_forward_hook(lambda mod, inp, out: captured.update(x=inp[0], weights=out[1]))
    x = torch.randn(1, 6, 32)
    tokens = ["The", "cat", "sat", "on", "the", "mat"]
    mha(x, x, x, need_weights=True, average_attn_weights=False)
    wq, wk, wv = mha.in_proj_weight.chunk(3)
    bq, bk, bv = mha.in_proj_bias.chunk(3)
    split = lambda t: t.view(1, 6, 4, 8).transpose(1, 2)  # noqa: E731  [batch, heads, n, d_head]
    x = captured["x"]
    save_bundle(os.path.join(tmp, "mha.npz"), tokens, captured["weights"],
                q=split(x @ wq.T + bq), k=split(x @ wk.T + bk), v=split(x @ wv.T + bv))
    weights = captured["weights"].detach().numpy()[0][None]  # [1, H, n, n]
    check_bundle(os.path.join(tmp, "mha.npz"), tokens, weights, 1, 4, os.path.join(tmp, "mha"))
    # The output stage is the module's per-head A·V (before out_proj).
    v = split(x @ wv.T + bv).detach().numpy()[0]
    out = np.load(os.path.join(tmp, "mha", "layer0", "output.npy"))
    diff = float(np.abs(out - weights[0] @ v).max())
    check(diff <= TOLERANCE, f"mha: output stage vs A·V: max |diff| = {diff:.2e}")


class Layer(nn.Module):
    """Causal multi-head self-attention; the weights pass through a hook point (nn.Identity)."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.qkv, self.out, self.pattern = nn.Linear(d, 3 * d), nn.Linear(d, d), nn.Identity()

    def split(self, t):
        return t.view(1, t.shape[1], self.heads, self.dh).transpose(1, 2)

    def forward(self, x):
        n = x.shape[1]
        q, k, v = (self.split(t) for t in self.qkv(x).split(x.shape[-1], dim=-1))
        scores = q @ k.transpose(-1, -2) / self.dh ** 0.5
        scores = scores.masked_fill(torch.triu(torch.ones(n, n, dtype=torch.bool), 1), float("-inf"))
        weights = self.pattern(scores.softmax(-1))
        return x + self.out((weights @ v).transpose(1, 2).reshape(1, n, -1))


def two_layer_model(tmp):
    torch.manual_seed(1)
    model = nn.Sequential(Layer(24, 3), Layer(24, 3))
    qkv, pattern = [], []
    for layer in model:
        layer.qkv.register_forward_hook(lambda mod, inp, out: qkv.append(out))
        layer.pattern.register_forward_hook(lambda mod, inp, out: pattern.append(out))
    tokens = ["a", "b", "c", "a", "b", "c", "a"]
    with torch.no_grad():
        model(torch.randn(1, len(tokens), 24))
    check(len(qkv) == 2 and len(pattern) == 2, "two layers recorded by hooks")
    q, k, v = ([model[l].split(qkv[l].split(24, dim=-1)[i]) for l in range(2)] for i in range(3))
    save_bundle(os.path.join(tmp, "two.npz"), tokens, pattern, q=q, k=k, v=v, metadata={"model": "TwoLayer"})
    weights = np.stack([p.numpy()[0] for p in pattern])
    check_bundle(os.path.join(tmp, "two.npz"), tokens, weights, 2, 3, os.path.join(tmp, "two"))
    info = json.load(open(os.path.join(tmp, "two", "bundle.json")))
    check(info["options"]["mask"] == "causal" and info["options"]["mask_inferred_causal"],
          "causal mask inferred from the weights")
    check(json.loads(info["bundle"]["metadata"]) == {"model": "TwoLayer"}, "metadata round-trips")


def hugging_face_shape(tmp):
    torch.manual_seed(2)
    n, heads, layers = 5, 2, 3
    attentions = tuple(torch.randn(1, heads, n, n).softmax(-1) for _ in range(layers))
    tokens = ["[CLS]", "hello", "wor", "##ld", "[SEP]"]
    path = os.path.join(tmp, "hf.safetensors")
    save_bundle(path, tokens, attentions)
    weights = np.stack([a.numpy()[0] for a in attentions])
    check_bundle(path, tokens, weights, layers, heads, os.path.join(tmp, "hf"), recomputed=False)
    try:
        # Hugging Face's outputs.attentions for a batch of two texts.
        save_bundle(os.path.join(tmp, "batch.npz"), tokens, tuple(torch.randn(2, heads, n, n).softmax(-1) for _ in range(2)))
        check(False, "a batch of 2 is refused")
    except ValueError as e:
        check("batch axis has 2 examples" in str(e), f"a batch of 2 is refused: {e}")


with tempfile.TemporaryDirectory() as tmp:
    multihead_attention(tmp)
    two_layer_model(tmp)
    hugging_face_shape(tmp)
if failures:
    print(f"{len(failures)} check(s) failed")
    sys.exit(1)
print("all checks passed")
