#!/usr/bin/python3
"""attnviz compute --model --pixels on vision transformers (model_type vit, deit, dinov2,
dinov2_with_registers) against an independent float64 PyTorch forward (reference_vit.py).

  vit_forward_test.py ATTNVIZ [--keep] [--only NAME]
  vit_forward_test.py --self-check-only          the reference's own checks, no attnviz

For each random tiny checkpoint (make_vit_checkpoint.py: ViT with and without the "vit." prefix,
with and without qkv bias, 1 and 3 channels, a ViTModel with its unused pooler; DeiT with the
teacher head and with the plain classifier; DINOv2 and DINOv2 with registers, bare and with the
[CLS ; patch mean] classifier, MLP and SwiGLU, random layer-scale tensors, inputs on the trained
grid, larger (bicubic up), smaller (down), non-square with the same patch count, and H or W not a
multiple of the patch; F32, F16 and BF16 weights) it runs
`attnviz compute --model DIR --pixels X.npy --layer all --out OUT` once and compares every file
with the reference. Tolerances (attnviz computes in float32 from the same decoded weights; the
reference in float64):
  weights.npy                         |got - ref| <= 1e-5 absolute
  hidden, logits, q, k, v, scores,
  scaled, masked (= scaled: no mask),
  output                              |got - ref| <= 1e-4 * max|ref| of that array
  rollout.npy                         |got - ref| <= 1e-5 absolute, ref computed with NumPy from
                                      the reference's weights (reference_vit.rollout)
  model.json top_labels               ids and labels exact (near-ties within 1e-4 may swap),
                                      p within 1e-4 of the reference softmax
  tokens.json                         tokens, grid, patch, prefix exactly
  pixels.npy                          equal to the input, float32 [C, H, W]
A case without a classifier must write no logits.npy and no top_labels.

Before each case the reference is checked against a second formulation (module_forward below:
nn.Conv2d patches, nn.MultiheadAttention, a hand-written LayerNorm and erf GELU, and the
bicubic resize re-implemented in NumPy from PyTorch's kernels) to 1e-6 relative, its attention
and rollout rows must sum to 1, and in the resized cases switching antialias must change the
embeddings by far more than the tolerance (so the test tells dinov2's interpolation from
dinov2_with_registers'). Once: that NumPy resize against torch's interpolate, and a DINOv2 with
every lambda1 = 1 against the ViT forward of the same weights renamed.
Then `--layer 1`, and bad folders and inputs: exit status 1 or 2 and exactly one line on
stderr (naming the tensor or key where one is at fault).
"""

import argparse
import json
import math
import os
import shutil
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
import make_vit_checkpoint  # noqa: E402
from model_forward_test import FAIL, WORST, compare, load, run  # noqa: E402
from reference_gpt2 import readCheckpoint  # noqa: E402
from reference_vit import PREFIXES, Refused, VitReference  # noqa: E402

WEIGHTS_ATOL = 1e-5
REL_TOL = 1e-4
ROLLOUT_ATOL = 1e-5
PROB_ATOL = 1e-4
SELF_CHECK_REL = 1e-6
STAGES = ["q", "k", "v", "scores", "scaled", "masked", "weights", "output"]

