#!/usr/bin/python3
"""`attnviz generate` (issue 26, "Generation"): a decoder's continuation with the key/value cache
(engine/model/generation.hpp, Architecture::forwardCached) against float64 PyTorch full passes.

Checks, on a GPT-2 test checkpoint, a Llama one (grouped-query attention, biases), a Mistral
one (sliding window 6, shorter than the text), a Qwen2 one (sliding window on its second layer)
and the built-in attnviz-mini:
 1. greedy with the cache, 32 new tokens: every token is the argmax of the reference's full
    pass over the growing sequence (a near tie, within 1e-5 of the largest |logit|, is
    reported and tolerated), and every top candidate's logit is the reference's within 1e-4
    of the largest |logit| and its probability PyTorch's softmax within 1e-4;
 2. --no-cache gives the same tokens, and logits within 1e-5 of the cached ones;
 3. the same seed gives the same text, another seed another text (T = 1.5);
 4. --temperature 1e-6 gives --greedy's tokens;
 5. temperature, top-k and top-p: the kept counts, the tempered and renormalised probabilities
    of the --json fields against NumPy on the reference's logits within 1e-6 (a top-p boundary
    within the float32 logits' error of p is tolerated), and the chosen token against the same
    splitmix64 draw in Python;
 6. the end-of-sequence id stops generation; refusals (an encoder, a vision model, --max-new
    beyond the context, a bad --top-p, --temperature or --greedy with --seed) exit non-zero with
    one line.

usage: generate_test.py ATTNVIZ"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_checkpoint  # noqa: E402
import make_llama_checkpoint  # noqa: E402
from reference_gpt2 import Gpt2Reference  # noqa: E402
from reference_llama import LlamaReference  # noqa: E402

torch.set_default_dtype(torch.float64)
failures = []
worst = {}  # what -> the largest error seen


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def note(what, value):
    worst[what] = max(worst.get(what, 0.0), value)


def run(attnviz, *args):
    return subprocess.run([attnviz, "generate", *map(str, args)], capture_output=True, text=True)


def generate(name, attnviz, *args):
    p = run(attnviz, *args, "--json")
    check(p.returncode == 0, "%s: generate %s (%s)" % (name, " ".join(map(str, args[2:])), p.stderr.strip()))
    return json.loads(p.stdout) if p.returncode == 0 else None


def softmax(x):
    e = np.exp(x - x.max())
    return e / e.sum()


def without_eos(folder, out):
    shutil.copytree(folder, out)
    path = os.path.join(out, "config.json")
    cfg = json.load(open(path))
    cfg.pop("eos_token_id", None)
    json.dump(cfg, open(path, "w"), indent=2)
    return out


# ---- 1, 2: greedy against the reference, cache against no cache --------------------------------


def greedy_matches(name, attnviz, folder, ref, prompt, new=32):
    ids = ",".join(map(str, prompt))
    doc = generate(name, attnviz, "--model", folder, "--ids", ids, "--max-new", new, "--greedy")
    if doc is None:
        return None
    check(len(doc["tokens"]) == new and doc["stopped"] == "max_new" and doc["prompt_ids"] == prompt,
          "%s: %d new tokens, stopped at --max-new" % (name, len(doc["tokens"])))
    seq, bad, ties = list(prompt), [], 0
    for step, t in enumerate(doc["tokens"]):
        logits = ref.forward(seq)["logits"][-1]
        scale = float(np.abs(logits).max())
        want = int(np.argmax(logits))  # ties: the smaller id, as attnviz
        if t["id"] != want:
            if logits[want] - logits[t["id"]] <= 1e-5 * scale:
                ties += 1
            else:
                bad.append(step)
        p = softmax(logits)
        for c in t["top"]:
            note("logit (relative to the largest |logit|)", abs(c["logit"] - logits[c["id"]]) / scale)
            note("probability", abs(c["probability"] - p[c["id"]]))
        check_top = [c["id"] for c in t["top"]]
        if check_top[0] != t["id"] or t["probability_kept"] != 1 or t["probability"] != t["top"][0]["probability"]:
            bad.append(step)
        seq.append(t["id"])
    check(not bad, "%s: greedy with the cache is the reference's argmax at each of %d steps%s%s" %
          (name, new, " (near ties: %d)" % ties if ties else "", " (wrong at %s)" % bad if bad else ""))
    errs = (worst.get("logit (relative to the largest |logit|)", 0), worst.get("probability", 0))
    check(errs[0] <= 1e-4 and errs[1] <= 1e-4,
          "%s: cached logits within 1e-4 of the reference's (so far %.2e relative), probabilities %.2e" %
          (name, errs[0], errs[1]))
    full = generate(name + " --no-cache", attnviz, "--model", folder, "--ids", ids, "--max-new", new, "--greedy",
                    "--no-cache")
    if full is not None:
        check(full["new_ids"] == doc["new_ids"] and full["cache"] is False and doc["cache"] is True,
              "%s: --no-cache gives the same %d tokens" % (name, new))
        diff = max(abs(a["logit"] - b["logit"]) for s, u in zip(doc["tokens"], full["tokens"])
                   for a, b in zip(s["top"], u["top"]))
        note("cache vs full pass, logit", diff)
        # Both are float32: the cached step's one-row products (matrix × vector) add in another
        # order than the full pass's matrix products, so they agree to float32 rounding of sums
        # over d_model terms, 1e-5 of the largest logit, not bit for bit.
        largest = max(abs(c["logit"]) for step in doc["tokens"] for c in step["top"])
        check(diff <= 1e-5 * max(1.0, largest),
              "%s: cached and full-pass logits agree (%.2e, largest logit %.2f)" % (name, diff, largest))
    return doc


# ---- 5: sampling against NumPy -----------------------------------------------------------------


def splitmix64(seed):
    state = seed
    mask = (1 << 64) - 1
    while True:
        state = (state + 0x9E3779B97F4A7C15) & mask
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
        yield float((z ^ (z >> 31)) >> 11) * 2.0 ** -53


def sampling_matches(name, attnviz, folder, ref, prompt, temperature, top_k, top_p, seed, new=8):
    args = ["--model", folder, "--ids", ",".join(map(str, prompt)), "--max-new", new, "--temperature", temperature,
            "--seed", seed]
    if top_k:
        args += ["--top-k", top_k]
    if top_p < 1:
        args += ["--top-p", top_p]
    what = "%s T=%g top-k %d top-p %g seed %d" % (name, temperature, top_k, top_p, seed)
    doc = generate(what, attnviz, *args)
    if doc is None:
        return
    draws = splitmix64(seed)
    seq, problems = list(prompt), []
    for step, t in enumerate(doc["tokens"]):
        logits = ref.forward(seq)["logits"][-1]
        V = len(logits)
        # the tokens by logit, largest first, ties to the smaller id
        order = sorted(range(V), key=lambda i: (-logits[i], i))
        tempered = softmax(logits / temperature)
        k = min(top_k, V) if top_k else V
        kept_k = np.array(order[:k])
        renorm = tempered[kept_k] / tempered[kept_k].sum()
        cumulative = np.cumsum(renorm)
        kp = k
        if top_p < 1:
            reach = np.nonzero(cumulative >= top_p)[0]
            kp = int(reach[0]) + 1 if len(reach) else k
        kept = np.zeros(V)
        sel = kept_k[:kp]
        kept[sel] = tempered[sel] / tempered[sel].sum()
        # the float32 logits' own error moves the probabilities by about p·Δlogit/T
        dlogit = max(abs(c["logit"] - logits[c["id"]]) for c in t["top"])
        tol = 1e-6
        near_boundary = top_p < 1 and abs(cumulative[kp - 1] - top_p) <= max(tol, 2 * dlogit / temperature)
        if t["kept_after_top_k"] != k:
            problems.append("step %d: top-k kept %d, not %d" % (step, t["kept_after_top_k"], k))
        if t["kept_after_top_p"] != kp and not near_boundary:
            problems.append("step %d: top-p kept %d, not %d" % (step, t["kept_after_top_p"], kp))
        errs = [abs(t["probability"] - tempered[t["id"]]), abs(t["probability_kept"] - kept[t["id"]])]
        for c in t["top"]:
            errs += [abs(c["probability_tempered"] - tempered[c["id"]]), abs(c["probability_kept"] - kept[c["id"]]),
                     abs(c["probability"] - softmax(logits)[c["id"]])]
        note("sampling probabilities", max(errs))
        if max(errs) > tol:
            problems.append("step %d: probabilities off by %.2e (tolerance %.2e)" % (step, max(errs), tol))
        u = next(draws)
        c = np.cumsum(kept[sel])
        pick = int(sel[min(int(np.searchsorted(c, u, side="right")), len(sel) - 1)])
        if pick != t["id"] and not near_boundary:
            problems.append("step %d: drew %d, the splitmix64 draw %.6f gives %d" % (step, t["id"], u, pick))
        if kept[t["id"]] <= 0:
            problems.append("step %d: token %d was cut" % (step, t["id"]))
        seq.append(t["id"])
    check(not problems, "%s: kept counts, tempered and renormalised probabilities and draws match NumPy %s" %
          (what, "; ".join(problems[:4])))


# ---- main --------------------------------------------------------------------------------------


def refused(name, attnviz, args, code=None, words=None):
    p = run(attnviz, *args)
    lines = p.stderr.strip().splitlines()
    ok = p.returncode != 0 and len(lines) == 1 and (code is None or p.returncode == code) and \
        (words is None or words in p.stderr) and p.stdout == ""
    check(ok, "%s: refused, exit %d, one line: %s" % (name, p.returncode, p.stderr.strip()))


def main():
    attnviz = sys.argv[1]
    with tempfile.TemporaryDirectory() as tmp:
        gpt = os.path.join(tmp, "gpt2")
        make_checkpoint.makeCheckpoint(gpt, seed=21, n_layer=3, n_head=4, n_embd=32, n_positions=64)
        llama = os.path.join(tmp, "llama")
        make_llama_checkpoint.makeLlamaCheckpoint(llama, seed=22, num_hidden_layers=3, attention_bias=True,
                                                  max_position_embeddings=64)
        mistral = os.path.join(tmp, "mistral")
        make_llama_checkpoint.makeLlamaCheckpoint(mistral, "mistral", seed=23, sliding_window=6,
                                                  max_position_embeddings=64)
        qwen2 = os.path.join(tmp, "qwen2")
        make_llama_checkpoint.makeLlamaCheckpoint(qwen2, "qwen2", seed=24, use_sliding_window=True, sliding_window=5,
                                                  max_window_layers=1, max_position_embeddings=64)
        mini = os.path.join(HERE, "..", "..", "assets", "models", "attnviz-mini")
        cases = [("gpt2", gpt, Gpt2Reference), ("llama", llama, LlamaReference),
                 ("mistral (window 6)", mistral, LlamaReference), ("qwen2 (window 5 from layer 1)", qwen2, LlamaReference),
                 ("attnviz-mini", mini, Gpt2Reference)]
        rng = np.random.default_rng(5)
        docs = {}
        for name, folder, Reference in cases:
            # no end-of-sequence id, so that every run makes all its tokens
            folder = without_eos(folder, os.path.join(tmp, "noeos-" + name.split()[0]))
            ref = Reference(folder)
            vocab = ref.cfg["vocab_size"]
            prompt = [int(v) for v in rng.integers(0, vocab - 1, 8)]
            docs[name] = (folder, ref, prompt, greedy_matches(name, attnviz, folder, ref, prompt))
        # 3 and 4 on the GPT-2 and Llama checkpoints
        for name in ("gpt2", "llama"):
            folder, ref, prompt, greedy = docs[name]
            ids = ",".join(map(str, prompt))
            base = ["--model", folder, "--ids", ids, "--max-new", 24]
            a = generate(name, attnviz, *base, "--temperature", 1.5, "--seed", 7)
            b = generate(name, attnviz, *base, "--temperature", 1.5, "--seed", 7)
            c = generate(name, attnviz, *base, "--temperature", 1.5, "--seed", 8)
            if a and b and c:
                check(a["new_ids"] == b["new_ids"] and a["text"] == b["text"], "%s: the same seed, the same text" % name)
                check(a["new_ids"] != c["new_ids"], "%s: another seed, another text (T = 1.5)" % name)
            cold = generate(name, attnviz, "--model", folder, "--ids", ids, "--max-new", 32, "--temperature", 1e-6,
                            "--seed", 3)
            if cold and greedy:
                check(cold["new_ids"] == greedy["new_ids"], "%s: --temperature 1e-6 gives --greedy's tokens" % name)
            for T, k, p, seed in ((1.0, 5, 1.0, 11), (0.8, 0, 0.6, 12), (1.3, 20, 0.9, 13), (2.0, 50, 0.97, 14)):
                sampling_matches(name, attnviz, folder, ref, prompt, T, k, p, seed)
        folder, ref, prompt, _ = docs["attnviz-mini"]
        sampling_matches("attnviz-mini", attnviz, folder, ref, prompt, 0.7, 40, 0.9, 15)
        # 6: the end-of-sequence id (the checkpoint's own config: eos_token_id = a greedy token, the first new
        # one from the 4th on if there is one)
        folder, ref, prompt, greedy = docs["gpt2"]
        if greedy:
            new = greedy["new_ids"]
            eos = new[next((i for i in range(3, len(new)) if new[i] not in new[:i]), 3)]
            stop = new.index(eos)
            cfgPath = os.path.join(gpt, "config.json")
            cfg = json.load(open(cfgPath))
            cfg["eos_token_id"] = eos
            json.dump(cfg, open(cfgPath, "w"))
            doc = generate("gpt2 with eos_token_id", attnviz, "--model", gpt, "--ids", ",".join(map(str, prompt)),
                           "--max-new", 32, "--greedy")
            check(doc is not None and doc["stopped"] == "eos" and doc["new_ids"] == greedy["new_ids"][:stop + 1] and
                  doc["eos_token_ids"] == [eos],
                  "gpt2: stops at eos_token_id %d after %d tokens" % (eos, stop + 1))
        # the text form: the prompt, then the new text
        p = run(attnviz, "--model", "attnviz-mini", "--text", "Anna took the ball.", "--max-new", 12, "--greedy")
        check(p.returncode == 0 and p.stdout.startswith("Anna took the ball.") and len(p.stdout) > 20 and
              "ms per token" in p.stderr,
              "attnviz-mini: --text prints the prompt then the continuation: %r (%s)" % (p.stdout.strip(),
                                                                                      p.stderr.strip()))
        # timings: 64 new tokens with and without the cache (attnviz-mini)
        times = {}
        for flag in ([], ["--no-cache"]):
            doc = generate("attnviz-mini timing", attnviz, "--model", docs["attnviz-mini"][0], "--text", "Anna took the ball.",
                           "--max-new", 64, "--greedy", *flag)
            if doc:
                times["no cache" if flag else "cache"] = doc["ms_per_token"]
        print("attnviz-mini, 64 new tokens, ms per token: " + ", ".join("%s %.3f" % kv for kv in times.items()))
        # refusals
        refused("attnviz-mini-bert (an encoder)", attnviz,
                ["--model", "attnviz-mini-bert", "--text", "Anna took the ball.", "--max-new", 4], 1, "decoders only")
        refused("attnviz-vit-mini (a vision model)", attnviz,
                ["--model", "attnviz-vit-mini", "--text", "a cat", "--max-new", 4], 1, "decoders only")
        refused("--max-new beyond the context", attnviz,
                ["--model", gpt, "--ids", "1,2,3", "--max-new", 62], 2, "context of 64")
        refused("--top-p 0", attnviz, ["--model", gpt, "--ids", "1,2,3", "--max-new", 2, "--top-p", 0], 2, "--top-p")
        refused("--top-p 1.5", attnviz, ["--model", gpt, "--ids", "1,2,3", "--max-new", 2, "--top-p", 1.5], 2, "--top-p")
        refused("--temperature -1", attnviz, ["--model", gpt, "--ids", "1,2", "--max-new", 2, "--temperature", -1], 2)
        refused("--greedy with --seed", attnviz, ["--model", gpt, "--ids", "1,2", "--max-new", 2, "--greedy",
                                                  "--seed", 1], 2)
        refused("no --max-new", attnviz, ["--model", gpt, "--ids", "1,2"], 2, "--max-new")
        refused("an id outside the vocabulary", attnviz, ["--model", gpt, "--ids", "1,300", "--max-new", 2], 1,
                "vocabulary")
    print("max errors: " + ", ".join("%s %.2e" % kv for kv in worst.items()))
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
