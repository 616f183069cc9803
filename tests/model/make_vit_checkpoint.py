#!/usr/bin/python3
"""Writes a random tiny vision-transformer checkpoint folder (model_type vit, deit, dinov2 or
dinov2_with_registers) in Hugging Face layout, with NumPy only (seeded).

The folder holds config.json, model.safetensors (make_checkpoint.writeSafetensors: F32, F16 or
BF16) and preprocessor_config.json (what a real checkpoint carries; attnviz applies no
preprocessing, so it must not matter). Tensor names, shapes and order are those of the Hugging
Face classes' state dicts:

  vit     ViTForImageClassification (head "classifier", names under "vit.") or ViTModel (head
          None, no prefix, with the unused pooler.dense.* ViTModel keeps by default)
  deit    DeiTForImageClassificationWithTeacher (head "teacher": cls_classifier and
          distillation_classifier), DeiTForImageClassification (head "classifier") or DeiTModel
          (head None); names under "deit." when there is a head. Every DeiT has the
          distillation token (DeiTEmbeddings always creates it).
  dinov2 / dinov2_with_registers
          Dinov2(WithRegisters)ForImageClassification (head "classifier" on [CLS ; mean of the
          patch tokens], hence [labels, 2 * hidden]; names under "dinov2." or
          "dinov2_with_registers.") or the bare model (head None, no prefix). mask_token is
          written (random, so that using it shows) and must be ignored; layer_scale{1,2}.lambda1
          are random (config layerscale_value stays 1.0: the tensors are what count).

Used as a module by vit_forward_test.py (makeVitCheckpoint) and as a script:
  make_vit_checkpoint.py OUT_DIR --model-type vit|deit|dinov2|dinov2_with_registers
      [--dtype F32|F16|BF16 --hidden 32 --layers 2 --heads 4 --image-size 32 --patch 8 ...]
      [--pixels FILE.npy --height H --width W]   also write a random input [C, H, W]
"""

import argparse
import json
import os

import numpy as np

import make_checkpoint

MODEL_TYPES = ("vit", "deit", "dinov2", "dinov2_with_registers")

# Config keys as the real hub configs carry them (google/vit-base-patch16-224,
# facebook/deit-base-distilled-patch16-224, facebook/dinov2-small,
# facebook/dinov2-with-registers-small), with tiny sizes.
VIT_DEFAULTS = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                    hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                    initializer_range=0.02, layer_norm_eps=1e-12, image_size=16, patch_size=4,
                    num_channels=3, qkv_bias=True, encoder_stride=4)
DINO_DEFAULTS = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, mlp_ratio=4,
                     hidden_act="gelu", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                     initializer_range=0.02, layer_norm_eps=1e-6, image_size=32, patch_size=8,
                     num_channels=3, qkv_bias=True, layerscale_value=1.0, drop_path_rate=0.0,
                     use_swiglu_ffn=False)
REGISTER_DEFAULTS = dict(DINO_DEFAULTS, num_register_tokens=2, apply_layernorm=True,
                         reshape_hidden_states=True)

ARCHITECTURES = {
    ("vit", "classifier"): "ViTForImageClassification", ("vit", None): "ViTModel",
    ("deit", "teacher"): "DeiTForImageClassificationWithTeacher",
    ("deit", "classifier"): "DeiTForImageClassification", ("deit", None): "DeiTModel",
    ("dinov2", "classifier"): "Dinov2ForImageClassification", ("dinov2", None): "Dinov2Model",
    ("dinov2_with_registers", "classifier"): "Dinov2WithRegistersForImageClassification",
    ("dinov2_with_registers", None): "Dinov2WithRegistersModel",
}

# Label names with what real ones have (ImageNet: commas, apostrophes) and what JSON must escape.
LABEL_WORDS = ["tench, Tinca tinca", "jack-o'-lantern", 'say "cheese"', "café au lait ☕",
               "tabby, tabby cat", "back\\slash", "goldfinch", "ox", "zebra", "kite", "lemon"]