# name, model_type, makeVitCheckpoint options, input (H, W) (None = image_size), batch axis
CASES = [
    ("vit_cls_f32_l3d48", "vit",
     dict(head="classifier", numLabels=7, dtype="F32", hidden_size=48, num_hidden_layers=3,
          num_attention_heads=4, intermediate_size=96, image_size=32, patch_size=8, encoder_stride=8),
     None, False),
    ("vit_cls_f16_noqkvbias_1ch_eps1e-2", "vit",
     dict(head="classifier", numLabels=3, dtype="F16", hidden_size=32, num_attention_heads=2,
          intermediate_size=48, image_size=24, patch_size=4, num_channels=1, qkv_bias=False,
          layer_norm_eps=1e-2, encoder_stride=3), None, True),
    ("vit_model_bf16_noprefix_pooler_28px", "vit",
     dict(head=None, dtype="BF16", hidden_size=32, num_attention_heads=4, image_size=28, patch_size=8,
          encoder_stride=8), None, False),
    ("deit_teacher_bf16", "deit",
     dict(head="teacher", numLabels=6, dtype="BF16", hidden_size=32, num_attention_heads=4,
          image_size=16, patch_size=4), None, False),
    ("deit_cls_f32_noteacher_l3", "deit",
     dict(head="classifier", numLabels=4, dtype="F32", hidden_size=40, num_hidden_layers=3,
          num_attention_heads=2, intermediate_size=80, image_size=20, patch_size=5, encoder_stride=5),
     None, False),
    ("dinov2_model_f32_35x35_skip", "dinov2",
     dict(head=None, dtype="F32", image_size=32, patch_size=8), (35, 35), False),
    ("dinov2_cls_bf16_trained_l3", "dinov2",
     dict(head="classifier", numLabels=5, dtype="BF16", hidden_size=48, num_hidden_layers=3,
          num_attention_heads=3, image_size=24, patch_size=6, layer_norm_eps=1e-5), None, False),
    ("dinov2_cls_f32_up_40x48", "dinov2",
     dict(head="classifier", numLabels=8, dtype="F32", image_size=32, patch_size=8), (40, 48), True),
    ("dinov2_cls_f16_swiglu_up_37x43", "dinov2",
     dict(head="classifier", numLabels=5, dtype="F16", mlp_ratio=2.5, use_swiglu_ffn=True,
          image_size=32, patch_size=8), (37, 43), False),
    ("dinov2_model_f32_samecount_16x64", "dinov2",
     dict(head=None, dtype="F32", image_size=32, patch_size=8), (16, 64), False),
    ("dinov2_cls_f32_down_12x20", "dinov2",
     dict(head="classifier", numLabels=3, dtype="F32", num_attention_heads=2, image_size=24,
          patch_size=4), (12, 20), False),
    ("dinov2reg_cls_f16_r4_32x35", "dinov2_with_registers",
     dict(head="classifier", numLabels=5, dtype="F16", num_register_tokens=4, image_size=32,
          patch_size=8), (32, 35), False),
    ("dinov2reg_cls_f32_r2_up_40x48_l3", "dinov2_with_registers",
     dict(head="classifier", numLabels=6, dtype="F32", num_register_tokens=2, num_hidden_layers=3,
          image_size=32, patch_size=8), (40, 48), False),
    ("dinov2reg_model_bf16_r1_swiglu_down_12x16", "dinov2_with_registers",
     dict(head=None, dtype="BF16", num_register_tokens=1, use_swiglu_ffn=True, image_size=24,
          patch_size=4), (12, 16), False),
]
# Cases whose grid differs from the trained one by a real resize: the antialias switch must matter.
RESIZED = {"dinov2_cls_f32_up_40x48", "dinov2_cls_f16_swiglu_up_37x43", "dinov2_model_f32_samecount_16x64",
           "dinov2_cls_f32_down_12x20", "dinov2reg_cls_f32_r2_up_40x48_l3",
           "dinov2reg_model_bf16_r1_swiglu_down_12x16"}


def compute(binary, model, pixelsPath, out, *extra):
    shutil.rmtree(out, ignore_errors=True)
    return run([binary, "compute", "--model", model, "--pixels", pixelsPath, *extra, "--out", out])


# ---- a second formulation, for checking the reference itself ----------------------------------


def cubicMatrix(inSize, outSize, antialias):
    """[outSize, inSize] weights of PyTorch's 1-D bicubic resize, align_corners=False, written
    from ATen's kernels: without antialias (upsample_bicubic2d) the source x = scale * (i + 0.5)
    - 0.5, taps floor(x) - 1 .. floor(x) + 2 clamped to the edge, Keys cubic with A = -0.75;
    with antialias (_compute_indices_weights_aa, PIL's filter) support 2 * max(scale, 1) around
    center = scale * (i + 0.5), cubic with a = -0.5 at (j - center + 0.5) / max(scale, 1),
    weights normalised to sum 1. scale = in / out."""
    scale = inSize / outSize
    M = np.zeros((outSize, inSize))
    if not antialias:
        A = -0.75

        def near(x):  # |x| <= 1
            return ((A + 2) * x - (A + 3)) * x * x + 1

        def far(x):  # 1 < |x| < 2
            return ((A * x - 5 * A) * x + 8 * A) * x - 4 * A

        for i in range(outSize):
            src = scale * (i + 0.5) - 0.5
            i0 = math.floor(src)
            t = src - i0
            for k, wk in enumerate((far(t + 1), near(t), near(1 - t), far(2 - t))):
                M[i, min(max(i0 - 1 + k, 0), inSize - 1)] += wk
        return M
    a = -0.5

    def filt(x):
        x = abs(x)
        if x < 1:
            return ((a + 2) * x - (a + 3)) * x * x + 1
        if x < 2:
            return (((x - 5) * x + 8) * x - 4) * a
        return 0.0

    support = 2.0 * scale if scale >= 1 else 2.0
    inv = 1.0 / scale if scale >= 1 else 1.0
    for i in range(outSize):
        center = scale * (i + 0.5)
        lo = max(int(center - support + 0.5), 0)
        hi = min(int(center + support + 0.5), inSize)
        ws = np.array([filt((j - center + 0.5) * inv) for j in range(lo, hi)])
        M[i, lo:hi] = ws / ws.sum()
    return M


