#!/usr/bin/python3
"""The shipped encoder (assets/models/attnviz-mini-bert) meets its card's goals when attnviz
runs it.

  builtin_bert_test.py ATTNVIZ [--count N]

Held-out stories from a seed the training never used, made by the training script's own
generator (scripts/train_mini_bert.py), given to `attnviz compute --model attnviz-mini-bert
--text A [--text-pair B]` so that the tokenizer and the forward pass are attnviz's. From the
files it writes (scored here, independently of attnviz's summaries):
  * `attnviz tokenize` gives the ids the training script's WordPiece gave (the shipped vocab.txt
    reads the same in both);
  * pronoun fill-mask: model.json's top filling of the one [MASK] is the pronoun, >= 0.95;
  * a previous-token head and a next-token head: mean A[i, i-1] and A[i, i+1] >= 0.6, pairs
    touching [CLS] or [SEP] left out;
  * a head resting on [SEP]/[CLS]: its mean weight on them over every row >= 0.5;
  * a pronoun head: from the masked pronoun, mean weight on the name it refers to >= 0.5;
  * sentence pairs: tokens.json's type_ids are 0 for [CLS] A [SEP] and 1 for B [SEP];
  * the card lists the names with their pronouns ("Names: Anna (she), Tom (he), ...") and
    `attnviz models` / `attnviz samples` list the model and its samples.
"""

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(REPO, "scripts"))
import train_mini_bert as tmb  # noqa: E402
from train_model import NAMES, PRON, make_lexicon  # noqa: E402

MODEL = "attnviz-mini-bert"
SEED = 777001  # not one of the training script's seeds (4321 + 0..5)


def compute(attnviz, out, text, pair=None):
    args = [attnviz, "compute", "--model", MODEL, "--text", text, "--out", out]
    if pair is not None:
        args += ["--text-pair", pair]
    subprocess.run(args, check=True, capture_output=True)
    tokens = json.load(open(os.path.join(out, "tokens.json")))
    model = json.load(open(os.path.join(out, "model.json")))
    weights = [np.load(os.path.join(out, f"layer{l}", "weights.npy")) for l in range(len(model["layers_written"]))]
    return tokens, model, np.stack(weights)  # [L, H, n, n]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("attnviz")
    ap.add_argument("--count", type=int, default=40)
    args = ap.parse_args()
    os.environ["OMP_NUM_THREADS"] = "1"  # ctest runs two tests at once; this checks numbers, not speed
    failures = []
    folder = os.path.join(REPO, "assets", "models", MODEL)
    vocab = open(os.path.join(folder, "vocab.txt")).read().split("\n")[:-1]
    tok = tmb.WordPiece(vocab)
    lexicon = make_lexicon(random.Random(tmb.SEED), 400)

    card = open(os.path.join(folder, "README.md")).read()
    names = re.search(r"^Names: (.*)$", card, re.M)
    expected = ", ".join(f"{n} ({PRON[g][0]})" for n, g in NAMES)
    if not names or names.group(1) != expected:
        failures.append("the card's Names: line is missing or differs from the corpus's names")
    models = subprocess.run([args.attnviz, "models"], check=True, capture_output=True, text=True).stdout
    if MODEL not in models:
        failures.append(f"`attnviz models` does not list {MODEL}")
    samples = subprocess.run([args.attnviz, "samples"], check=True, capture_output=True, text=True).stdout
    if "bert-pronoun" not in samples or "bert-pair" not in samples:
        failures.append("`attnviz samples` does not list bert-pronoun and bert-pair")

    gen = tmb.Stories(SEED, lexicon)
    texts = []
    while len(texts) < args.count:
        a, b = gen.example()
        texts.append((tmb.segments_text(a), tmb.segments_text(b) if b else None))
    cases = tmb.pronoun_sentences(SEED + 1, args.count, tok, lexicon)

    # The shipped vocabulary reads alike in attnviz and in the training script.
    jsonl_lines = [json.dumps([a, b] if b is not None else a) for a, b in texts]
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "texts.jsonl")
        open(path, "w").write("\n".join(jsonl_lines) + "\n")
        got = subprocess.run([args.attnviz, "tokenize", "--model", MODEL, "--jsonl", path], check=True,
                             capture_output=True, text=True).stdout.splitlines()
        mismatched = 0
        for (a, b), line in zip(texts, got):
            ids = [tmb.CLS] + tok.encode(a) + [tmb.SEP] + (tok.encode(b) + [tmb.SEP] if b is not None else [])
            mismatched += json.loads(line)["ids"] != ids
        if mismatched:
            failures.append(f"attnviz tokenize differs from the training WordPiece on {mismatched} texts")

        L = H = None
        prev = nxt = special = None
        pairs = rows = 0
        type_errors = 0
        for index, (a, b) in enumerate(texts):
            tokens, model, w = compute(args.attnviz, os.path.join(tmp, "t"), a, b)
            ids = tokens["ids"]
            if b is not None:
                first_b = ids.index(tmb.SEP) + 1
                want = [0] * first_b + [1] * (len(ids) - first_b)
                type_errors += tokens["type_ids"] != want
            if prev is None:
                L, H = w.shape[:2]
                prev, nxt, special = np.zeros((L, H)), np.zeros((L, H)), np.zeros((L, H))
            n = len(ids)
            marks = [j for j in range(n) if ids[j] in (tmb.CLS, tmb.SEP)]
            special += w[:, :, :, marks].sum(-1).mean(-1)
            rows += 1
            for i in range(1, n - 1):
                if ids[i] in (tmb.CLS, tmb.SEP) or ids[i - 1] in (tmb.CLS, tmb.SEP) or ids[i + 1] in (tmb.CLS, tmb.SEP):
                    continue
                prev += w[:, :, i, i - 1]
                nxt += w[:, :, i, i + 1]
                pairs += 1
        prev, nxt, special = prev / pairs, nxt / pairs, special / rows
        if type_errors:
            failures.append(f"type_ids wrong for {type_errors} sentence pairs")

        right = 0
        to_name = np.zeros((L, H))
        for ids, _, position, answer, referent in cases:
            words = [vocab[i] for i in ids[1:-1]]
            text = " ".join(words).replace(" ##", "")
            tokens, model, w = compute(args.attnviz, os.path.join(tmp, "p"), text)
            if tokens["ids"] != ids:
                failures.append(f"{text!r} tokenized as {tokens['ids']}, expected {ids}")
                break
            fill = [f for f in model["fill_mask"] if f["position"] == position]
            right += bool(fill) and fill[0]["top"][0]["id"] == answer
            to_name += w[:, :, position, referent]
        to_name /= len(cases)

    accuracy = right / len(cases)
    report = {"pronoun fill-mask": round(accuracy, 3)}
    for name, scores in (("previous-token", prev), ("next-token", nxt), ("on [SEP]/[CLS]", special),
                         ("pronoun to name", to_name)):
        l, h = np.unravel_index(np.argmax(scores), scores.shape)
        report[name] = f"L{l}H{h} {scores[l, h]:.3f}"
        if scores[l, h] < (0.6 if name.endswith("token") else 0.5):
            failures.append(f"best {name} head L{l}H{h}: {scores[l, h]:.3f} is below the goal")
    if accuracy < 0.95:
        failures.append(f"pronoun fill-mask accuracy {accuracy:.3f} < 0.95")
    print(f"{len(texts)} held-out texts and {len(cases)} pronoun sentences (seed {SEED}): {report}")
    for f in failures:
        print("FAIL", f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
