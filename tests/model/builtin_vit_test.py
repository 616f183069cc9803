#!/usr/bin/python3
"""The shipped vision model (assets/models/attnviz-vit-mini) meets its card's goals when attnviz
runs it.

  builtin_vit_test.py ATTNVIZ [--count N]

Scenes from a seed the training never used (scripts/vit_scenes.py, seed 424242), written as PNG
files and given to `attnviz compute --model attnviz-vit-mini --image FILE`, so the decoding, the
preprocessing and the forward pass are all attnviz's. From the files it writes (computed here,
independently of attnviz's own summaries):
  * accuracy of model.json's top label >= 0.99 (the label is the red object's shape);
  * the best head of the last layer: mean over scenes of its [CLS] row's weight on the patches
    holding any red pixel >= 0.5 (a uniform row gives about 0.1);
  * rollout (rollout.npy, the head mean over every layer): the [CLS] row without its [CLS]
    entry, renormalised, puts >= 0.5 on the red patches;
  * rollout.npy agrees with the rollout computed here from the layers' weights (1e-5);
  * `attnviz models` lists the model, and `attnviz samples` the scenes shipped with it; the
    shipped scenes are classified correctly.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import vit_scenes  # noqa: E402

MODEL = "attnviz-vit-mini"
SEED = 424242


def rollout(weights_per_layer):
    n = weights_per_layer[0].shape[-1]
    r = np.eye(n)
    for w in weights_per_layer:
        a = 0.5 * w.astype(np.float64).mean(axis=0) + 0.5 * np.eye(n)
        a /= a.sum(axis=1, keepdims=True)
        r = a @ r
    return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz")
    ap.add_argument("--count", type=int, default=100)
    args = ap.parse_args()
    # One thread: ctest runs two tests at once on two cores, and this checks numbers, not speed.
    os.environ["OMP_NUM_THREADS"] = "1"
    failures = []
    models = subprocess.run([args.attnviz, "models"], check=True, capture_output=True, text=True).stdout
    if MODEL not in models:
        failures.append(f"`attnviz models` does not list {MODEL}")
    samples = subprocess.run([args.attnviz, "samples"], check=True, capture_output=True, text=True).stdout
    if "scene-red-circle" not in samples:
        failures.append("`attnviz samples` does not list the scenes (scene-red-circle)")

    correct = 0
    head_on_red = None
    rollout_on_red = []
    worst_rollout = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for index in range(args.count):
            img, label, _, red_mask = vit_scenes.make_scene(SEED, index)
            png = os.path.join(tmp, f"{index}.png")
            vit_scenes.write_png(png, img)
            out = os.path.join(tmp, "out")
            subprocess.run([args.attnviz, "compute", "--model", MODEL, "--image", png, "--out", out], check=True,
                           capture_output=True)
            model = json.load(open(os.path.join(out, "model.json")))
            correct += model["top_labels"][0]["id"] == label
            layers = len(model["layers_written"])
            weights = [np.load(os.path.join(out, f"layer{l}", "weights.npy")) for l in range(layers)]
            red = np.concatenate([[False], vit_scenes.red_patches(red_mask)])  # [CLS] first
            on_red = weights[-1][:, 0, red].sum(axis=1)  # per head
            head_on_red = on_red if head_on_red is None else head_on_red + on_red
            got = np.load(os.path.join(out, "rollout.npy"))
            ref = rollout(weights)
            worst_rollout = max(worst_rollout, float(np.abs(got - ref).max()))
            row = got[0, 1:].astype(np.float64)
            rollout_on_red.append(row[red[1:]].sum() / row.sum())
        for shape in ("circle", "square", "triangle", "cross"):
            out = os.path.join(tmp, "sample")
            subprocess.run([args.attnviz, "compute", "--model", MODEL, "--image",
                            os.path.join(HERE, "..", "..", "assets", "samples", "scenes", f"red-{shape}.png"),
                            "--layer", "0", "--out", out], check=True, capture_output=True)
            top = json.load(open(os.path.join(out, "model.json")))["top_labels"][0]["label"]
            if top != shape:
                failures.append(f"the shipped scene red-{shape}.png is classified as {top}")
    accuracy = correct / args.count
    heads = head_on_red / args.count
    best = int(np.argmax(heads))
    mean_rollout = float(np.mean(rollout_on_red))
    print(f"{args.count} held-out scenes (seed {SEED}): accuracy {accuracy:.3f}; last layer's [CLS] weight on the "
          f"red patches per head {np.round(heads, 3).tolist()} (best: head {best}); rollout {mean_rollout:.3f}; "
          f"rollout.npy vs NumPy {worst_rollout:.1e}")
    if accuracy < 0.99:
        failures.append(f"accuracy {accuracy:.3f} < 0.99")
    if heads[best] < 0.5:
        failures.append(f"best last-layer head puts {heads[best]:.3f} < 0.5 on the red patches")
    if mean_rollout < 0.5:
        failures.append(f"rollout puts {mean_rollout:.3f} < 0.5 on the red patches")
    if worst_rollout > 1e-5:
        failures.append(f"rollout.npy differs from the NumPy rollout by {worst_rollout:.1e} > 1e-5")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