def module_forward(folder, pixels, antialias=None):
    """The same models built from torch.nn modules, in float64: nn.Conv2d patches,
    nn.MultiheadAttention (in_proj = [query; key; value]), LayerNorm and GELU written out, and
    the position-embedding resize done with cubicMatrix (NumPy, float64)."""
    with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    t = cfg["model_type"]
    dino = t.startswith("dinov2")
    raw = readCheckpoint(folder)
    pre = PREFIXES[t]
    W = {(k[len(pre):] if k.startswith(pre) else k): v for k, v in raw.items()}
    D, H, C, P = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_channels"], cfg["patch_size"]
    eps = cfg["layer_norm_eps"]
    aa = (t == "dinov2_with_registers") if antialias is None else antialias
    dt = torch.float64
    pix = np.asarray(pixels, np.float64).reshape(C, *np.shape(pixels)[-2:])

    def setp(param, value):
        with torch.no_grad():
            param.copy_(value)

    def layerNorm(x, name):
        mu = x.mean(-1, keepdim=True)
        var = ((x - mu) ** 2).mean(-1, keepdim=True)
        return (x - mu) / torch.sqrt(var + eps) * W[name + ".weight"] + W[name + ".bias"]

    def gelu(x):
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))

    conv = nn.Conv2d(C, D, P, stride=P).to(dt)
    setp(conv.weight, W["embeddings.patch_embeddings.projection.weight"])
    setp(conv.bias, W["embeddings.patch_embeddings.projection.bias"])
    with torch.no_grad():
        fmap = conv(torch.from_numpy(pix)[None])[0]  # [D, rows, cols]
    rows, cols = fmap.shape[1:]
    seq = fmap.permute(1, 2, 0).reshape(rows * cols, D)
    pos = W["embeddings.position_embeddings"][0]
    npre = 2 if t == "deit" else 1
    s = int(round((pos.shape[0] - npre) ** 0.5))
    patchPos = pos[npre:]
    if dino and not (rows * cols == s * s and pix.shape[1] == pix.shape[2]):
        grid = patchPos.numpy().reshape(s, s, D)
        resized = np.einsum("ri,ijd,cj->rcd", cubicMatrix(s, rows, aa), grid, cubicMatrix(s, cols, aa))
        patchPos = torch.from_numpy(resized.reshape(rows * cols, D))
    front = [W["embeddings.cls_token"][0, 0] + pos[0]]
    if t == "deit":
        front.append(W["embeddings.distillation_token"][0, 0] + pos[1])
    R = 0
    if t == "dinov2_with_registers":
        R = cfg["num_register_tokens"]
        front += list(W["embeddings.register_tokens"][0])
    x = torch.cat([torch.stack(front), seq + patchPos], 0)[None]  # [1, N, D]
    hidden, weights = [x[0]], []
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        a = p + "attention.attention."
        mha = nn.MultiheadAttention(D, H, bias=True, batch_first=True).to(dt)
        setp(mha.in_proj_weight, torch.cat([W[a + n + ".weight"] for n in ("query", "key", "value")]))
        qkvBias = [W.get(a + n + ".bias", torch.zeros(D, dtype=dt)) for n in ("query", "key", "value")]
        setp(mha.in_proj_bias, torch.cat(qkvBias))
        setp(mha.out_proj.weight, W[p + "attention.output.dense.weight"])
        setp(mha.out_proj.bias, W[p + "attention.output.dense.bias"])
        mha.eval()
        h = layerNorm(x, p + ("norm1" if dino else "layernorm_before"))
        with torch.no_grad():
            att, wts = mha(h, h, h, need_weights=True, average_attn_weights=False)
        weights.append(wts[0])
        if dino:
            x = x + W[p + "layer_scale1.lambda1"] * att
            h2 = layerNorm(x, p + "norm2")
            if cfg.get("use_swiglu_ffn"):
                u = h2 @ W[p + "mlp.weights_in.weight"].T + W[p + "mlp.weights_in.bias"]
                half = u.shape[-1] // 2
                g = u[..., :half] * torch.sigmoid(u[..., :half]) * u[..., half:]
                m = g @ W[p + "mlp.weights_out.weight"].T + W[p + "mlp.weights_out.bias"]
            else:
                m = gelu(h2 @ W[p + "mlp.fc1.weight"].T + W[p + "mlp.fc1.bias"]) @ W[p + "mlp.fc2.weight"].T \
                    + W[p + "mlp.fc2.bias"]
            x = x + W[p + "layer_scale2.lambda1"] * m
        else:
            x = x + att
            h2 = layerNorm(x, p + "layernorm_after")
            m = gelu(h2 @ W[p + "intermediate.dense.weight"].T + W[p + "intermediate.dense.bias"])
            x = x + m @ W[p + "output.dense.weight"].T + W[p + "output.dense.bias"]
        hidden.append(x[0])
    fin = layerNorm(x[0], "layernorm")
    if "cls_classifier.weight" in W:
        logits = 0.5 * (fin[0] @ W["cls_classifier.weight"].T + W["cls_classifier.bias"] +
                        fin[1] @ W["distillation_classifier.weight"].T + W["distillation_classifier.bias"])
    elif "classifier.weight" in W:
        feat = torch.cat([fin[0], fin[1 + R:].mean(0)]) if dino else fin[0]
        logits = feat @ W["classifier.weight"].T + W["classifier.bias"]
    else:
        logits = None
    return dict(hidden=torch.stack(hidden).detach().numpy(), weights=[w.detach().numpy() for w in weights],
                logits=None if logits is None else logits.detach().numpy())


