#!/usr/bin/python3
"""The shipped model (assets/models/attnviz-mini) shows what attention learns.

  builtin_model_test.py ATTNVIZ

Runs the real binary on the committed weights and checks, from the files `compute --model`
writes (scores computed here from weights.npy, independently of attnviz's own head scores):
  * `attnviz models` lists the model with its shape;
  * a previous-token head: mean A[i, i-1] >= 0.5 on text written for this test (not in the
    generated training corpus);
  * an induction head (Olsson et al. 2022): <|endoftext|>, 50 random tokens from the middle of
    the vocabulary, the same 50 again; mean attention from each token of the second copy to the
    token after its first occurrence >= 0.4;
  * in-context learning: mean loss on the second copy <= half the loss on the first;
  * model.json's head scores agree with the ones computed here (within 1e-5).
"""

import json
import os
import subprocess
import sys
import tempfile

import numpy as np

MODEL = "attnviz-mini"
HELD_OUT = (
    "Mara found a small red box under the old bridge. She opened it slowly, and inside "
    "there was a key. Mara took the key to her brother Jonas because he knew every door in "
    "the town. Jonas looked at the key and said that it was very old. They walked to the "
    "library, then to the school, and at last to the tower. The door of the tower opened, "
    "and the two of them climbed one, two, three, four, five flights of stairs."
)


def run(binary, *args):
    return subprocess.run([binary, *args], check=True, capture_output=True, text=True).stdout


def compute(binary, out, *args):
    run(binary, "compute", "--model", MODEL, *args, "--out", out)
    weights = [np.load(f"{out}/layer{l}/weights.npy") for l in range(len(json.load(open(f"{out}/model.json"))["head_scores"]))]
    return weights, np.load(f"{out}/logits.npy"), json.load(open(f"{out}/model.json")), json.load(open(f"{out}/tokens.json"))


def log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return x - np.log(np.exp(x).sum(axis=-1, keepdims=True))


def main():
    binary = sys.argv[1]
    failures = []

    def check(ok, what):
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    listing = run(binary, "models")
    folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "assets", "models", MODEL)
    config = json.load(open(os.path.join(folder, "config.json")))
    eot = json.load(open(os.path.join(folder, "vocab.json")))["<|endoftext|>"]
    shape = f"{config['n_layer']} layers × {config['n_head']} heads, d_model {config['n_embd']}"
    check(any(l.startswith(MODEL + "\t") and shape in l for l in listing.splitlines()),
          f"`attnviz models` lists {MODEL} as {shape}")

    with tempfile.TemporaryDirectory() as tmp:
        weights, _, info, tokens = compute(binary, f"{tmp}/text", "--text", HELD_OUT)
        ids = tokens["ids"]
        n = len(ids)
        best_prev = (-1.0, None)
        for l, w in enumerate(weights):
            for h in range(w.shape[0]):
                prev = float(np.mean([w[h, i, i - 1] for i in range(1, n)]))
                mine = info["head_scores"][l][h]["previous_token"]
                if abs(prev - mine) > 1e-5:
                    check(False, f"model.json previous_token of {l}.{h} is {mine}, computed {prev}")
                best_prev = max(best_prev, (prev, (l, h)))
        check(best_prev[0] >= 0.5, f"previous-token head {best_prev[1]}: mean A[i, i-1] = {best_prev[0]:.3f} "
                                   f">= 0.5 on {n} held-out tokens")

        vocab = config["vocab_size"]
        rng = np.random.default_rng(2022)
        scores = {}
        first_loss, second_loss = [], []
        for trial in range(5):
            rand = rng.integers(vocab // 4, 3 * vocab // 4, size=50).tolist()
            seq = [eot] + rand + rand
            weights, logits, _, _ = compute(binary, f"{tmp}/rep{trial}", "--ids", ",".join(map(str, seq)))
            lp = log_softmax(logits)
            losses = [-lp[i, seq[i + 1]] for i in range(len(seq) - 1)]
            first_loss.append(np.mean(losses[1:50]))    # predicting tokens 2..50 of the first copy
            second_loss.append(np.mean(losses[51:100]))  # predicting tokens 2..50 of the second copy
            for l, w in enumerate(weights):
                for h in range(w.shape[0]):
                    # second-copy token at position 51 + k attends to position k + 2 (after its first occurrence)
                    s = np.mean([w[h, 51 + k, k + 2] for k in range(49)])
                    scores.setdefault((l, h), []).append(s)
        best = max((np.mean(v), k) for k, v in scores.items())
        check(best[0] >= 0.4, f"induction head {best[1]}: prefix-matching score {best[0]:.3f} >= 0.4")
        l1, l2 = float(np.mean(first_loss)), float(np.mean(second_loss))
        check(l2 <= 0.5 * l1, f"in-context learning: loss on the second copy {l2:.3f} <= half of the first {l1:.3f}")

    if failures:
        print(f"{len(failures)} failure(s)")
        sys.exit(1)


if __name__ == "__main__":
    main()