def labelName(i):
    return f"{LABEL_WORDS[i % len(LABEL_WORDS)]} #{i}"


def swigluHidden(hidden, mlpRatio):
    """Dinov2SwiGLUFFN's hidden width (modeling_dinov2.py, Dinov2SwiGLUFFN.__init__):
    h = int(hidden * mlp_ratio); h = (int(h * 2 / 3) + 7) // 8 * 8. weights_in is [2h, hidden]."""
    h = int(hidden * mlpRatio)
    return (int(h * 2 / 3) + 7) // 8 * 8


def basePrefix(modelType):
    return {"vit": "vit.", "deit": "deit.", "dinov2": "dinov2.",
            "dinov2_with_registers": "dinov2_with_registers."}[modelType]


def randomWeights(modelType, head, cfg, numLabels, rng):
    """(name without the base-model prefix, float32 array) in state-dict order, and the head."""
    D, C, P = cfg["hidden_size"], cfg["num_channels"], cfg["patch_size"]
    grid = cfg["image_size"] // P
    dino = modelType.startswith("dinov2")

    def normal(*shape, std=0.2):
        return rng.normal(0.0, std, size=shape).astype(np.float32)

    def gain(n):
        return (1.0 + rng.normal(0.0, 0.2, size=n)).astype(np.float32)

    qkStd = 0.2 * min(1.0, (32.0 / D) ** 0.5)
    prefixTokens = 2 if modelType == "deit" else 1
    e = "embeddings."
    w = [(e + "cls_token", normal(1, 1, D, std=0.5))]
    if modelType == "deit":
        w += [(e + "distillation_token", normal(1, 1, D, std=0.5))]
    if dino:
        w += [(e + "mask_token", normal(1, D, std=0.5))]
    if modelType == "dinov2_with_registers":
        w += [(e + "register_tokens", normal(1, cfg["num_register_tokens"], D, std=0.5))]
    w += [(e + "position_embeddings", normal(1, prefixTokens + grid * grid, D, std=0.5)),
          (e + "patch_embeddings.projection.weight", normal(D, C, P, P, std=(C * P * P) ** -0.5)),
          (e + "patch_embeddings.projection.bias", normal(D, std=0.1))]
    if dino:
        ratio = cfg["mlp_ratio"]
        inner = swigluHidden(D, ratio) if cfg.get("use_swiglu_ffn") else int(D * ratio)
    else:
        inner = cfg["intermediate_size"]
    for l in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{l}."
        a = p + "attention."
        norm1, norm2 = ("norm1", "norm2") if dino else ("layernorm_before", "layernorm_after")
        w += [(p + norm1 + ".weight", gain(D)), (p + norm1 + ".bias", normal(D, std=0.1))]
        for proj in ("query", "key", "value"):
            w += [(a + f"attention.{proj}.weight", normal(D, D, std=qkStd if proj != "value" else 0.2))]
            if cfg["qkv_bias"]:
                w += [(a + f"attention.{proj}.bias", normal(D, std=0.1))]
        w += [(a + "output.dense.weight", normal(D, D)), (a + "output.dense.bias", normal(D, std=0.1))]
        if dino:
            w += [(p + "layer_scale1.lambda1", rng.uniform(0.3, 1.5, D).astype(np.float32)),
                  (p + norm2 + ".weight", gain(D)), (p + norm2 + ".bias", normal(D, std=0.1))]
            if cfg.get("use_swiglu_ffn"):
                w += [(p + "mlp.weights_in.weight", normal(2 * inner, D)),
                      (p + "mlp.weights_in.bias", normal(2 * inner, std=0.1)),
                      (p + "mlp.weights_out.weight", normal(D, inner, std=0.2 * (64 / inner) ** 0.5)),
                      (p + "mlp.weights_out.bias", normal(D, std=0.1))]
            else:
                w += [(p + "mlp.fc1.weight", normal(inner, D)), (p + "mlp.fc1.bias", normal(inner, std=0.1)),
                      (p + "mlp.fc2.weight", normal(D, inner, std=0.2 * (64 / inner) ** 0.5)),
                      (p + "mlp.fc2.bias", normal(D, std=0.1))]
            w += [(p + "layer_scale2.lambda1", rng.uniform(0.3, 1.5, D).astype(np.float32))]
        else:
            w += [(p + norm2 + ".weight", gain(D)), (p + norm2 + ".bias", normal(D, std=0.1)),
                  (p + "intermediate.dense.weight", normal(inner, D)),
                  (p + "intermediate.dense.bias", normal(inner, std=0.1)),
                  (p + "output.dense.weight", normal(D, inner, std=0.2 * (64 / inner) ** 0.5)),
                  (p + "output.dense.bias", normal(D, std=0.1))]
    w += [("layernorm.weight", gain(D)), ("layernorm.bias", normal(D, std=0.1))]
    heads = []
    if head is None and modelType in ("vit", "deit"):
        # ViTModel / DeiTModel are built with add_pooling_layer=True: a tanh pooler on token 0
        # that attnviz has no use for.
        w += [("pooler.dense.weight", normal(D, D)), ("pooler.dense.bias", normal(D, std=0.1))]
    elif head == "teacher":
        heads += [("cls_classifier.weight", normal(numLabels, D, std=0.3)),
                  ("cls_classifier.bias", normal(numLabels, std=0.1)),
                  ("distillation_classifier.weight", normal(numLabels, D, std=0.3)),
                  ("distillation_classifier.bias", normal(numLabels, std=0.1))]
    elif head == "classifier":
        width = 2 * D if dino else D
        heads += [("classifier.weight", normal(numLabels, width, std=0.3)),
                  ("classifier.bias", normal(numLabels, std=0.1))]
    return w, heads


