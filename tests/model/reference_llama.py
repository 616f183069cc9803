#!/usr/bin/python3
"""An independent float64 PyTorch forward of the Llama family (Hugging Face LlamaForCausalLM,
MistralForCausalLM and Qwen2ForCausalLM semantics), for llama_forward_test.py.

It reads config.json and the safetensors weights itself (reference_gpt2.readCheckpoint, which
decodes F32/F16/BF16 to float64) and shares nothing with make_llama_checkpoint.py or attnviz.

  r = LlamaReference(folder).forward([3, 14, 15])
  r["hidden"] [L+1, n, d]   entry 0 = embed_tokens[ids], entry l = residual stream after block l
  r["logits"] [n, vocab]    norm(hidden[L]) @ (lm_head or embed_tokens)^T
  r["layers"][l] dict of [H, n, d_head] q_unrotated, k_unrotated, q, k, v (K and V repeated to
                 the H query heads, as repeat_kv does), [H, n, n] scores, scaled, masked,
                 weights, and output [H, n, d_head]
  hook: as reference_gpt2.Gpt2Reference.forward's ("resid_pre", l, x) and ("z", l, output)
"""

import json
import math
import os

import torch

from reference_gpt2 import readCheckpoint


def rmsNorm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def inverseFrequencies(cfg, dh):
    inv = 1.0 / (cfg.get("rope_theta", 10000.0) ** (torch.arange(0, dh, 2, dtype=torch.float64) / dh))
    rs = cfg.get("rope_scaling")
    if not rs or rs.get("rope_type", rs.get("type")) in (None, "default"):
        return inv
    assert rs.get("rope_type", rs.get("type")) == "llama3"
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    wavelen = 2 * math.pi / inv
    longWaves = wavelen > old / low           # kept only 1/factor of their speed
    shortWaves = wavelen < old / high         # unchanged
    blend = (old / wavelen - low) / (high - low)
    medium = (1 - blend) * inv / factor + blend * inv
    return torch.where(longWaves, inv / factor, torch.where(shortWaves, inv, medium))


def rotateHalf(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


def rope(x, inv):
    """x [heads, n, dh]: position i turns each pair (c, c + dh/2) by i * inv[c]."""
    n = x.shape[1]
    angles = torch.arange(n, dtype=torch.float64)[:, None] * inv[None, :]
    emb = torch.cat((angles, angles), dim=-1)
    return x * torch.cos(emb) + rotateHalf(x) * torch.sin(emb)


def windowOf(cfg, layer):
    t = cfg["model_type"]
    if t == "mistral":
        return cfg.get("sliding_window", 4096)
    if t == "qwen2" and cfg.get("use_sliding_window", False) and layer >= cfg.get("max_window_layers", 28):
        return cfg.get("sliding_window", 4096)
    return None


class LlamaReference:
    def __init__(self, folder):
        with open(os.path.join(folder, "config.json")) as f:
            self.cfg = json.load(f)
        self.w = readCheckpoint(folder)

    def forward(self, ids, temperature=1.0, hook=None):
        cfg, w = self.cfg, self.w
        d, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
        KV = cfg.get("num_key_value_heads") or H
        dh = cfg.get("head_dim") or d // H
        eps = cfg.get("rms_norm_eps", 1e-6)
        qwen2 = cfg["model_type"] == "qwen2"
        qkvBias = qwen2 or cfg.get("attention_bias", False)
        oBias = not qwen2 and cfg.get("attention_bias", False)
        inv = inverseFrequencies(cfg, dh)
        n = len(ids)
        hook = hook or (lambda name, layer, t: t)
        x = hook("resid_pre", 0, w["model.embed_tokens.weight"][torch.tensor(ids, dtype=torch.long)])
        hidden, layers = [x], []
        i = torch.arange(n)[:, None]
        j = torch.arange(n)[None, :]
        for l in range(L):
            p = f"model.layers.{l}."
            allowed = j <= i
            window = windowOf(cfg, l)
            if window is not None:
                allowed = allowed & (j > i - window)
            h = rmsNorm(x, w[p + "input_layernorm.weight"], eps)

            def proj(name, t, bias):
                y = t @ w[p + f"self_attn.{name}.weight"].T
                return y + w[p + f"self_attn.{name}.bias"] if bias else y

            q = proj("q_proj", h, qkvBias).reshape(n, H, dh).transpose(0, 1)
            k = proj("k_proj", h, qkvBias).reshape(n, KV, dh).transpose(0, 1)
            v = proj("v_proj", h, qkvBias).reshape(n, KV, dh).transpose(0, 1)
            qr, kr = rope(q, inv), rope(k, inv)
            rep = H // KV
            k, kr, v = (t.repeat_interleave(rep, dim=0) for t in (k, kr, v))
            scores = qr @ kr.transpose(1, 2)
            scaled = scores / math.sqrt(dh) / temperature
            masked = scaled.masked_fill(~allowed, float("-inf"))
            weights = torch.softmax(masked, dim=-1)
            output = hook("z", l, weights @ v)
            merged = output.transpose(0, 1).reshape(n, H * dh)
            attn = merged @ w[p + "self_attn.o_proj.weight"].T
            if oBias:
                attn = attn + w[p + "self_attn.o_proj.bias"]
            x = x + attn
            h2 = rmsNorm(x, w[p + "post_attention_layernorm.weight"], eps)
            gate = h2 @ w[p + "mlp.gate_proj.weight"].T
            up = h2 @ w[p + "mlp.up_proj.weight"].T
            x = hook("resid_pre", l + 1, x + (gate * torch.sigmoid(gate) * up) @ w[p + "mlp.down_proj.weight"].T)
            hidden.append(x)
            layers.append(dict(q_unrotated=q, k_unrotated=k, q=qr, k=kr, v=v, scores=scores,
                               scaled=scaled, masked=masked, weights=weights, output=output))
        final = rmsNorm(x, w["model.norm.weight"], eps)
        unembed = w["model.embed_tokens.weight"] if cfg.get("tie_word_embeddings", False) else w["lm_head.weight"]
        return dict(hidden=torch.stack(hidden).numpy(), logits=(final @ unembed.T).numpy(),
                    layers=[{k: t.numpy() for k, t in layer.items()} for layer in layers])
