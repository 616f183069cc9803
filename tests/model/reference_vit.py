#!/usr/bin/python3
"""An independent float64 PyTorch forward of Hugging Face's vision transformers (model_type vit,
deit, dinov2, dinov2_with_registers), for vit_forward_test.py.

It reads config.json and the safetensors weights itself (reference_gpt2.readCheckpoint decodes
F32/F16/BF16 to float64) and shares nothing with make_vit_checkpoint.py or attnviz. The
behaviour follows transformers' modeling files (huggingface/transformers, src/transformers/
models/...), read for this file; each step names the class it follows:

  patches      ViTPatchEmbeddings / DeiTPatchEmbeddings / Dinov2PatchEmbeddings.forward:
               nn.Conv2d(C, D, kernel_size=P, stride=P) then flatten(2).transpose(1, 2): the
               patches in row-major order (r0c0, r0c1, ...); rows = H // P, cols = W // P (the
               convolution drops the remainder). Here: F.conv2d in float64.
  prefix       ViTEmbeddings.forward: cat(cls_token, patches) + position_embeddings.
               DeiTEmbeddings.forward: cat(cls_token, distillation_token, patches) +
               position_embeddings [1, N + 2, D] (every DeiT has the distillation token, with or
               without the teacher head).
               Dinov2Embeddings.forward: cat(cls_token, patches) + interpolate_pos_encoding(...);
               mask_token only replaces patches under bool_masked_pos (never here): ignored.
               Dinov2WithRegistersEmbeddings.forward: the same, then register_tokens inserted
               after [CLS] -- after the position embeddings were added, so registers carry none.
  image size   vit: ViTPatchEmbeddings.forward raises unless H, W == image_size (without
               interpolate_pos_encoding, which attnviz does not offer for vit/deit); the
               reference refuses any other size for vit and deit (attnviz's contract; HF DeiT
               itself only fails when the patch count differs).
  interpolation  Dinov2Embeddings.interpolate_pos_encoding (modeling_dinov2.py) and
               Dinov2WithRegistersEmbeddings.interpolate_pos_encoding: returned unchanged when
               num_patches == num_positions and height == width (pixels); otherwise the patch
               part, reshaped [1, s, s, D] -> [1, D, s, s] (s = int(sqrt(num_positions))), goes
               through nn.functional.interpolate(x.to(float32), size=(H // P, W // P),
               mode="bicubic", align_corners=False) -- with antialias=True for
               dinov2_with_registers only -- and back to [1, rows * cols, D]; the [CLS] entry is
               kept. Here: the same call in float32 on the decoded values, then float64 (not
               rounded back to the stored F16/BF16 dtype). Resizing to the same grid is an exact
               identity, so "skip only when the grid equals the trained grid" is equivalent.
  block        ViTLayer.forward / DeiTLayer.forward: x = x + dense(attn(layernorm_before(x)));
               x = x + output.dense(act(intermediate.dense(layernorm_after(x)))).
               Dinov2Layer.forward: x = x + lambda1 * dense(attn(norm1(x)));
               x = x + lambda2 * mlp(norm2(x)), mlp = fc2(act(fc1)) (Dinov2MLP, width
               int(hidden * mlp_ratio)) or, with use_swiglu_ffn, Dinov2SwiGLUFFN:
               x1, x2 = weights_in(x).chunk(2); weights_out(silu(x1) * x2), width
               (int(int(hidden * mlp_ratio) * 2 / 3) + 7) // 8 * 8. The lambda1 tensors are used
               as stored (layerscale_value only initialises them).
  attention    eager_attention_forward (modeling_vit.py, copied into deit/dinov2): q, k, v
               Linear (bias only when qkv_bias), split into heads; scores = q @ k^T;
               scaled = scores * head_dim ** -0.5; softmax over keys; no mask; out = w @ v,
               heads concatenated, then attention.output.dense.
  layernorm    nn.LayerNorm(hidden, eps=config.layer_norm_eps) (biased variance). Defaults:
               ViTConfig/DeiTConfig 1e-12; Dinov2Config's default changed (1e-12 -> 1e-6)
               between transformers versions, so the reference refuses a dinov2 config without it.
  activation   ACT2FN[hidden_act] (activations.py): "gelu" is GELUActivation =
               nn.functional.gelu, the exact erf form.
  heads        ViTForImageClassification: classifier(layernorm(x)[:, 0]).
               DeiTForImageClassification: classifier(layernorm(x)[:, 0]).
               DeiTForImageClassificationWithTeacher: (cls_classifier(ln[:, 0]) +
               distillation_classifier(ln[:, 1])) / 2.
               Dinov2ForImageClassification: classifier(cat(ln[:, 0], ln[:, 1:].mean(1))).
               Dinov2WithRegistersForImageClassification: classifier(cat(ln[:, 0],
               ln[:, 1 + num_register_tokens:].mean(1))) -- the registers are left out of the mean.
               A bare ViTModel's pooler.dense is not a classifier: no logits.

  r = VitReference(folder).forward(pixels)      pixels: float32 [C, H, W] or [1, C, H, W]
  r["tokens"], r["grid"] [rows, cols], r["patch"], r["prefix"]   what tokens.json must say
  r["hidden"] [L+1, N, D]  0: embeddings (position embeddings added, registers inserted);
                           l: residual stream after block l (before the final layernorm)
  r["logits"] [labels] or None;  r["probs"] softmax of the logits;  r["labels"] id -> name
  r["layers"][l] dict of q, k, v, output [H, N, d_head] and scores, scaled, masked (= scaled),
                 weights [H, N, N]
  r["rollout"] [N, N]  attention rollout (rollout() below) of the head-mean weights
"""

