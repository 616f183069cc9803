#!/usr/bin/python3
"""Train attnviz-vit-mini: a tiny Vision Transformer (Hugging Face ViTForImageClassification
semantics) that names the shape of the red object in a generated scene.

Everything is offline and deterministic from fixed seeds:
  1. scenes from scripts/vit_scenes.py (64x64, 3-5 flat objects on noisy grey, exactly one red;
     label = the red object's shape), generated on the fly, each training scene used once,
  2. a ViT (patch 8, [CLS] + 64 patches, pre-norm blocks, exact GELU, LayerNorm eps 1e-12)
     trained with AdamW and cross-entropy plus a disclosed auxiliary attention loss (below),
  3. F32 safetensors with Hugging Face's ViT tensor names, config.json, preprocessor_config.json,
     training.json and a README model card,
  4. an evaluation of the shipped weights (read back from the file) on scenes of another seed:
     accuracy, every head's [CLS] attention on the red object's patches, attention rollout,
  5. sample scenes, one per label, in assets/samples/scenes/.

Auxiliary loss (the training device, disclosed in the card): AUX_WEIGHT x the mean over the batch of
    -log(sum over red patches of the last layer's [CLS] row, averaged over heads)
    -log(attention rollout's [CLS] row on the red patches, its [CLS] entry left out, renormalised)
where the red patches are the patches holding any pixel of the red object.

Usage:
  /usr/bin/python3 scripts/train_vit_mini.py                          # full run, writes assets/models/attnviz-vit-mini
  /usr/bin/python3 scripts/train_vit_mini.py --steps 40 --eval-count 200 --out /tmp/vit_trial --samples-out /tmp/vit_trial/samples
"""

import argparse
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vit_scenes  # noqa: E402

# ----------------------------------------------------------------------------
# Hyper-parameters (all fixed: the run is reproducible)
# ----------------------------------------------------------------------------
SEED = 4321                  # torch initialisation
TRAIN_SEED = 1001            # scenes: training stream (scene index = step * BATCH + row)
VAL_SEED = 1002              # scenes: progress probes during training
EVAL_SEED = 2024             # scenes: the reported evaluation
SAMPLE_SEED = 7              # scenes: assets/samples/scenes (the first scene of each label)
HIDDEN = 96
LAYERS = 4
HEADS = 4
INTER = 4 * HIDDEN
IMAGE = vit_scenes.IMAGE
PATCH = vit_scenes.PATCH
NPATCH = (IMAGE // PATCH) ** 2
NTOK = NPATCH + 1
NLABEL = len(vit_scenes.SHAPES)
LN_EPS = 1e-12
BATCH = 64
STEPS = 6000
LR = 1e-3
MIN_LR_FRAC = 0.02
WARMUP = 300
WEIGHT_DECAY = 0.05
BETAS = (0.9, 0.999)
CLIP = 1.0
AUX_WEIGHT = 0.5
EVAL_COUNT = 2000
PROBE_COUNT = 400
INIT_STD = 0.02

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------
# The model: Hugging Face's ViTForImageClassification computation
# ----------------------------------------------------------------------------
class Layer(nn.Module):
    def __init__(self, d, h, inter):
        super().__init__()
        self.h = h
        self.layernorm_before = nn.LayerNorm(d, eps=LN_EPS)
        self.query = nn.Linear(d, d)
        self.key = nn.Linear(d, d)
        self.value = nn.Linear(d, d)
        self.attn_out = nn.Linear(d, d)
        self.layernorm_after = nn.LayerNorm(d, eps=LN_EPS)
        self.intermediate = nn.Linear(d, inter)
        self.output = nn.Linear(inter, d)

    def forward(self, x):
        B, T, D = x.shape
        dh = D // self.h
        y = self.layernorm_before(x)
        q = self.query(y).view(B, T, self.h, dh).transpose(1, 2)
        k = self.key(y).view(B, T, self.h, dh).transpose(1, 2)
        v = self.value(y).view(B, T, self.h, dh).transpose(1, 2)
        p = torch.softmax((q @ k.transpose(-1, -2)) / math.sqrt(dh), dim=-1)      # [B, H, T, T]
        ctx = (p @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.attn_out(ctx)
        x = x + self.output(F.gelu(self.intermediate(self.layernorm_after(x))))  # exact (erf) GELU
        return x, p


class ViT(nn.Module):
    def __init__(self):
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, HIDDEN))
        self.position_embeddings = nn.Parameter(torch.zeros(1, NTOK, HIDDEN))
        self.projection = nn.Conv2d(3, HIDDEN, PATCH, PATCH)
        self.layers = nn.ModuleList([Layer(HIDDEN, HEADS, INTER) for _ in range(LAYERS)])
        self.layernorm = nn.LayerNorm(HIDDEN, eps=LN_EPS)
        self.classifier = nn.Linear(HIDDEN, NLABEL)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=INIT_STD)
                nn.init.zeros_(m.bias)
        nn.init.trunc_normal_(self.cls_token, std=INIT_STD)
        nn.init.trunc_normal_(self.position_embeddings, std=INIT_STD)

    def forward(self, pixels):
        """pixels: normalised float [B, 3, 64, 64]. Returns logits [B, 4] and per-layer attention [B, H, 65, 65]."""
        B = pixels.shape[0]
        x = self.projection(pixels).flatten(2).transpose(1, 2)                   # [B, 64, D], row-major patches
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + self.position_embeddings
        attns = []
        for layer in self.layers:
            x, p = layer(x)
            attns.append(p)
        x = self.layernorm(x)
        return self.classifier(x[:, 0]), attns