def relErr(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def checkReference(name, folder, pixels, ref):
    """The reference against module_forward, and its attention rows and rollout rows."""
    alt = module_forward(folder, pixels)
    errs = [relErr(alt["hidden"], ref["hidden"])]
    errs += [relErr(a, r["weights"]) for a, r in zip(alt["weights"], ref["layers"])]
    if (alt["logits"] is None) != (ref["logits"] is None):
        FAIL.add(f"{name} reference", "the two formulations disagree on whether there are logits")
        return
    if ref["logits"] is not None:
        errs.append(relErr(alt["logits"], ref["logits"]))
    if max(errs) > SELF_CHECK_REL:
        FAIL.add(f"{name} reference", f"differs from the nn.Module formulation by {max(errs):.3g} (relative)")
    for l, layer in enumerate(ref["layers"]):
        rowErr = np.abs(layer["weights"].sum(-1) - 1).max()
        if rowErr > 1e-12 or not np.array_equal(layer["masked"], layer["scaled"]):
            FAIL.add(f"{name} reference", f"layer {l}: rows sum to 1 within {rowErr:.3g}, masked == scaled "
                     f"{np.array_equal(layer['masked'], layer['scaled'])}")
    if np.abs(ref["rollout"].sum(-1) - 1).max() > 1e-12:
        FAIL.add(f"{name} reference", "rollout rows do not sum to 1")


def checkDinoReducesToVit(tmp):
    """A DINOv2 whose lambda1 are all 1 is a ViT block for block (Dinov2Layer vs ViTLayer); the
    reference must give the same hidden states for the same weights under ViT names."""
    dino = os.path.join(tmp, "selfcheck_dino")

    def ones(tensors):
        return [(n, np.ones_like(a) if n.endswith("lambda1") else a) for n, a in tensors]

    cfg, dec = make_vit_checkpoint.makeVitCheckpoint(dino, modelType="dinov2", seed=77, head=None, edit=ones,
                                                     image_size=32, patch_size=8, layer_norm_eps=1e-5)
    rename = {"norm1": "layernorm_before", "norm2": "layernorm_after", "mlp.fc1": "intermediate.dense",
              "mlp.fc2": "output.dense"}
    vitTensors = []
    for n, a in dec.items():
        if n.endswith("lambda1") or n == "embeddings.mask_token":
            continue
        for old, new in rename.items():
            n = n.replace(f".{old}.", f".{new}.")
        vitTensors.append((n, a))
    vit = os.path.join(tmp, "selfcheck_vit")
    os.makedirs(vit, exist_ok=True)
    make_checkpoint.writeSafetensors(os.path.join(vit, "model.safetensors"), vitTensors, "F32")
    vcfg = {k: cfg[k] for k in ("hidden_size", "num_hidden_layers", "num_attention_heads", "hidden_act",
                                "layer_norm_eps", "image_size", "patch_size", "num_channels", "qkv_bias")}
    vcfg.update(model_type="vit", intermediate_size=int(cfg["hidden_size"] * cfg["mlp_ratio"]))
    with open(os.path.join(vit, "config.json"), "w") as f:
        json.dump(vcfg, f)
    pixels = make_vit_checkpoint.randomPixels(5, 3, 32, 32)
    a, b = VitReference(dino).forward(pixels), VitReference(vit).forward(pixels)
    err = relErr(a["hidden"], b["hidden"])
    if err > 1e-12 or a["tokens"] != b["tokens"]:
        FAIL.add("reference dinov2 -> vit", f"lambda1 = 1 DINOv2 differs from the ViT by {err:.3g}")
    return err


def checkInterpolation():
    """cubicMatrix (NumPy) against torch's interpolate, with and without antialias, up and down."""
    worst = 0.0
    rng = np.random.default_rng(3)
    for s, r, c in ((4, 5, 6), (6, 3, 5), (4, 2, 8), (6, 3, 4), (4, 4, 4), (4, 7, 3)):
        g = rng.normal(size=(1, 3, s, s))
        for aa in (False, True):
            want = torch.nn.functional.interpolate(torch.from_numpy(g), size=(r, c), mode="bicubic",
                                                   align_corners=False, antialias=aa).numpy()
            got = np.einsum("ri,bdij,cj->bdrc", cubicMatrix(s, r, aa), g, cubicMatrix(s, c, aa))
            worst = max(worst, float(np.abs(got - want).max()))
    if worst > 1e-9:
        FAIL.add("reference bicubic", f"NumPy bicubic differs from torch interpolate by {worst:.3g}")
    return worst


# ---- the forward pass on every case ----------------------------------------------------------


def inputFor(seed, cfg, size, batch):
    h, w = size or (cfg["image_size"], cfg["image_size"])
    x = make_vit_checkpoint.randomPixels(seed, cfg["num_channels"], h, w)
    return x[None] if batch else x


def checkTokens(where, out, ref):
    try:
        with open(os.path.join(out, "tokens.json"), encoding="utf-8") as f:
            toks = json.load(f)
    except Exception as e:  # noqa: BLE001
        FAIL.add(where, f"tokens.json: {e}")
        return False
    ok = True
    for key in ("tokens", "grid", "patch", "prefix"):
        if toks.get(key) != ref[key]:
            got = toks.get(key)
            if key == "tokens" and isinstance(got, list):
                got = got[:8] + (["..."] if len(got) > 8 else [])
            want = ref[key][:8] + ["..."] if key == "tokens" and len(ref[key]) > 8 else ref[key]
            FAIL.add(where, f"tokens.json {key} {got!r}, expected {want!r}"
                     + (f" ({len(toks.get(key) or [])} vs {len(ref[key])} tokens)" if key == "tokens" else ""))
            ok = False
    return ok


def checkModelJson(where, out, ref):
    try:
        with open(os.path.join(out, "model.json"), encoding="utf-8") as f:
            mj = json.load(f)
    except Exception as e:  # noqa: BLE001
        FAIL.add(where, f"model.json: {e}")
        return False
    if not isinstance(mj, dict):
        FAIL.add(where, "model.json is not a JSON object")
        return False
    top = mj.get("top_labels")
    if ref["logits"] is None:
        if top:
            FAIL.add(where, f"model.json has top_labels {top!r} but the checkpoint has no classifier")
            return False
        return True
    probs = ref["probs"]
    k = min(5, len(probs))
    if not isinstance(top, list) or len(top) != k:
        FAIL.add(where, f"model.json top_labels {top!r}: expected a list of {k}")
        return False
    kth = np.sort(probs)[::-1][k - 1]
    ok, prev = True, 2.0
    for rank, e in enumerate(top):
        try:
            i, label, p = int(e["id"]), e["label"], float(e["p"])
        except Exception:  # noqa: BLE001
            FAIL.add(where, f"top_labels[{rank}] = {e!r} is not {{id, label, p}}")
            return False
        if not 0 <= i < len(probs):
            FAIL.add(where, f"top_labels[{rank}] id {i} out of range")
            ok = False
            continue
        if label != ref["labels"][i]:
            FAIL.add(where, f"top_labels[{rank}] label {label!r}, expected {ref['labels'][i]!r}")
            ok = False
        if abs(p - probs[i]) > PROB_ATOL:
            FAIL.add(where, f"top_labels[{rank}] (id {i}) p {p:.6g}, expected {probs[i]:.6g}")
            ok = False
        if probs[i] < kth - PROB_ATOL or p > prev + 1e-12:
            FAIL.add(where, f"top_labels order {[e.get('id') for e in top]}, expected "
                     f"{list(np.argsort(-probs)[:k])}")
            ok = False
        prev = p
    if len({int(e["id"]) for e in top}) != k:
        FAIL.add(where, "top_labels repeats an id")
        ok = False
    return ok


def compareLayer(where, layerDir, ref):
    ok = True
    for stage in STAGES:
        got = load(f"{where}/{stage}", os.path.join(layerDir, stage + ".npy"))
        if got is None:
            ok = False
        elif stage == "weights":
            ok &= compare(f"{where}/weights", got, ref[stage], atol=WEIGHTS_ATOL)
        else:
            ok &= compare(f"{where}/{stage}", got, ref[stage], rel=REL_TOL)
    return ok


def compareRun(where, out, ref, pixels, layers="all"):
    ok = checkTokens(where, out, ref)
    ok &= checkModelJson(where, out, ref)
    got = load(f"{where}/pixels", os.path.join(out, "pixels.npy"))
    want = np.asarray(pixels, np.float32).reshape(ref["pixels"].shape)
    if got is None:
        ok = False
    elif got.dtype != np.float32 or got.shape != want.shape or not np.array_equal(got, want):
        FAIL.add(f"{where}/pixels", f"pixels.npy {got.dtype} {list(got.shape)} is not the input "
                 f"float32 {list(want.shape)}" + ("" if got.shape != want.shape else
                                                 f" (max diff {np.abs(got - want).max():.3g})"))
        ok = False
    got = load(f"{where}/hidden", os.path.join(out, "hidden.npy"))
    ok &= got is not None and compare(f"{where}/hidden", got, ref["hidden"], rel=REL_TOL)
    logitsPath = os.path.join(out, "logits.npy")
    if ref["logits"] is None:
        if os.path.exists(logitsPath):
            FAIL.add(f"{where}/logits", "logits.npy written for a checkpoint without a classifier")
            ok = False
    else:
        got = load(f"{where}/logits", logitsPath)
        ok &= got is not None and compare(f"{where}/logits", got, ref["logits"], rel=REL_TOL)
    if layers == "all":
        got = load(f"{where}/rollout", os.path.join(out, "rollout.npy"))
        ok &= got is not None and compare(f"{where}/rollout", got, ref["rollout"], atol=ROLLOUT_ATOL)
        dirs = sorted(d for d in os.listdir(out) if d.startswith("layer"))
        want = sorted(f"layer{l}" for l in range(len(ref["layers"])))
        if dirs != want:
            FAIL.add(where, f"layer folders {dirs}, expected {want}")
            ok = False
        for l in range(len(ref["layers"])):
            if os.path.isdir(os.path.join(out, f"layer{l}")):
                ok &= compareLayer(f"{where}/layer{l}", os.path.join(out, f"layer{l}"), ref["layers"][l])
    return ok


def makeCase(tmp, seed, name, modelType, opts):
    model = os.path.join(tmp, name)
    opts = dict(opts)
    cfg, _ = make_vit_checkpoint.makeVitCheckpoint(model, modelType=modelType, seed=1000 + seed, **opts)
    return model, cfg


def testCases(binary, tmp, only):
    for seed, (name, modelType, opts, size, batch) in enumerate(CASES):
        if only and only not in name:
            continue
        t0 = time.time()
        model, cfg = makeCase(tmp, seed, name, modelType, opts)
        pixels = inputFor(2000 + seed, cfg, size, batch)
        ref = VitReference(model).forward(pixels)
        checkReference(name, model, pixels, ref)
        if name in RESIZED:
            other = VitReference(model, antialias=not VitReference(model).antialias).forward(pixels)
            if relErr(other["hidden"][0], ref["hidden"][0]) < 100 * REL_TOL:
                FAIL.add(f"{name} reference", "antialias on/off changes the embeddings by less than "
                         "100x the tolerance: the case would not tell them apart")
        if binary is None:
            print(f"ok   {name}: reference checked ({time.time() - t0:.2f} s)", flush=True)
            continue
        px = os.path.join(tmp, name + "_pixels.npy")
        np.save(px, pixels)
        out = os.path.join(tmp, name + "_out")
        rc, _, err = compute(binary, model, px, out, "--layer", "all")
        if rc != 0:
            FAIL.add(name, f"compute exited {rc}: {err.strip()}")
            continue
        WORST[0] = 0.0
        ok = compareRun(name, out, ref, pixels)
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(ref['tokens'])} tokens, grid {ref['grid']}, "
              f"worst error {WORST[0]:.2f} of the tolerance ({time.time() - t0:.2f} s)", flush=True)