def makeVitCheckpoint(out, modelType="vit", seed=0, dtype="F32", head="classifier", numLabels=5,
                      prefix=None, edit=None, dropConfig=(), **config):
    """Writes the folder; returns (config dict as written, {name as stored: decoded float32}).

    head: "classifier", "teacher" (deit only) or None (the bare model). prefix: whether the
    backbone's names carry the base-model prefix (default: exactly when there is a head, as
    Hugging Face saves them). edit(list of (name, array)) -> list: a hook for malformed folders.
    dropConfig: config keys to leave out of config.json."""
    assert modelType in MODEL_TYPES, modelType
    assert (modelType, head) in ARCHITECTURES, (modelType, head)
    base = {"vit": VIT_DEFAULTS, "deit": VIT_DEFAULTS, "dinov2": DINO_DEFAULTS,
            "dinov2_with_registers": REGISTER_DEFAULTS}[modelType]
    cfg = dict(base)
    cfg.update(config)
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(seed)
    backbone, heads = randomWeights(modelType, head, cfg, numLabels, rng)
    if prefix is None:
        prefix = head is not None
    pre = basePrefix(modelType) if prefix else ""
    tensors = [(pre + name, a) for name, a in backbone] + heads
    if edit is not None:
        tensors = edit(tensors)
    decoded = make_checkpoint.writeSafetensors(os.path.join(out, "model.safetensors"), tensors, dtype,
                                               {"format": "pt"})
    configJson = dict(cfg)
    configJson.update(model_type=modelType, architectures=[ARCHITECTURES[(modelType, head)]],
                      torch_dtype={"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[dtype],
                      transformers_version="4.46.0")
    if head is not None:
        configJson["id2label"] = {str(i): labelName(i) for i in range(numLabels)}
        configJson["label2id"] = {labelName(i): i for i in range(numLabels)}
    else:
        # What PretrainedConfig writes when nobody set labels: two placeholder labels, no head.
        configJson["id2label"] = {"0": "LABEL_0", "1": "LABEL_1"}
        configJson["label2id"] = {"LABEL_0": 0, "LABEL_1": 1}
    if modelType == "dinov2_with_registers":
        L = cfg["num_hidden_layers"]
        configJson.update(stage_names=["stem"] + [f"stage{i}" for i in range(1, L + 1)],
                          out_features=[f"stage{L}"], out_indices=[L])
    for k in dropConfig:
        configJson.pop(k, None)
    with open(os.path.join(out, "config.json"), "w", encoding="utf-8") as f:
        json.dump(configJson, f, indent=2, ensure_ascii=False)
    size = cfg["image_size"]
    processor = dict(do_normalize=True, do_rescale=True, do_resize=True, image_mean=[0.5] * cfg["num_channels"],
                     image_std=[0.5] * cfg["num_channels"], resample=2, rescale_factor=1 / 255,
                     size={"height": size, "width": size},
                     image_processor_type="BitImageProcessor" if modelType.startswith("dinov2")
                     else "ViTImageProcessor")
    with open(os.path.join(out, "preprocessor_config.json"), "w") as f:
        json.dump(processor, f, indent=2)
    return configJson, decoded


def randomPixels(seed, channels, height, width):
    """A preprocessed-looking input: float32 [C, H, W], roughly N(0, 1)."""
    rng = np.random.default_rng(seed)
    return rng.normal(0.0, 1.0, size=(channels, height, width)).astype(np.float32)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--model-type", default="vit", choices=MODEL_TYPES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", default="F32", choices=["F32", "F16", "BF16"])
    ap.add_argument("--head", default="classifier", choices=["classifier", "teacher", "none"])
    ap.add_argument("--labels", type=int, default=5)
    ap.add_argument("--no-prefix", action="store_true", help="backbone names without vit./deit./dinov2.")
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--layers", type=int, default=2)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--inner", type=int, default=64, help="intermediate_size (vit, deit)")
    ap.add_argument("--mlp-ratio", type=float, default=4, help="(dinov2)")
    ap.add_argument("--swiglu", action="store_true", help="use_swiglu_ffn (dinov2)")
    ap.add_argument("--registers", type=int, default=2, help="num_register_tokens (dinov2_with_registers)")
    ap.add_argument("--image-size", type=int, default=None)
    ap.add_argument("--patch", type=int, default=None)
    ap.add_argument("--channels", type=int, default=3)
    ap.add_argument("--no-qkv-bias", action="store_true")
    ap.add_argument("--layer-norm-eps", type=float, default=None)
    ap.add_argument("--pixels", default=None, help="also write a random input [C, H, W] here")
    ap.add_argument("--height", type=int, default=None)
    ap.add_argument("--width", type=int, default=None)
    a = ap.parse_args()
    dino = a.model_type.startswith("dinov2")
    config = dict(hidden_size=a.hidden, num_hidden_layers=a.layers, num_attention_heads=a.heads,
                  num_channels=a.channels, qkv_bias=not a.no_qkv_bias)
    if a.image_size is not None:
        config["image_size"] = a.image_size
    if a.patch is not None:
        config["patch_size"] = a.patch
        if not dino:
            config["encoder_stride"] = a.patch
    if a.layer_norm_eps is not None:
        config["layer_norm_eps"] = a.layer_norm_eps
    if dino:
        mlp = int(a.mlp_ratio) if float(a.mlp_ratio).is_integer() else a.mlp_ratio
        config.update(mlp_ratio=mlp, use_swiglu_ffn=a.swiglu)
        if a.model_type == "dinov2_with_registers":
            config["num_register_tokens"] = a.registers
    else:
        config["intermediate_size"] = a.inner
    head = None if a.head == "none" else a.head
    cfg, _ = makeVitCheckpoint(a.out, modelType=a.model_type, seed=a.seed, dtype=a.dtype, head=head,
                               numLabels=a.labels, prefix=False if a.no_prefix else None, **config)
    if a.pixels:
        h = a.height or cfg["image_size"]
        np.save(a.pixels, randomPixels(a.seed + 1, cfg["num_channels"], h, a.width or h))


if __name__ == "__main__":
    main()