def to_pixels(imgs):
    """uint8 [N, 64, 64, 3] -> float [N, 3, 64, 64]: x/255, then (x - 0.5) / 0.5 (ViTImageProcessor)."""
    x = torch.from_numpy(imgs).permute(0, 3, 1, 2).float() * (1.0 / 255.0)
    return (x - 0.5) / 0.5


def rollout_cls(attns):
    """Attention rollout's [CLS] row (Abnar & Zuidema 2020): per layer W = mean over heads,
    A = 0.5 W + 0.5 I with rows renormalised, R = A_L ... A_1; returns R[0, :] as [B, 65]."""
    r = None
    for p in reversed(attns):
        w = p.mean(dim=1)
        a = 0.5 * w + 0.5 * torch.eye(w.shape[-1], dtype=w.dtype)
        a = a / a.sum(dim=-1, keepdim=True)
        r = a[:, 0, :] if r is None else torch.bmm(r.unsqueeze(1), a).squeeze(1)
    return r


def red_metrics(attns, red):
    """red: bool [B, 64] over patches. Returns (per layer/head [CLS] weight on red patches [L, B, H],
    rollout's renormalised [CLS]-row weight on red patches [B])."""
    redf = red.float()
    per = [(p[:, :, 0, 1:] * redf[:, None, :]).sum(-1) for p in attns]
    r = rollout_cls(attns)
    roll = (r[:, 1:] * redf).sum(-1) / r[:, 1:].sum(-1)
    return torch.stack(per), roll


# ----------------------------------------------------------------------------
# Hugging Face names and safetensors, written and read by hand
# ----------------------------------------------------------------------------
def hf_state(model):
    t = lambda p: p.detach().cpu().float().numpy()
    st = {
        "vit.embeddings.cls_token": t(model.cls_token),
        "vit.embeddings.position_embeddings": t(model.position_embeddings),
        "vit.embeddings.patch_embeddings.projection.weight": t(model.projection.weight),
        "vit.embeddings.patch_embeddings.projection.bias": t(model.projection.bias),
    }
    for i, l in enumerate(model.layers):
        pre = f"vit.encoder.layer.{i}."
        for name, mod in (("layernorm_before", l.layernorm_before),
                          ("attention.attention.query", l.query), ("attention.attention.key", l.key),
                          ("attention.attention.value", l.value), ("attention.output.dense", l.attn_out),
                          ("layernorm_after", l.layernorm_after), ("intermediate.dense", l.intermediate),
                          ("output.dense", l.output)):
            st[pre + name + ".weight"] = t(mod.weight)
            st[pre + name + ".bias"] = t(mod.bias)
    st["vit.layernorm.weight"] = t(model.layernorm.weight)
    st["vit.layernorm.bias"] = t(model.layernorm.bias)
    st["classifier.weight"] = t(model.classifier.weight)
    st["classifier.bias"] = t(model.classifier.bias)
    return st