def testLayerOption(binary, tmp):
    """--layer 1 writes only layer1/ (numbered from 0, as for the text models)."""
    name, modelType, opts, size, batch = next(c for c in CASES if c[0] == "dinov2reg_cls_f32_r2_up_40x48_l3")
    model, cfg = makeCase(tmp, 50, "layer_option", modelType, opts)
    pixels = inputFor(51, cfg, size, batch)
    px = os.path.join(tmp, "layer_option_pixels.npy")
    np.save(px, pixels)
    out = os.path.join(tmp, "layer_option_out")
    rc, _, err = compute(binary, model, px, out, "--layer", "1")
    if rc != 0:
        FAIL.add("--layer 1", f"compute exited {rc}: {err.strip()}")
        return
    dirs = sorted(d for d in os.listdir(out) if d.startswith("layer"))
    if dirs != ["layer1"]:
        FAIL.add("--layer 1", f"wrote {dirs}, expected only ['layer1']")
        return
    ref = VitReference(model).forward(pixels)
    ok = compareLayer("--layer 1/layer1", os.path.join(out, "layer1"), ref["layers"][1])
    ok &= compareRun("--layer 1", out, ref, pixels, layers="none")
    print(f"{'ok  ' if ok else 'FAIL'} --layer 1", flush=True)