import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from reference_gpt2 import readCheckpoint  # noqa: E402

PREFIXES = {"vit": "vit.", "deit": "deit.", "dinov2": "dinov2.",
            "dinov2_with_registers": "dinov2_with_registers."}

# ACT2FN (transformers/activations.py) for the names a ViT config may use.
ACTIVATIONS = {
    "gelu": lambda x: F.gelu(x),
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh((2.0 / torch.pi) ** 0.5 * (x + 0.044715 * x ** 3))),
    "gelu_pytorch_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "quick_gelu": lambda x: x * torch.sigmoid(1.702 * x),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


class Refused(ValueError):
    """The folder or input is one attnviz must refuse (the reference refuses it too)."""


def rollout(weights):
    """Attention rollout (Abnar & Zuidema 2020) as attnviz defines it: W_l = mean over heads of
    layer l's weights [H, N, N]; A_l = 0.5 W_l + 0.5 I with rows renormalised to sum 1;
    R = A_L ... A_1 (the last layer leftmost). NumPy, float64."""
    n = weights[0].shape[-1]
    R = np.eye(n)
    for w in weights:
        A = 0.5 * np.asarray(w, np.float64).mean(axis=0) + 0.5 * np.eye(n)
        A = A / A.sum(axis=-1, keepdims=True)
        R = A @ R
    return R


def interpolatePositions(patchPos, rows, cols, antialias):
    """patchPos [s*s, D] (float64) -> [rows*cols, D] as interpolate_pos_encoding does: bicubic,
    align_corners=False, size=(rows, cols), in float32."""
    S, D = patchPos.shape
    s = int(S ** 0.5)
    if s * s != S:
        raise Refused(f"position_embeddings has {S} patch entries, not a square grid")
    x = patchPos.reshape(1, s, s, D).permute(0, 3, 1, 2).to(torch.float32)
    y = F.interpolate(x, size=(rows, cols), mode="bicubic", align_corners=False, antialias=antialias)
    return y.permute(0, 2, 3, 1).reshape(rows * cols, D).to(torch.float64)