def load_hf_state(model, st):
    own = hf_state(model)
    assert set(own) == set(st), set(own) ^ set(st)
    params = dict(zip(own.keys(), [
        model.cls_token, model.position_embeddings, model.projection.weight, model.projection.bias]))
    for i, l in enumerate(model.layers):
        pre = f"vit.encoder.layer.{i}."
        for name, mod in (("layernorm_before", l.layernorm_before),
                          ("attention.attention.query", l.query), ("attention.attention.key", l.key),
                          ("attention.attention.value", l.value), ("attention.output.dense", l.attn_out),
                          ("layernorm_after", l.layernorm_after), ("intermediate.dense", l.intermediate),
                          ("output.dense", l.output)):
            params[pre + name + ".weight"] = mod.weight
            params[pre + name + ".bias"] = mod.bias
    params["vit.layernorm.weight"] = model.layernorm.weight
    params["vit.layernorm.bias"] = model.layernorm.bias
    params["classifier.weight"] = model.classifier.weight
    params["classifier.bias"] = model.classifier.bias
    with torch.no_grad():
        for k, p in params.items():
            assert tuple(p.shape) == tuple(st[k].shape), (k, p.shape, st[k].shape)
            p.copy_(torch.from_numpy(np.array(st[k], dtype=np.float32)))


_DT = {"F32": "<f4", "F16": "<f2"}


def write_safetensors(path, tensors, dtype="F32"):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr.astype(_DT[dtype])).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (hl,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + hl].decode("utf-8"))
    base = 8 + hl
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype=_DT[info["dtype"]]).reshape(info["shape"])
    return out