# ---- bad folders and inputs: exit 1 (or 2 for usage), exactly one line on stderr -------------


def testBadFolders(binary, tmp):
    bad = 0

    def expectRefusal(what, model, pixels, mustName=None, extra=()):
        nonlocal bad
        px = os.path.join(tmp, "bad_pixels.npy")
        np.save(px, pixels)
        rc, _, err = compute(binary, model, px, os.path.join(tmp, "bad_out"), *extra)
        lines = err.splitlines()
        if rc not in (1, 2) or len(lines) != 1:
            FAIL.add(what, f"exit {rc}, stderr {err!r}; expected exit 1 (or 2) and exactly one line")
            bad += 1
        elif mustName and mustName not in lines[0]:
            FAIL.add(what, f"message {lines[0]!r} does not name {mustName!r}")
            bad += 1

    def folder(name, modelType, opts, edit=None, dropConfig=(), configEdit=None):
        d = os.path.join(tmp, "bad_" + name)
        shutil.rmtree(d, ignore_errors=True)
        cfg, _ = make_vit_checkpoint.makeVitCheckpoint(d, modelType=modelType, seed=9, edit=edit,
                                                       dropConfig=dropConfig, **opts)
        if configEdit:
            configEdit(cfg)
            with open(os.path.join(d, "config.json"), "w", encoding="utf-8") as f:
                json.dump(cfg, f, indent=2, ensure_ascii=False)
        return d, cfg

    def replace(target, shape):
        def edit(tensors):
            return [(n, np.zeros(shape, np.float32) if n == target else a) for n, a in tensors]
        return edit

    def drop(target):
        return lambda tensors: [(n, a) for n, a in tensors if n != target]

    vitOpts = dict(head="classifier", numLabels=3, image_size=16, patch_size=4)
    dinoOpts = dict(head="classifier", numLabels=3, image_size=32, patch_size=8)
    px16 = make_vit_checkpoint.randomPixels(1, 3, 16, 16)
    px32 = make_vit_checkpoint.randomPixels(2, 3, 32, 32)
    folders = [
        ("unsupported model_type", "vit", vitOpts, dict(configEdit=lambda c: c.update(model_type="beit")),
         px16, "beit"),
        ("hidden_act relu6", "vit", vitOpts, dict(configEdit=lambda c: c.update(hidden_act="relu6")), px16,
         "relu6"),
        ("key of the wrong shape", "vit", vitOpts,
         dict(edit=replace("vit.encoder.layer.1.attention.attention.key.weight", (32, 16))), px16,
         "encoder.layer.1.attention.attention.key.weight"),
        ("deit without its distillation token", "deit", dict(vitOpts, head="teacher"),
         dict(edit=drop("deit.embeddings.distillation_token")), px16, "embeddings.distillation_token"),
        ("dinov2 position embeddings for another grid", "dinov2", dinoOpts,
         dict(edit=replace("dinov2.embeddings.position_embeddings", (1, 10, 32))), px32,
         "embeddings.position_embeddings"),
        # Dinov2ForImageClassification's classifier reads [CLS ; patch mean]: [labels, 2 * hidden].
        ("dinov2 classifier of [labels, hidden]", "dinov2", dinoOpts,
         dict(edit=replace("classifier.weight", (3, 32))), px32, "classifier.weight"),
        # weights_in sized without the 2/3 rounding of Dinov2SwiGLUFFN (2 * 128 instead of 2 * 88).
        ("dinov2 swiglu without the 2/3 width", "dinov2", dict(dinoOpts, use_swiglu_ffn=True),
         dict(edit=lambda ts: [(n, np.zeros((256, 32) if "weights_in.weight" in n else (256,) if
                                            "weights_in.bias" in n else (32, 128) if "weights_out.weight" in n
                                            else a.shape, np.float32) if "weights_" in n else a)
                               for n, a in ts]), px32, "mlp.weights_"),
        ("dinov2 without layer_norm_eps", "dinov2", dinoOpts, dict(dropConfig=("layer_norm_eps",)), px32,
         "layer_norm_eps"),
        ("registers: 3 in the config, 2 stored", "dinov2_with_registers", dict(dinoOpts, num_register_tokens=2),
         dict(configEdit=lambda c: c.update(num_register_tokens=3)), px32, "embeddings.register_tokens"),
    ]
    for what, modelType, opts, how, px, mustName in folders:
        d, _ = folder(what.replace(" ", "_").replace(",", "").replace(":", ""), modelType, opts, **how)
        try:  # the reference refuses these too (else the case would be testing nothing)
            VitReference(d).forward(px)
            FAIL.add(f"bad folder {what}", "the reference accepts it")
        except Refused:
            pass
        expectRefusal(f"bad folder {what}", d, px, mustName)

    # encoder_stride is a masked-image-modelling decoder setting: harmless, so accepted.
    d, _ = folder("encoder_stride", "vit", dict(vitOpts, encoder_stride=7))
    np.save(os.path.join(tmp, "ok_pixels.npy"), px16)
    rc, _, err = compute(binary, d, os.path.join(tmp, "ok_pixels.npy"), os.path.join(tmp, "ok_out"))
    if rc != 0:
        FAIL.add("encoder_stride 7", f"refused ({rc}): {err.strip()}; it changes nothing attnviz computes")
        bad += 1

    vitDir, _ = folder("input_base_vit", "vit", dict(vitOpts, image_size=32, patch_size=8))
    deitDir, _ = folder("input_base_deit", "deit", dict(vitOpts, head="teacher"))
    dinoDir, _ = folder("input_base_dino", "dinov2", dinoOpts)
    # Control runs: each base folder with a good input must work, or the refusals below prove
    # nothing (an unknown option or model type is refused with one line too).
    for what, d, px in (("vit", vitDir, make_vit_checkpoint.randomPixels(3, 3, 32, 32)), ("deit", deitDir, px16),
                        ("dinov2", dinoDir, px32)):
        np.save(os.path.join(tmp, "ok_pixels.npy"), px)
        rc, _, err = compute(binary, d, os.path.join(tmp, "ok_pixels.npy"), os.path.join(tmp, "ok_out"))
        if rc != 0:
            FAIL.add(f"bad inputs: control {what}", f"the good input is refused too ({rc}): {err.strip()}")
            bad += 1
    inputs = [
        # ViTPatchEmbeddings raises for any size but image_size, even with the same patch grid.
        ("vit 32x33 pixels for image_size 32", vitDir, make_vit_checkpoint.randomPixels(3, 3, 32, 33), ()),
        ("deit 20x24 pixels for image_size 16", deitDir, make_vit_checkpoint.randomPixels(3, 3, 20, 24), ()),
        ("1 channel for a 3-channel model", dinoDir, make_vit_checkpoint.randomPixels(3, 1, 32, 32), ()),
        ("2-D pixels", dinoDir, make_vit_checkpoint.randomPixels(3, 1, 32, 32)[0], ()),
        ("a batch of 2", dinoDir, np.stack([px32, px32]), ()),
        ("smaller than one patch", dinoDir, make_vit_checkpoint.randomPixels(3, 3, 7, 32), ()),
        ("--layer 2 of 2 layers", dinoDir, px32, ("--layer", "2")),
    ]
    for what, d, px, extra in inputs:
        expectRefusal(f"bad input {what}", d, px, None, extra)
    print(f"{'ok  ' if bad == 0 else 'FAIL'} {len(folders)} bad folders, encoder_stride accepted, "
          f"{len(inputs)} bad inputs", flush=True)