class VitReference:
    def __init__(self, folder, antialias=None):
        """antialias: None = what the model type does (True only for dinov2_with_registers);
        True/False override it (the test uses that to show the case tells the two apart)."""
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            self.cfg = json.load(f)
        t = self.cfg.get("model_type")
        if t not in PREFIXES:
            raise Refused(f"model_type {t!r} is not a vision transformer the reference knows")
        self.type = t
        if t.startswith("dinov2") and "layer_norm_eps" not in self.cfg:
            raise Refused("layer_norm_eps is missing (its dinov2 default changed between versions)")
        act = self.cfg.get("hidden_act", "gelu")
        if act not in ACTIVATIONS:
            raise Refused(f"hidden_act {act!r}")
        self.act = ACTIVATIONS[act]
        self.antialias = (t == "dinov2_with_registers") if antialias is None else antialias
        raw = readCheckpoint(folder)
        pre = PREFIXES[t]
        self.w = {(k[len(pre):] if k.startswith(pre) else k): v for k, v in raw.items()}

    def tensor(self, name, shape):
        if name not in self.w:
            raise Refused(f"tensor {name} is missing")
        t = self.w[name]
        if list(t.shape) != list(shape):
            raise Refused(f"tensor {name} has shape {list(t.shape)}, expected {list(shape)}")
        return t

    def forward(self, pixels):
        cfg, t = self.cfg, self.type
        dino = t.startswith("dinov2")
        D, H, L = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_hidden_layers"]
        C, P = cfg.get("num_channels", 3), cfg["patch_size"]
        eps = cfg.get("layer_norm_eps", 1e-12)
        dh = D // H
        image = int(cfg["image_size"])
        grid0 = image // P
        pix = np.asarray(pixels)
        if pix.ndim == 4 and pix.shape[0] == 1:
            pix = pix[0]
        if pix.ndim != 3 or pix.shape[0] != C:
            raise Refused(f"pixels of shape {list(np.shape(pixels))}, expected [{C}, H, W]")
        _, Himg, Wimg = pix.shape
        if not dino and (Himg != image or Wimg != image):
            raise Refused(f"{t} needs {image}x{image} pixels, got {Himg}x{Wimg}")
        rows, cols = Himg // P, Wimg // P
        if rows == 0 or cols == 0:
            raise Refused("image smaller than one patch")
        w = lambda name, *shape: self.tensor(name, shape)  # noqa: E731

        # Patch embedding: a stride-P convolution (nn.Conv2d), float64.
        x = torch.from_numpy(pix.astype(np.float64))[None]
        conv = F.conv2d(x, w("embeddings.patch_embeddings.projection.weight", D, C, P, P),
                        w("embeddings.patch_embeddings.projection.bias", D), stride=P)
        assert conv.shape[-2:] == (rows, cols)
        patches = conv.flatten(2).transpose(1, 2)[0]  # [rows*cols, D], row-major
        nPrefixPos = 2 if t == "deit" else 1  # entries of position_embeddings before the patches
        pos = w("embeddings.position_embeddings", 1, nPrefixPos + grid0 * grid0, D)[0]
        tokens = [w("embeddings.cls_token", 1, 1, D)[0]]
        if t == "deit":
            tokens.append(w("embeddings.distillation_token", 1, 1, D)[0])
        x = torch.cat(tokens + [patches], 0)
        if dino:
            numPositions = pos.shape[0] - 1
            if rows * cols == numPositions and Himg == Wimg:
                posUsed = pos
            else:
                posUsed = torch.cat([pos[:1], interpolatePositions(pos[1:], rows, cols, self.antialias)], 0)
        else:
            posUsed = pos
        x = x + posUsed
        names = ["[CLS]"] + (["[DIST]"] if t == "deit" else [])
        R = 0
        if t == "dinov2_with_registers":
            R = int(cfg.get("num_register_tokens", 4))
            reg = w("embeddings.register_tokens", 1, R, D)[0]
            x = torch.cat([x[:1], reg, x[1:]], 0)
            names += [f"[REG{i}]" for i in range(R)]
        prefixCount = len(names)
        names += [f"r{r}c{c}" for r in range(rows) for c in range(cols)]
        N = x.shape[0]
        assert N == len(names)

        def ln(v, name):
            return F.layer_norm(v, (D,), w(name + ".weight", D), w(name + ".bias", D), eps)

        def linear(v, name, out, inp, bias=True):
            y = v @ w(name + ".weight", out, inp).T
            return y + w(name + ".bias", out) if bias else y

        hidden, layers = [x], []
        qkvBias = cfg.get("qkv_bias", True)
        if dino:
            ratio = cfg.get("mlp_ratio", 4)
            swiglu = cfg.get("use_swiglu_ffn", False)
            inner = int(D * ratio)
            if swiglu:
                inner = (int(inner * 2 / 3) + 7) // 8 * 8
        else:
            inner = cfg["intermediate_size"]
        for l in range(L):
            p = f"encoder.layer.{l}."
            a = p + "attention."
            h = ln(x, p + ("norm1" if dino else "layernorm_before"))
            q, k, v = (linear(h, a + f"attention.{n}", D, D, qkvBias).reshape(N, H, dh).transpose(0, 1)
                       for n in ("query", "key", "value"))
            scores = q @ k.transpose(1, 2)
            scaled = scores * dh ** -0.5
            weights = torch.softmax(scaled, dim=-1)
            output = weights @ v
            attn = linear(output.transpose(0, 1).reshape(N, D), a + "output.dense", D, D)
            if dino:
                x = x + attn * w(p + "layer_scale1.lambda1", D)
                h2 = ln(x, p + "norm2")
                if swiglu:
                    x12 = linear(h2, p + "mlp.weights_in", 2 * inner, D)
                    x1, x2 = x12.chunk(2, dim=-1)
                    m = linear(F.silu(x1) * x2, p + "mlp.weights_out", D, inner)
                else:
                    m = linear(self.act(linear(h2, p + "mlp.fc1", inner, D)), p + "mlp.fc2", D, inner)
                x = x + m * w(p + "layer_scale2.lambda1", D)
            else:
                x = x + attn
                h2 = ln(x, p + "layernorm_after")
                m = linear(self.act(linear(h2, p + "intermediate.dense", inner, D)), p + "output.dense", D, inner)
                x = x + m
            hidden.append(x)
            layers.append(dict(q=q, k=k, v=v, scores=scores, scaled=scaled, masked=scaled, weights=weights,
                               output=output))
        final = ln(x, "layernorm")
        logits = None
        if "cls_classifier.weight" in self.w:
            nl = self.w["cls_classifier.weight"].shape[0]
            logits = (linear(final[0], "cls_classifier", nl, D) +
                      linear(final[1], "distillation_classifier", nl, D)) / 2
        elif "classifier.weight" in self.w:
            nl = self.w["classifier.weight"].shape[0]
            if dino:
                logits = linear(torch.cat([final[0], final[1 + R:].mean(0)]), "classifier", nl, 2 * D)
            else:
                logits = linear(final[0], "classifier", nl, D)
        out = dict(pixels=pix.astype(np.float32), tokens=names, grid=[rows, cols], patch=P, prefix=prefixCount,
                   hidden=torch.stack(hidden).numpy(), final=final.numpy(),
                   positions=posUsed.numpy(),
                   logits=None if logits is None else logits.numpy(),
                   layers=[{k: v.numpy() for k, v in layer.items()} for layer in layers])
        out["rollout"] = rollout([layer["weights"] for layer in out["layers"]])
        if logits is not None:
            out["probs"] = torch.softmax(logits, -1).numpy()
            id2label = cfg.get("id2label", {})
            out["labels"] = {i: id2label.get(str(i), f"LABEL_{i}") for i in range(len(out["probs"]))}
        return out