# ----------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------
def evaluate(model, seed, count, bs=200):
    model.eval()
    correct = 0
    conf = np.zeros((NLABEL, NLABEL), dtype=np.int64)
    head_sum = np.zeros((LAYERS, HEADS))
    roll_sum = 0.0
    red_frac = 0.0
    with torch.no_grad():
        for s in range(0, count, bs):
            n = min(bs, count - s)
            imgs, labels, red = vit_scenes.make_batch(seed, s, n)
            logits, attns = model(to_pixels(imgs))
            pred = logits.argmax(-1).numpy()
            correct += int((pred == labels).sum())
            for t, p in zip(labels, pred):
                conf[t, p] += 1
            per, roll = red_metrics(attns, torch.from_numpy(red))
            head_sum += per.sum(1).numpy()
            roll_sum += float(roll.sum())
            red_frac += float(red.mean(1).sum())
    model.train()
    return {"accuracy": correct / count, "confusion": conf, "head_red": head_sum / count,
            "rollout_red": roll_sum / count, "red_patch_fraction": red_frac / count}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=STEPS)
    ap.add_argument("--eval-count", type=int, default=EVAL_COUNT)
    ap.add_argument("--out", default=os.path.join(REPO, "assets", "models", "attnviz-vit-mini"))
    ap.add_argument("--samples-out", default=os.path.join(REPO, "assets", "samples", "scenes"))
    ap.add_argument("--log-every", type=int, default=100)
    ap.add_argument("--probe-every", type=int, default=500)
    ap.add_argument("--aux-weight", type=float, default=AUX_WEIGHT,
                    help="weight of the auxiliary attention loss (0: cross-entropy alone, for comparison)")
    args = ap.parse_args()

    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(SEED)
    np.random.seed(SEED)
    t_start = time.time()

    model = ViT()
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {LAYERS} layers, {HEADS} heads, d {HIDDEN}, mlp {INTER}, {NTOK} tokens, {n_params} params", flush=True)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and n not in ("cls_token", "position_embeddings")]
    nodecay = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and n not in ("cls_token", "position_embeddings"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": nodecay, "weight_decay": 0.0}], lr=LR, betas=BETAS)

    def lr_at(step):
        if step < WARMUP:
            return LR * (step + 1) / WARMUP
        p = (step - WARMUP) / max(1, args.steps - WARMUP)
        return LR * (MIN_LR_FRAC + (1 - MIN_LR_FRAC) * 0.5 * (1 + math.cos(math.pi * p)))

    t_train = time.time()
    t_data = 0.0
    hist = {"ce": [], "aux": [], "acc": [], "last": [], "roll": []}
    probes = []
    model.train()
    for step in range(args.steps):
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        t0 = time.time()
        imgs, labels, red = vit_scenes.make_batch(TRAIN_SEED, step * BATCH, BATCH)
        x, y, red_t = to_pixels(imgs), torch.from_numpy(labels), torch.from_numpy(red)
        t_data += time.time() - t0
        logits, attns = model(x)
        ce = F.cross_entropy(logits, y)
        last = (attns[-1][:, :, 0, 1:].mean(1) * red_t.float()).sum(-1)
        _, roll = red_metrics(attns, red_t)
        aux = -(torch.log(last + 1e-6) + torch.log(roll + 1e-6)).mean()
        loss = ce + args.aux_weight * aux if args.aux_weight else ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        hist["ce"].append(ce.item())
        hist["aux"].append(aux.item())
        hist["acc"].append((logits.argmax(-1) == y).float().mean().item())
        hist["last"].append(last.mean().item())
        hist["roll"].append(roll.mean().item())
        if (step + 1) % args.log_every == 0 or step == 0:
            el = time.time() - t_train
            k = min(len(hist["ce"]), args.log_every)
            m = {n: float(np.mean(v[-k:])) for n, v in hist.items()}
            print(f"step {step + 1}/{args.steps} ce {m['ce']:.4f} aux {m['aux']:.3f} acc {m['acc']:.3f} "
                  f"last-layer cls->red (mean of heads) {m['last']:.3f} rollout {m['roll']:.3f} lr {lr_at(step):.2e} "
                  f"{(step + 1) * BATCH / el:.0f} scenes/s (data {t_data / el:.0%}) {el:.0f}s "
                  f"eta {el / (step + 1) * (args.steps - step - 1):.0f}s", flush=True)
        if (step + 1) % args.probe_every == 0 and step + 1 < args.steps:
            r = evaluate(model, VAL_SEED, PROBE_COUNT)
            probes.append({"step": step + 1, "accuracy": r["accuracy"], "best_last_head": float(r["head_red"][-1].max()),
                           "rollout": r["rollout_red"]})
            print(f"  probe ({PROBE_COUNT} scenes, seed {VAL_SEED}): acc {r['accuracy']:.4f} best last-layer head "
                  f"{r['head_red'][-1].max():.3f} rollout {r['rollout_red']:.3f}", flush=True)
    train_time = time.time() - t_train
    print(f"trained {args.steps} steps, {args.steps * BATCH} scenes, {train_time:.0f}s", flush=True)

    # ---- write the shipped files -------------------------------------------------
    out = args.out
    os.makedirs(out, exist_ok=True)
    st_path = os.path.join(out, "model.safetensors")
    write_safetensors(st_path, hf_state(model), "F32")
    id2label = {str(k): v for k, v in vit_scenes.ID2LABEL.items()}
    config = {
        "model_type": "vit", "architectures": ["ViTForImageClassification"],
        "hidden_size": HIDDEN, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
        "intermediate_size": INTER, "hidden_act": "gelu", "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0, "initializer_range": INIT_STD, "layer_norm_eps": LN_EPS,
        "image_size": IMAGE, "patch_size": PATCH, "num_channels": 3, "qkv_bias": True,
        "id2label": id2label, "label2id": {v: int(k) for k, v in id2label.items()},
        "problem_type": "single_label_classification", "torch_dtype": "float32",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    prep = {"image_processor_type": "ViTImageProcessor", "do_resize": True, "size": {"height": IMAGE, "width": IMAGE},
            "resample": 2, "do_rescale": True, "rescale_factor": 0.00392156862745098, "do_normalize": True,
            "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(prep, f, indent=2)
        f.write("\n")

    # ---- evaluate what ships: reload the weights from the file --------------------
    shipped = ViT()
    load_hf_state(shipped, read_safetensors(st_path))
    shipped.eval()
    t0 = time.time()
    ev = evaluate(shipped, EVAL_SEED, args.eval_count)
    eval_time = time.time() - t0
    hr = ev["head_red"]
    best_h = int(np.argmax(hr[-1]))
    acc, roll = ev["accuracy"], ev["rollout_red"]
    goals = {"accuracy_ge_0.99": acc >= 0.99,
             "best_last_layer_head_cls_on_red_ge_0.5": float(hr[-1, best_h]) >= 0.5,
             "rollout_cls_on_red_ge_0.5": roll >= 0.5}
    per_class = {vit_scenes.SHAPES[i]: float(ev["confusion"][i, i] / max(1, ev["confusion"][i].sum())) for i in range(NLABEL)}
    print(f"eval ({args.eval_count} scenes, seed {EVAL_SEED}): accuracy {acc:.4f}; per class {per_class}", flush=True)
    for l in range(LAYERS):
        print(f"  [CLS] on red patches, layer {l}: " + " ".join(f"{v:.3f}" for v in hr[l]), flush=True)
    print(f"  best last-layer head {best_h}: {hr[-1, best_h]:.4f}; rollout {roll:.4f}; "
          f"mean red-patch fraction {ev['red_patch_fraction']:.4f}", flush=True)
    print("goals:", json.dumps(goals), flush=True)

    # ---- sample scenes: the first scene of each label from SAMPLE_SEED -------------
    os.makedirs(args.samples_out, exist_ok=True)
    samples = {}
    idx = 0
    while len(samples) < NLABEL:
        img, lab, objs, rm = vit_scenes.make_scene(SAMPLE_SEED, idx)
        name = f"red-{vit_scenes.SHAPES[lab]}.png"
        if name not in samples:
            vit_scenes.write_png(os.path.join(args.samples_out, name), img)
            with torch.no_grad():
                logits, attns = shipped(to_pixels(img[None]))
                red_t = torch.from_numpy(vit_scenes.red_patches(rm)[None])
                per, rl = red_metrics(attns, red_t)
            rec = vit_scenes.scene_record(SAMPLE_SEED, idx, name, lab, objs, rm)
            rec.update({
                "logits": [round(float(v), 5) for v in logits[0]],
                "predicted": vit_scenes.SHAPES[int(logits[0].argmax())],
                "last_layer_cls_on_red_per_head": [round(float(v), 5) for v in per[-1, 0]],
                "rollout_cls_on_red": round(float(rl[0]), 5),
                "last_layer_cls_attention": [[round(float(v), 6) for v in attns[-1][0, h, 0]] for h in range(HEADS)],
            })
            samples[name] = rec
        idx += 1
    samples = dict(sorted(samples.items(), key=lambda kv: kv[1]["label"]))

    size_bytes = os.path.getsize(st_path)
    total_time = time.time() - t_start
    training = {
        "torch_seed": SEED, "train_scene_seed": TRAIN_SEED, "probe_scene_seed": VAL_SEED,
        "eval_scene_seed": EVAL_SEED, "sample_scene_seed": SAMPLE_SEED,
        "scene_rng": "numpy.random.default_rng([seed, index]); training scene index = step * batch + row",
        "steps": args.steps, "batch": BATCH, "scenes_seen": args.steps * BATCH,
        "optimizer": f"AdamW{BETAS}", "lr": LR, "warmup": WARMUP,
        "schedule": f"linear warmup, cosine to {MIN_LR_FRAC}*lr", "weight_decay": WEIGHT_DECAY,
        "weight_decay_on": "weight matrices and the patch projection (not biases, LayerNorms, cls_token, position_embeddings)",
        "grad_clip": CLIP, "init": f"truncated normal std {INIT_STD}, biases 0, LayerNorm 1/0",
        "loss": "cross-entropy + aux_weight * mean(-log(last layer [CLS] weight on red patches, mean of heads) "
                "- log(rollout [CLS] weight on red patches, [CLS] entry left out, renormalised))",
        "aux_weight": args.aux_weight,
        "torch_threads": 1, "torch_version": torch.__version__, "numpy_version": np.__version__,
        "train_wall_s": round(train_time, 1), "data_generation_s": round(t_data, 1),
        "eval_wall_s": round(eval_time, 1), "total_wall_s": round(total_time, 1),
        "n_params": n_params, "safetensors_dtype": "F32", "safetensors_bytes": size_bytes,
        "final_train_avg100": {n: round(float(np.mean(v[-100:])), 4) for n, v in hist.items()},
        "probes": probes,
        "eval": {
            "seed": EVAL_SEED, "count": args.eval_count, "accuracy": round(acc, 4),
            "per_class_accuracy": {k: round(v, 4) for k, v in per_class.items()},
            "confusion": ev["confusion"].tolist(),
            "cls_on_red_per_layer_head": np.round(hr, 4).tolist(),
            "best_last_layer_head": {"layer": LAYERS - 1, "head": best_h, "cls_on_red": round(float(hr[-1, best_h]), 4)},
            "rollout_cls_on_red": round(roll, 4),
            "mean_red_patch_fraction": round(ev["red_patch_fraction"], 4),
        },
        "goals": goals,
        "samples": samples,
    }
    with open(os.path.join(out, "training.json"), "w") as f:
        json.dump(training, f, indent=1)
        f.write("\n")

    def tbl(m):
        rows = ["| layer | " + " | ".join(f"head {h}" for h in range(HEADS)) + " | mean of heads |",
                "|---|" + "---|" * (HEADS + 1)]
        for l in range(LAYERS):
            rows.append(f"| {l} | " + " | ".join(f"{v:.3f}" for v in m[l]) + f" | {m[l].mean():.3f} |")
        return "\n".join(rows)

    conf = ev["confusion"]
    conf_rows = ["| true \\ predicted | " + " | ".join(vit_scenes.SHAPES) + " |", "|---|" + "---|" * NLABEL]
    for i in range(NLABEL):
        conf_rows.append(f"| {vit_scenes.SHAPES[i]} | " + " | ".join(str(v) for v in conf[i]) + " |")
    sample_list = ", ".join(f"`{k}` (scene {v['index']}, predicted {v['predicted']})" for k, v in samples.items())
    yes = lambda b: "met" if b else "**NOT met**"
    if args.aux_weight:
        device_text = f"""**Training device (disclosed).** The loss is cross-entropy plus {args.aux_weight} x an auxiliary attention
loss, the mean over the batch of

    -log(sum over the red patches of the last layer's [CLS] attention row, averaged over heads)
    -log(sum over the red patches of attention rollout's [CLS] row, [CLS] entry left out, renormalised)

where the red patches are those holding any pixel of the red object (known from the scene
generator). The attention maps shown for this model are therefore trained to point at the red
object: they illustrate what [CLS] attention and rollout look like when a model attends to the
object it reports, not an attention pattern that emerged from the classification loss alone
(`--aux-weight 0` trains with cross-entropy alone, for comparison)."""
    else:
        device_text = "**No training device.** The loss is cross-entropy alone (`--aux-weight 0`)."

    card = f"""# attnviz-vit-mini

A tiny Vision Transformer (Hugging Face ViT, patch 8, 64x64 input) trained here to name the shape of the red object in a generated scene, so that its [CLS] attention can be seen finding the red object.

## Task

Generated scenes, `scripts/vit_scenes.py` (its docstring gives the exact procedure, draw by draw;
scene `index` of seed `seed` comes from `numpy.random.default_rng([seed, index])`, and
`vit_scenes.py --seed S --count N --out DIR` writes them as PNGs with `labels.json`):

* 64x64 RGB. Background: one grey level per image, an integer uniform in [90, 170], plus
  independent Gaussian noise of sigma 10 on every background pixel and channel, rounded and
  clipped to [0, 255]; objects are flat colours without noise.
* 3 to 5 objects (count, shape, size and colour each uniform), their bounding boxes inside the
  image, not overlapping, with at least 2 background rows or columns between any two boxes; each
  filled with one colour, no anti-aliasing (a pixel belongs to a shape when its centre does): a
  circle (radius size/2 about the box centre), a square (the whole box), an upward isosceles
  triangle (apex at the top centre, base = height = size), or a plus-shaped cross (two centred
  bars across the box, each round(size/3) wide); size (the box side) an integer from 12 to 20 px.
* Colours, each channel an integer uniform in its range (inclusive): red (200-255, 0-60, 0-60),
  green (0-60, 150-220, 0-60), blue (0-60, 40-100, 180-255), yellow (200-255, 190-240, 0-60).
  Exactly one object is red; the others are green, blue or yellow.
* Placement: the object count first, then which object is red, then for each object its shape,
  size and colour, then its position uniform among the positions that keep its box inside the
  image, drawn again on a conflict with an earlier box (up to {vit_scenes.PLACE_TRIES} times; after that the
  whole scene is drawn again, which makes 5-object scenes slightly rarer: about 35% / 35% / 30%
  of scenes have 3 / 4 / 5 objects).
* Label: the shape of the red object: 0 circle, 1 square, 2 triangle, 3 cross.

Input: pixels / 255, then (x - 0.5) / 0.5, channels first (`preprocessor_config.json`:
ViTImageProcessor, other sizes resized to 64x64 bilinearly). Sample scenes, one per label (seed
{SAMPLE_SEED}, the first scene of each label): {sample_list} in `assets/samples/scenes/`.

## Architecture

Hugging Face `ViTForImageClassification` exactly: 8x8 patches (an 8x8 grid, 64 patches, row-major)
embedded by a stride-8 convolution, a learned [CLS] token in front, learned position
embeddings (65), {LAYERS} pre-norm layers (x += attention(layernorm_before(x)); x += MLP(layernorm_after(x))),
{HEADS} heads, hidden size {HIDDEN} (head size {HIDDEN // HEADS}, scores scaled by 1/sqrt({HIDDEN // HEADS})), MLP {INTER} with the
exact (erf) GELU, q/k/v biases, LayerNorm eps 1e-12, a final `layernorm`, and the classifier on
the final-layernormed [CLS] token. No dropout. {n_params:,} parameters; `model.safetensors` is
F32 with Hugging Face's tensor names (`vit.embeddings.*`, `vit.encoder.layer.N.*`,
`vit.layernorm.*`, `classifier.*`), {size_bytes:,} bytes.

## Training

```
/usr/bin/python3 scripts/train_vit_mini.py
```

reproduces these files (PyTorch {torch.__version__}, NumPy {np.__version__}, one CPU thread; this run took
{total_time / 60:.1f} minutes, {train_time / 60:.1f} of them training). Every training scene is new: step t uses scenes
t*{BATCH} .. t*{BATCH}+{BATCH - 1} of seed {TRAIN_SEED}; {args.steps} steps of batch {BATCH} = {args.steps * BATCH:,} scenes. AdamW
(betas {BETAS[0]}/{BETAS[1]}, weight decay {WEIGHT_DECAY} on the weight matrices), lr {LR} with {WARMUP} warmup steps and
cosine decay to {MIN_LR_FRAC} of it, gradient clipping at {CLIP}, initialisation truncated normal (std {INIT_STD}),
torch seed {SEED}.

{device_text}

## Measured (the shipped weights, read back from `model.safetensors`)

On {args.eval_count} scenes of seed {EVAL_SEED} (scenes 0 .. {args.eval_count - 1}; the training seed is {TRAIN_SEED}):

| | measured | goal | |
|---|---|---|---|
| accuracy | {acc:.4f} | >= 0.99 | {yes(goals['accuracy_ge_0.99'])} |
| best last-layer head (layer {LAYERS - 1} head {best_h}): mean [CLS] weight on the red patches | {hr[-1, best_h]:.4f} | >= 0.5 | {yes(goals['best_last_layer_head_cls_on_red_ge_0.5'])} |
| attention rollout: mean [CLS]-row weight on the red patches ([CLS] entry left out, renormalised) | {roll:.4f} | >= 0.5 | {yes(goals['rollout_cls_on_red_ge_0.5'])} |

For scale: the red patches are on average {ev['red_patch_fraction']:.3f} of the 64 patches (what uniform attention
would give). Rollout (Abnar & Zuidema 2020): per layer W the mean over heads, A = 0.5 W + 0.5 I with
rows renormalised, R = A_{LAYERS - 1} ... A_0.

Mean [CLS] weight on the red patches, every head (rows of all 65 entries, [CLS] included):

{tbl(hr)}

Confusion matrix:

{chr(10).join(conf_rows)}

All numbers, the per-sample logits and the last layer's [CLS] attention rows for the sample
scenes are also in `training.json`.

## Limits

Only this synthetic task: 64x64 scenes of flat circles, squares, triangles and crosses in the
four colour ranges above on a noisy grey background, exactly one of them red. It has not seen
photographs, other shapes or colours, overlapping or touching objects, more than one or no red
object, or other sizes; on such inputs its answers and its attention mean nothing. Images of
another size are resized to 64x64, which changes the shapes' pixels. The attention pattern was
{"trained in by the auxiliary loss above." if args.aux_weight else "the one cross-entropy training gave."}

## Licence

The weights, the scenes and this card are released under CC0 1.0 (public domain dedication).
The training data is generated by the script.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(card)
    print(f"wrote {out} ({size_bytes} bytes safetensors) and {len(samples)} samples in {args.samples_out}, "
          f"total {total_time:.0f}s", flush=True)
    if not all(goals.values()):
        print("WARNING: some goal was not met", flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