def selfChecks(tmp):
    t0 = time.time()
    before = len(FAIL.messages)
    interp = checkInterpolation()
    reduce = checkDinoReducesToVit(tmp)
    ok = len(FAIL.messages) == before
    print(f"{'ok  ' if ok else 'FAIL'} reference self-checks: NumPy bicubic vs torch {interp:.1e}, "
          f"lambda=1 DINOv2 vs ViT {reduce:.1e} ({time.time() - t0:.2f} s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz", nargs="?")
    ap.add_argument("--keep", action="store_true", help="keep the scratch folder")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--self-check-only", action="store_true", help="check the reference; no attnviz")
    a = ap.parse_args()
    if not a.attnviz and not a.self_check_only:
        ap.error("give the attnviz binary, or --self-check-only")
    binary = None if a.self_check_only else a.attnviz
    torch.set_num_threads(1)
    tmp = tempfile.mkdtemp(prefix="attnviz_vit_test_")
    t0 = time.time()
    try:
        if not a.only:
            selfChecks(tmp)
        testCases(binary, tmp, a.only)
        if binary and not a.only:
            testLayerOption(binary, tmp)
            testBadFolders(binary, tmp)
    finally:
        if a.keep:
            print("scratch folder kept:", tmp)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"{len(FAIL.messages)} failures ({time.time() - t0:.1f} s)")
    return 1 if FAIL.messages else 0


if __name__ == "__main__":
    sys.exit(main())
