#!/usr/bin/python3
"""Train attnviz-mini: a tiny GPT-2-architecture model with its own byte-level BPE.

Everything is built offline and deterministically from fixed seeds:
  1. a generated corpus (simple stories with recurring names and pronouns,
     counting, lists, dialogues, repeated phrases),
  2. a byte-level BPE vocabulary in GPT-2's exact format (vocab.json, merges.txt),
  3. a GPT-2 model (same computation as Hugging Face's GPT2LMHeadModel), trained
     with AdamW on a mix of corpus windows and sequences that repeat stretches of
     tokens (so that induction heads form),
  4. F16 safetensors with Hugging Face's GPT-2 tensor names, config.json,
     training.json and a README model card,
  5. an evaluation of the shipped (F16-rounded) weights: train / held-out loss,
     a bigram baseline, previous-token, first-token and induction head scores,
     and in-context learning on repeated random tokens.

Usage:
  /usr/bin/python3 scripts/train_model.py                 # full run, writes assets/models/attnviz-mini
  /usr/bin/python3 scripts/train_model.py --steps 60 --out /tmp/train_trial   # a short trial
"""

import argparse
import json
import math
import os
import random
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

# ----------------------------------------------------------------------------
# Hyper-parameters (all fixed: the run is reproducible)
# ----------------------------------------------------------------------------
SEED = 1234
VOCAB_SIZE = 2048            # 256 bytes + merges + <|endoftext|>
N_LAYER = 2
N_HEAD = 4
N_EMBD = 128
N_POS = 256
BATCH = 16
LR = 2e-3
WARMUP = 100
WEIGHT_DECAY = 0.01
DEFAULT_STEPS = 1500         # main phase, set from timed runs (~7-9k tok/s at one thread, machine shared)
BOOTSTRAP_STEPS = 600        # first: repeated random stretches only, BOOTSTRAP_BATCH x BOOTSTRAP_LEN
BOOTSTRAP_BATCH = 64
BOOTSTRAP_LEN = 64
TRAIN_STORIES = 60000
VALID_STORIES = 2500
BPE_STORIES = 20000
EOT = "<|endoftext|>"

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# ----------------------------------------------------------------------------
# Corpus generation
# ----------------------------------------------------------------------------
NAMES = [("Anna", "f"), ("Tom", "m"), ("Mia", "f"), ("Ben", "m"), ("Lily", "f"), ("Sam", "m"),
         ("Lucy", "f"), ("Max", "m"), ("Emma", "f"), ("Jack", "m"), ("Sara", "f"), ("Leo", "m"),
         ("Nora", "f"), ("Finn", "m"), ("Ruby", "f"), ("Omar", "m"), ("Zoe", "f"), ("Ivan", "m"),
         ("Maya", "f"), ("Noah", "m"), ("Ella", "f"), ("Hugo", "m"), ("Alice", "f"), ("Peter", "m"),
         ("Clara", "f"), ("David", "m"), ("Grace", "f"), ("Oscar", "m"), ("Julia", "f"), ("Felix", "m")]
PRON = {"f": ("she", "her", "her", "She"), "m": ("he", "him", "his", "He")}
OBJECTS = ["ball", "book", "cup", "kite", "apple", "box", "hat", "toy", "cake", "letter", "key",
           "flower", "pencil", "drum", "map", "lamp", "coin", "shell", "stone", "bag", "boat",
           "basket", "clock", "spoon", "ring", "card", "scarf", "bottle", "picture", "robot"]
ANIMALS = ["dog", "cat", "bird", "horse", "cow", "duck", "fox", "rabbit", "mouse", "sheep",
           "goat", "frog", "bear", "lion", "owl", "pig", "chicken", "turtle", "deer", "wolf"]
PLACES = ["park", "shop", "school", "river", "garden", "forest", "beach", "market", "farm",
          "library", "kitchen", "station", "village", "hill", "lake", "house", "zoo", "city"]
ADJS = ["red", "blue", "green", "big", "small", "old", "new", "yellow", "soft", "shiny",
        "heavy", "light", "round", "tiny", "happy", "funny", "dark", "bright", "warm", "cold"]
FEEL = ["tired", "scared", "hungry", "sleepy", "slow", "old", "sick", "small", "lazy", "cold"]
WIDE = ["wide", "busy", "long", "wet", "dark", "noisy", "icy", "muddy", "steep", "crowded"]
VERBS = ["found", "saw", "liked", "wanted", "made", "lost", "painted", "carried", "washed", "hid"]
NUMS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
        "eighteen", "nineteen", "twenty"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
COLORS = ["red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white"]
SYLL_C = "bdfgklmnprstvz"
SYLL_V = "aeiou"


def make_lexicon(rng, n):
    """Pseudo-words built from syllables: a fixed, seeded list."""
    words = set()
    out = []
    while len(out) < n:
        k = rng.choice([1, 2, 2, 3])
        w = "".join(rng.choice(SYLL_C) + rng.choice(SYLL_V) + (rng.choice(SYLL_C) if rng.random() < 0.3 else "")
                    for _ in range(k))
        if w not in words:
            words.add(w)
            out.append(w)
    return out


class StoryGen:
    def __init__(self, seed, lexicon):
        self.r = random.Random(seed)
        self.lex = lexicon

    def two_people(self):
        a, b = self.r.sample(NAMES, 2)
        return a, b

    def s_give(self):
        r = self.r
        (a, ga), (b, gb) = self.two_people()
        o = r.choice(OBJECTS)
        pa, pb = PRON[ga], PRON[gb]
        v = r.randrange(4)
        if v == 0:
            return f"{a} took the {o}. {pa[3]} gave it to {b} because {pb[0]} asked."
        if v == 1:
            return f"{a} had a {r.choice(ADJS)} {o}. {pa[3]} gave it to {b}, and {b} thanked {pa[1]}."
        if v == 2:
            return f"{b} wanted the {o}, so {a} gave {pb[1]} the {o}. {pb[3]} was happy."
        return f"{a} lost {pa[2]} {o}. {b} found it and gave it back to {pa[1]}."

    def s_animal(self):
        r = self.r
        an = r.choice(ANIMALS)
        if r.random() < 0.5:
            return f"The {an} didn't cross the street because it was too {r.choice(FEEL)}."
        w = r.choice(WIDE)
        thing = r.choice(["street", "river", "road", "bridge"])
        return f"The {an} didn't cross the {thing} because the {thing} was too {w}."

    def s_walk(self):
        r = self.r
        (a, ga), (b, gb) = self.two_people()
        pl, o, ad = r.choice(PLACES), r.choice(OBJECTS), r.choice(ADJS)
        pa = PRON[ga]
        return (f"{a} and {b} went to the {pl}. {a} saw a {ad} {o}. {pa[3]} showed it to {b}. "
                f"{b} said, \"I like the {ad} {o}!\"")

    def s_count(self):
        r = self.r
        a, _ = r.choice(NAMES)
        s = r.randrange(0, 8)
        n = r.randrange(3, 12)
        seq = NUMS[s:s + n]
        if r.random() < 0.5:
            return f"{a} counted: " + ", ".join(seq) + "."
        s = r.randrange(1, 50)
        return f"{a} counted " + " ".join(str(i) for i in range(s, s + n)) + "."

    def s_list(self):
        r = self.r
        (a, ga), (b, gb) = self.two_people()
        items = r.sample(OBJECTS + ANIMALS, r.randrange(3, 6))
        lst = ", ".join(items[:-1]) + " and " + items[-1]
        return f"{a} bought {lst}. Then {b} bought {lst} too."

    def s_dialogue(self):
        r = self.r
        (a, ga), (b, gb) = self.two_people()
        o, pl = r.choice(OBJECTS), r.choice(PLACES)
        return (f"\"Hello, {b},\" said {a}. \"Hello, {a},\" said {b}. \"Where is the {o}?\" asked {a}. "
                f"\"The {o} is in the {pl},\" said {b}.")

    def s_secret(self):
        r = self.r
        a, ga = r.choice(NAMES)
        ws = " ".join(r.choice(self.lex) for _ in range(r.randrange(3, 9)))
        rep = r.randrange(2, 4)
        out = f"The secret words were: {ws}. "
        for _ in range(rep - 1):
            out += f"{a} said them again: {ws}. "
        return out.strip()

    def s_days(self):
        r = self.r
        s = r.randrange(7)
        n = r.randrange(3, 8)
        d = [DAYS[(s + i) % 7] for i in range(n)]
        return "The days were " + ", ".join(d) + "."

    def s_colors(self):
        r = self.r
        a, ga = r.choice(NAMES)
        cs = r.sample(COLORS, r.randrange(2, 5))
        o = r.choice(OBJECTS)
        return f"{a} painted the {o} " + " and ".join(cs) + f". The {o} was " + " and ".join(cs) + " now."

    def s_verb(self):
        r = self.r
        (a, ga), (b, gb) = self.two_people()
        v, o = r.choice(VERBS), r.choice(OBJECTS)
        pa = PRON[ga]
        return f"{a} {v} a {o} in the {r.choice(PLACES)}. {pa[3]} told {b} about it, and {b} {v} one too."

    def s_name(self):
        r = self.r
        an = r.choice(ANIMALS)
        nm = r.choice(self.lex).capitalize()
        return f"There was a {an} called {nm}. Every day {nm} the {an} went to the {r.choice(PLACES)}."

    def story(self):
        r = self.r
        fns = [self.s_give, self.s_animal, self.s_walk, self.s_count, self.s_list, self.s_dialogue,
               self.s_secret, self.s_days, self.s_colors, self.s_verb, self.s_name]
        n = r.randrange(3, 9)
        parts = [r.choice(fns)() for _ in range(n)]
        sep = " " if r.random() < 0.7 else "\n"
        return sep.join(parts) + "\n"


def generate_stories(seed, n, lexicon):
    g = StoryGen(seed, lexicon)
    return [g.story() for _ in range(n)]


# ----------------------------------------------------------------------------
# GPT-2 byte-level BPE
# ----------------------------------------------------------------------------
def bytes_to_unicode():
    """GPT-2's table, verbatim."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("\xa1"), ord("\xac") + 1)) + \
        list(range(ord("\xae"), ord("\xff") + 1))
    cs = bs[:]
    n = 0
    for b in range(2 ** 8):
        if b not in bs:
            bs.append(b)
            cs.append(2 ** 8 + n)
            n += 1
    return bs, [chr(c) for c in cs]


_CONTRACTIONS = ("re", "ve", "ll", "s", "t", "m", "d")


def pretokenize(text):
    """GPT-2's pattern  's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+
    written with str.isalpha / str.isnumeric / str.isspace (equal to the regex on this ASCII corpus)."""
    out = []
    i, n = 0, len(text)
    isL = str.isalpha
    isN = str.isnumeric
    isS = str.isspace
    while i < n:
        c = text[i]
        if c == "'":
            m = None
            # alternation order of the pattern: 's 't 're 've 'm 'll 'd
            for suf in ("s", "t", "re", "ve", "m", "ll", "d"):
                if text.startswith(suf, i + 1):
                    m = suf
                    break
            if m is not None:
                out.append(text[i:i + 1 + len(m)])
                i += 1 + len(m)
                continue
        j = i + 1 if (c == " " and i + 1 < n) else i
        d = text[j]
        if isL(d):
            k = j + 1
            while k < n and isL(text[k]):
                k += 1
            out.append(text[i:k]); i = k; continue
        if isN(d):
            k = j + 1
            while k < n and isN(text[k]):
                k += 1
            out.append(text[i:k]); i = k; continue
        if not isS(d):
            k = j + 1
            while k < n and not (isS(text[k]) or isL(text[k]) or isN(text[k])):
                k += 1
            out.append(text[i:k]); i = k; continue
        # whitespace: \s+(?!\S) then \s+
        k = i
        while k < n and isS(text[k]):
            k += 1
        if k == n:
            out.append(text[i:k]); i = k; continue
        if k - i >= 2:
            out.append(text[i:k - 1]); i = k - 1; continue
        out.append(text[i:k]); i = k
    return out


def train_bpe(texts, n_merges):
    bs, cs = bytes_to_unicode()
    benc = dict(zip(bs, cs))
    counts = {}
    for t in texts:
        for w in pretokenize(t):
            counts[w] = counts.get(w, 0) + 1
    words = []
    freqs = []
    for w, c in counts.items():
        words.append([benc[b] for b in w.encode("utf-8")])
        freqs.append(c)
    pair_cnt = {}
    pair_where = {}
    for wi, w in enumerate(words):
        f = freqs[wi]
        for a, b in zip(w, w[1:]):
            p = (a, b)
            pair_cnt[p] = pair_cnt.get(p, 0) + f
            pair_where.setdefault(p, set()).add(wi)
    merges = []
    for _ in range(n_merges):
        if not pair_cnt:
            break
        best = max(pair_cnt.items(), key=lambda kv: (kv[1], kv[0]))
        if best[1] < 2:
            break
        p = best[0]
        merges.append(p)
        a, b = p
        ab = a + b
        for wi in sorted(pair_where.get(p, ())):
            w = words[wi]
            f = freqs[wi]
            for x, y in zip(w, w[1:]):
                q = (x, y)
                pair_cnt[q] -= f
                if pair_cnt[q] == 0:
                    del pair_cnt[q]
            nw = []
            k = 0
            while k < len(w):
                if k + 1 < len(w) and w[k] == a and w[k + 1] == b:
                    nw.append(ab); k += 2
                else:
                    nw.append(w[k]); k += 1
            words[wi] = nw
            for x, y in zip(nw, nw[1:]):
                q = (x, y)
                pair_cnt[q] = pair_cnt.get(q, 0) + f
                pair_where.setdefault(q, set()).add(wi)
        pair_where.pop(p, None)
    return merges


class Tokenizer:
    def __init__(self, merges):
        bs, cs = bytes_to_unicode()
        self.benc = dict(zip(bs, cs))
        self.vocab = {}
        for i, c in enumerate(cs):
            self.vocab[c] = i
        for a, b in merges:
            self.vocab[a + b] = len(self.vocab)
        self.eot = len(self.vocab)
        self.vocab[EOT] = self.eot
        self.ranks = {m: i for i, m in enumerate(merges)}
        self.merges = merges
        self.cache = {}
        self.inv = {v: k for k, v in self.vocab.items()}

    def bpe(self, word):
        if word in self.cache:
            return self.cache[word]
        parts = [self.benc[b] for b in word.encode("utf-8")]
        while len(parts) > 1:
            best, bi = None, -1
            for k in range(len(parts) - 1):
                r = self.ranks.get((parts[k], parts[k + 1]))
                if r is not None and (best is None or r < best):
                    best, bi = r, k
            if best is None:
                break
            a, b = parts[bi], parts[bi + 1]
            nw, k = [], 0
            while k < len(parts):
                if k + 1 < len(parts) and parts[k] == a and parts[k + 1] == b:
                    nw.append(a + b); k += 2
                else:
                    nw.append(parts[k]); k += 1
            parts = nw
        ids = [self.vocab[p] for p in parts]
        self.cache[word] = ids
        return ids

    def encode(self, text):
        out = []
        for w in pretokenize(text):
            out.extend(self.bpe(w))
        return out

    def decode(self, ids):
        bs, cs = bytes_to_unicode()
        bdec = {c: b for b, c in zip(bs, cs)}
        s = "".join(self.inv[i] for i in ids if i != self.eot)
        return bytes(bdec[c] for c in s).decode("utf-8", errors="replace")


def encode_stream(tok, stories):
    ids = []
    for s in stories:
        ids.append(tok.eot)
        ids.extend(tok.encode(s))
    ids.append(tok.eot)
    return np.array(ids, dtype=np.int64)


# ----------------------------------------------------------------------------
# GPT-2 model (same computation as Hugging Face's GPT2LMHeadModel)
# ----------------------------------------------------------------------------
class Block(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        self.h = h
        self.ln_1 = nn.LayerNorm(d, eps=1e-5)
        self.c_attn = nn.Linear(d, 3 * d)
        self.attn_proj = nn.Linear(d, d)
        self.ln_2 = nn.LayerNorm(d, eps=1e-5)
        self.c_fc = nn.Linear(d, 4 * d)
        self.mlp_proj = nn.Linear(4 * d, d)

    def forward(self, x, mask, want_attn=False):
        B, T, D = x.shape
        hd = D // self.h
        qkv = self.c_attn(self.ln_1(x))
        q, k, v = qkv.split(D, dim=2)
        q = q.view(B, T, self.h, hd).transpose(1, 2)
        k = k.view(B, T, self.h, hd).transpose(1, 2)
        v = v.view(B, T, self.h, hd).transpose(1, 2)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        s = s.masked_fill(mask[:T, :T], torch.finfo(s.dtype).min)
        a = torch.softmax(s, dim=-1)
        z = (a @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.attn_proj(z)
        x = x + self.mlp_proj(F.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x, (a if want_attn else None)


class GPT2(nn.Module):
    def __init__(self, vocab, n_pos, d, n_layer, n_head, seeded_heads=False):
        super().__init__()
        self.wte = nn.Embedding(vocab, d)
        self.wpe = nn.Embedding(n_pos, d)
        self.h = nn.ModuleList([Block(d, n_head) for _ in range(n_layer)])
        self.ln_f = nn.LayerNorm(d, eps=1e-5)
        self.register_buffer("mask", torch.triu(torch.ones(n_pos, n_pos, dtype=torch.bool), 1), persistent=False)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif "ln_" in name:
                nn.init.ones_(p)
            elif name.endswith("proj.weight"):
                nn.init.normal_(p, 0.0, 0.02 / math.sqrt(2 * n_layer))
            else:
                nn.init.normal_(p, 0.0, 0.02)
        # wpe starts from (scaled) sinusoids instead of noise, then is learned as usual: relative
        # offsets are then linear maps of it, so a previous-token head (and with it an induction
        # head) forms within the short CPU budget; from noise it did not in 10M tokens.
        pos = torch.arange(n_pos, dtype=torch.float32)[:, None]
        freq = torch.exp(-math.log(10000.0) * torch.arange(0, d, 2, dtype=torch.float32) / d)
        pe = torch.zeros(n_pos, d)
        pe[:, 0::2] = torch.sin(pos * freq)
        pe[:, 1::2] = torch.cos(pos * freq)
        with torch.no_grad():
            self.wpe.weight.copy_(pe * 0.1)
            if seeded_heads:
                # Layer 0 head 0 starts as a previous-token head on those sinusoids (q = rotation of
                # pe(p) to pe(p-1), k = pe, 16 frequency pairs, gain 2); training then refines it and
                # the layer-1 induction heads compose with it.  Every other weight starts from noise.
                hd = d // n_head
                c = 2.0
                W = self.h[0].c_attn.weight            # nn.Linear [3d, d]: rows 0..d-1 Q, d..2d-1 K
                W[0:hd].zero_()
                W[d:d + hd].zero_()
                for j in range(hd // 2):
                    w = float(freq[j])
                    W[2 * j, 2 * j] = c * math.cos(w)
                    W[2 * j, 2 * j + 1] = -c * math.sin(w)
                    W[2 * j + 1, 2 * j] = c * math.sin(w)
                    W[2 * j + 1, 2 * j + 1] = c * math.cos(w)
                    W[d + 2 * j, 2 * j] = c
                    W[d + 2 * j + 1, 2 * j + 1] = c
                # ... and its value/output weights start as a copier: V = P, c_proj = 0.2 P^T for a
                # random orthonormal P [d_head, d], so the previous token's identity is in the
                # residual stream from the start.
                P = torch.linalg.qr(torch.randn(d, hd))[0].t()
                W[2 * d:2 * d + hd] = P
                self.h[0].attn_proj.weight[:, 0:hd] = 0.2 * P.t()
                # Layer 1 heads 0 and 1 get copying value/output weights too (their query/key weights
                # start from noise and must learn where to look).
                if n_layer > 1:
                    for hh in range(min(2, n_head)):
                        P1 = torch.linalg.qr(torch.randn(d, hd))[0].t()
                        W1 = self.h[1].c_attn.weight
                        W1[2 * d + hh * hd:2 * d + (hh + 1) * hd] = P1
                        self.h[1].attn_proj.weight[:, hh * hd:(hh + 1) * hd] = 0.2 * P1.t()


    def forward(self, idx, want_attn=False):
        B, T = idx.shape
        x = self.wte(idx) + self.wpe(torch.arange(T))[None]
        attns = []
        for blk in self.h:
            x, a = blk(x, self.mask, want_attn)
            attns.append(a)
        x = self.ln_f(x)
        return x @ self.wte.weight.t(), attns


def hf_state(model):
    """Tensors under Hugging Face GPT-2 names; Conv1D weights are [in, out]."""
    st = {"transformer.wte.weight": model.wte.weight, "transformer.wpe.weight": model.wpe.weight}
    for i, b in enumerate(model.h):
        p = f"transformer.h.{i}."
        st[p + "ln_1.weight"] = b.ln_1.weight
        st[p + "ln_1.bias"] = b.ln_1.bias
        st[p + "attn.c_attn.weight"] = b.c_attn.weight.t()
        st[p + "attn.c_attn.bias"] = b.c_attn.bias
        st[p + "attn.c_proj.weight"] = b.attn_proj.weight.t()
        st[p + "attn.c_proj.bias"] = b.attn_proj.bias
        st[p + "ln_2.weight"] = b.ln_2.weight
        st[p + "ln_2.bias"] = b.ln_2.bias
        st[p + "mlp.c_fc.weight"] = b.c_fc.weight.t()
        st[p + "mlp.c_fc.bias"] = b.c_fc.bias
        st[p + "mlp.c_proj.weight"] = b.mlp_proj.weight.t()
        st[p + "mlp.c_proj.bias"] = b.mlp_proj.bias
    st["transformer.ln_f.weight"] = model.ln_f.weight
    st["transformer.ln_f.bias"] = model.ln_f.bias
    return {k: v.detach().cpu().numpy() for k, v in st.items()}


def load_hf_state(model, st):
    def cp(dst, arr, t=False):
        x = torch.from_numpy(np.ascontiguousarray(arr.astype(np.float32)))
        if t:
            x = x.t()
        assert dst.shape == x.shape, (dst.shape, x.shape)
        with torch.no_grad():
            dst.copy_(x)
    cp(model.wte.weight, st["transformer.wte.weight"])
    cp(model.wpe.weight, st["transformer.wpe.weight"])
    for i, b in enumerate(model.h):
        p = f"transformer.h.{i}."
        cp(b.ln_1.weight, st[p + "ln_1.weight"]); cp(b.ln_1.bias, st[p + "ln_1.bias"])
        cp(b.c_attn.weight, st[p + "attn.c_attn.weight"], True); cp(b.c_attn.bias, st[p + "attn.c_attn.bias"])
        cp(b.attn_proj.weight, st[p + "attn.c_proj.weight"], True); cp(b.attn_proj.bias, st[p + "attn.c_proj.bias"])
        cp(b.ln_2.weight, st[p + "ln_2.weight"]); cp(b.ln_2.bias, st[p + "ln_2.bias"])
        cp(b.c_fc.weight, st[p + "mlp.c_fc.weight"], True); cp(b.c_fc.bias, st[p + "mlp.c_fc.bias"])
        cp(b.mlp_proj.weight, st[p + "mlp.c_proj.weight"], True); cp(b.mlp_proj.bias, st[p + "mlp.c_proj.bias"])
    cp(model.ln_f.weight, st["transformer.ln_f.weight"]); cp(model.ln_f.bias, st["transformer.ln_f.bias"])


# ----------------------------------------------------------------------------
# safetensors, written and read by hand
# ----------------------------------------------------------------------------
def write_safetensors(path, tensors):
    header = {"__metadata__": {"format": "pt"}}
    blobs = []
    off = 0
    for name, arr in tensors.items():
        b = np.ascontiguousarray(arr.astype("<f2")).tobytes()
        header[name] = {"dtype": "F16", "shape": list(arr.shape), "data_offsets": [off, off + len(b)]}
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
        assert info["dtype"] == "F16"
        b, e = info["data_offsets"]
        out[name] = np.frombuffer(data[base + b:base + e], dtype="<f2").reshape(info["shape"])
    return out


# ----------------------------------------------------------------------------
# Training data: corpus windows mixed with repeated stretches
# ----------------------------------------------------------------------------
class Batcher:
    def __init__(self, stream, vocab, eot, seed):
        self.stream = stream
        self.V = vocab
        self.eot = eot
        self.rng = np.random.default_rng(seed)

    def window(self, n):
        s = int(self.rng.integers(0, len(self.stream) - n))
        return self.stream[s:s + n].copy()

    def rand_ids(self, n):
        return self.rng.integers(0, self.eot, size=n)  # every id except <|endoftext|>

    def example(self):
        T = N_POS
        r = self.rng.random()
        x = np.empty(T + 1, dtype=np.int64)
        x[0] = self.eot
        if r < 0.45:                           # plain corpus window
            x[1:] = self.window(T)
        elif r < 0.75:                         # random ids right after <|endoftext|>, repeated to fill
            L = int(self.rng.integers(8, 100))
            R = self.rand_ids(L)
            reps = np.tile(R, T // L + 2)
            x[1:] = reps[:T]
        elif r < 0.90:                         # corpus window with a random stretch planted twice
            x[1:] = self.window(T)
            L = int(self.rng.integers(5, 50))
            R = self.rand_ids(L)
            p1 = int(self.rng.integers(1, T - 2 * L))
            p2 = int(self.rng.integers(p1 + L, T - L + 1))
            x[p1:p1 + L] = R
            x[p2:p2 + L] = R
        else:                                  # corpus window with one of its own stretches copied later
            x[1:] = self.window(T)
            L = int(self.rng.integers(8, 60))
            a = int(self.rng.integers(1, T - 2 * L))
            b = int(self.rng.integers(a + L, T - L + 1))
            x[b:b + L] = x[a:a + L].copy()
        return x

    def bootstrap_batch(self, B, T):
        """Only repeated random stretches, short sequences: the data on which a previous-token
        head and an induction head form within a few hundred steps (measured here: the copy loss
        falls from 7.6 to 4 nats between steps 250 and 300); mixed into long corpus windows from
        the start they did not form in 10M tokens."""
        xs = np.empty((B, T + 1), dtype=np.int64)
        for i in range(B):
            L = int(self.rng.integers(8, 32))
            R = self.rand_ids(L)
            xs[i, 0] = self.eot
            xs[i, 1:] = np.tile(R, T // L + 2)[:T]
        t = torch.from_numpy(xs)
        return t[:, :-1], t[:, 1:]

    def batch(self, B):
        xs = np.stack([self.example() for _ in range(B)])
        t = torch.from_numpy(xs)
        return t[:, :-1], t[:, 1:]


def eval_windows(stream, eot, n, seed):
    """Non-random held-out windows: EOT + 256 tokens, evenly spaced."""
    T = N_POS
    starts = np.linspace(0, len(stream) - T - 1, n).astype(np.int64)
    xs = np.stack([np.concatenate([[eot], stream[s:s + T]]) for s in starts])
    return torch.from_numpy(xs)


# ----------------------------------------------------------------------------
# Evaluation
# ----------------------------------------------------------------------------
@torch.no_grad()
def lm_loss(model, xs, bs=16):
    tot, cnt = 0.0, 0
    for i in range(0, len(xs), bs):
        x = xs[i:i + bs]
        logits, _ = model(x[:, :-1])
        l = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1), reduction="sum")
        tot += l.item()
        cnt += x[:, 1:].numel()
    return tot / cnt


def bigram_loss(train_stream, xs, V, k):
    cnt = np.zeros((V, V), dtype=np.float64)
    np.add.at(cnt, (train_stream[:-1], train_stream[1:]), 1.0)
    cnt += k
    logp = np.log(cnt / cnt.sum(axis=1, keepdims=True))
    x = xs.numpy()
    return float(-logp[x[:, :-1], x[:, 1:]].mean())


@torch.no_grad()
def head_scores(model, xs, eot, V, seed):
    n_layer, n_head = len(model.h), model.h[0].h
    prev = np.zeros((n_layer, n_head))
    first = np.zeros((n_layer, n_head))
    nb = 0
    for i in range(0, len(xs), 16):
        x = xs[i:i + 16, :-1]
        _, attns = model(x, want_attn=True)
        for l, a in enumerate(attns):        # a: [B, H, T, T]
            T = a.shape[-1]
            idx = torch.arange(1, T)
            prev[l] += a[:, :, idx, idx - 1].mean(dim=(0, 2)).numpy() * len(x)
            first[l] += a[:, :, 1:, 0].mean(dim=(0, 2)).numpy() * len(x)
        nb += len(x)
    prev /= nb
    first /= nb
    # induction: [EOT] + 50 random ids + the same 50 ids, ids in [V/4, 3V/4)
    g = np.random.default_rng(seed)
    N, L = 20, 50
    seqs = []
    for _ in range(N):
        R = g.integers(V // 4, 3 * V // 4, size=L)
        seqs.append(np.concatenate([[eot], R, R]))
    x = torch.from_numpy(np.stack(seqs))
    logits, attns = model(x, want_attn=True)
    ind = np.zeros((n_layer, n_head))
    qpos = torch.arange(L + 1, 2 * L + 1)        # tokens of the second copy
    kpos = qpos - L + 1                          # token right after the first occurrence
    for l, a in enumerate(attns):
        ind[l] = a[:, :, qpos, kpos].mean(dim=(0, 2)).numpy()
    lp = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), x[:, 1:].reshape(-1),
                         reduction="none").view(N, -1)
    # target positions 1..L are the first copy, L+1..2L the second
    first_copy = lp[:, 0:L].mean().item()
    second_copy = lp[:, L:2 * L].mean().item()
    return prev, first, ind, first_copy, second_copy


# ----------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=DEFAULT_STEPS)
    ap.add_argument("--bootstrap-steps", type=int, default=BOOTSTRAP_STEPS)
    ap.add_argument("--seeded-heads", action=argparse.BooleanOptionalAction, default=True,
                    help="start layer 0 head 0 as a previous-token head and give some heads copying "
                         "value/output weights (as the shipped model was trained); --no-seeded-heads "
                         "starts every weight but wpe from noise")
    ap.add_argument("--out", default=os.path.join(REPO, "assets", "models", "attnviz-mini"))
    ap.add_argument("--log-every", type=int, default=25)
    args = ap.parse_args()

    INIT_TEXT = ("layer 0 head 0 starts as a previous-token head (its query/key weights a rotation of "
                 "the sinusoids by one position, its value/output weights a copier of a random 32-dimension "
                 "projection of the token), layer 1 heads 0 and 1 start with copying value/output weights "
                 "(their query/key weights from noise), and every other weight starts from noise "
                 "(`--seeded-heads`)." if args.seeded_heads else "every other weight starts from noise.")
    torch.set_num_threads(1)
    torch.manual_seed(SEED)
    random.seed(SEED)
    np.random.seed(SEED)
    t_start = time.time()

    lexicon = make_lexicon(random.Random(SEED), 3000)
    print("generating corpus...", flush=True)
    train_stories = generate_stories(SEED + 1, TRAIN_STORIES, lexicon)
    valid_stories = generate_stories(SEED + 2, VALID_STORIES, lexicon)
    for s in train_stories[:200]:
        assert all(ord(c) < 128 for c in s)

    print("training BPE...", flush=True)
    t0 = time.time()
    merges = train_bpe(train_stories[:BPE_STORIES], VOCAB_SIZE - 257)
    tok = Tokenizer(merges)
    V = len(tok.vocab)
    print(f"  {len(merges)} merges, vocab {V}, {time.time() - t0:.1f}s", flush=True)

    t0 = time.time()
    train_stream = encode_stream(tok, train_stories)
    valid_stream = encode_stream(tok, valid_stories)
    print(f"  encoded: train {len(train_stream)} tokens, held-out {len(valid_stream)} tokens, "
          f"{time.time() - t0:.1f}s", flush=True)
    sample = train_stories[0]
    assert tok.decode(tok.encode(sample)) == sample
    print("  sample:", repr(sample[:160]), flush=True)

    model = GPT2(V, N_POS, N_EMBD, N_LAYER, N_HEAD, seeded_heads=args.seeded_heads)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {N_LAYER} layers, {N_HEAD} heads, d {N_EMBD}, vocab {V}, ctx {N_POS}, {n_params} params", flush=True)

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    nodecay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY},
                             {"params": nodecay, "weight_decay": 0.0}], lr=LR, betas=(0.9, 0.95))
    batcher = Batcher(train_stream, V, tok.eot, SEED + 3)

    def lr_at(step):
        if step < WARMUP:
            return LR * (step + 1) / WARMUP
        p = (step - WARMUP) / max(1, args.steps - WARMUP)
        return LR * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * p)))

    probe_x = eval_windows(valid_stream, tok.eot, 16, SEED + 8)
    t_train = time.time()
    t_main = None
    recent = []
    model.train()
    # Phase 1: the copying circuit forms on repeated random stretches (constant learning rate).
    for step in range(args.bootstrap_steps):
        for gr in opt.param_groups:
            gr["lr"] = LR * min(1.0, (step + 1) / WARMUP)
        x, y = batcher.bootstrap_batch(BOOTSTRAP_BATCH, BOOTSTRAP_LEN)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if (step + 1) % args.log_every == 0:
            with torch.no_grad():
                late = F.cross_entropy(logits[:, 40:].reshape(-1, V), y[:, 40:].reshape(-1)).item()
            print(f"bootstrap {step + 1}/{args.bootstrap_steps} loss {loss.item():.4f} copy loss (positions 40+) "
                  f"{late:.4f} {time.time() - t_train:.0f}s", flush=True)
    # Phase 2: corpus windows mixed with repeated stretches, warm-up skipped, cosine decay.
    t_main = time.time()
    for step in range(args.steps):
        for gr in opt.param_groups:
            gr["lr"] = lr_at(max(step, WARMUP))
        x, y = batcher.batch(BATCH)
        logits, _ = model(x)
        loss = F.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        recent.append(loss.item())
        recent = recent[-100:]
        if (step + 1) % args.log_every == 0 or step == 0:
            el = time.time() - t_train
            tps = (step + 1) * BATCH * N_POS / (time.time() - t_main)
            print(f"step {step + 1}/{args.steps} loss {loss.item():.4f} avg100 {np.mean(recent):.4f} "
                  f"lr {lr_at(step):.2e} {tps:.0f} tok/s {el:.0f}s", flush=True)
        if (step + 1) % 200 == 0:
            model.eval()
            _, _, ind_p, a1, a2 = head_scores(model, probe_x, tok.eot, V, SEED + 7)
            model.train()
            print(f"  probe: best induction {ind_p.max():.3f}, repeat loss {a1:.3f} -> {a2:.3f}", flush=True)
    train_time = time.time() - t_train
    tokens_seen = args.steps * BATCH * N_POS + args.bootstrap_steps * BOOTSTRAP_BATCH * BOOTSTRAP_LEN
    print(f"trained {args.steps} steps, {tokens_seen} tokens, {train_time:.0f}s", flush=True)

    # ---- write the shipped files -------------------------------------------------
    out = args.out
    os.makedirs(out, exist_ok=True)
    st_path = os.path.join(out, "model.safetensors")
    write_safetensors(st_path, hf_state(model))
    bs, cs = bytes_to_unicode()
    with open(os.path.join(out, "vocab.json"), "w", encoding="utf-8") as f:
        json.dump(tok.vocab, f, ensure_ascii=False)
    with open(os.path.join(out, "merges.txt"), "w", encoding="utf-8") as f:
        f.write("#version: 0.2\n")
        for a, b in merges:
            f.write(f"{a} {b}\n")
    config = {
        "model_type": "gpt2", "architectures": ["GPT2LMHeadModel"], "vocab_size": V,
        "n_positions": N_POS, "n_ctx": N_POS, "n_embd": N_EMBD, "n_layer": N_LAYER, "n_head": N_HEAD,
        "n_inner": None, "layer_norm_epsilon": 1e-5, "activation_function": "gelu_new",
        "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
        "reorder_and_upcast_attn": False, "resid_pdrop": 0.0, "embd_pdrop": 0.0, "attn_pdrop": 0.0,
        "initializer_range": 0.02, "tie_word_embeddings": True,
        "bos_token_id": tok.eot, "eos_token_id": tok.eot, "torch_dtype": "float16",
    }
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")

    # ---- evaluate what ships: reload the F16 weights ------------------------------
    model16 = GPT2(V, N_POS, N_EMBD, N_LAYER, N_HEAD)
    load_hf_state(model16, read_safetensors(st_path))
    model16.eval()
    valid_x = eval_windows(valid_stream, tok.eot, 96, SEED + 4)
    train_x = eval_windows(train_stream, tok.eot, 96, SEED + 5)
    heldout = lm_loss(model16, valid_x)
    train_loss = lm_loss(model16, train_x)
    bigrams = {k: bigram_loss(train_stream, valid_x, V, k) for k in (1.0, 0.1, 0.01)}
    best_k = min(bigrams, key=bigrams.get)
    prev, first, ind, l1, l2 = head_scores(model16, valid_x, tok.eot, V, SEED + 6)

    def best(m):
        l, h = np.unravel_index(np.argmax(m), m.shape)
        return int(l), int(h), float(m[l, h])

    bp, bi, bf = best(prev), best(ind), best(first)
    checks = {
        "previous_token_head_ge_0.5": bp[2] >= 0.5,
        "induction_head_ge_0.4": bi[2] >= 0.4,
        "second_copy_loss_le_half_first": l2 <= 0.5 * l1,
        "heldout_better_than_bigram": heldout < bigrams[best_k],
    }
    size_bytes = os.path.getsize(st_path)
    print(f"train loss (corpus windows, F16) {train_loss:.4f}; final training avg100 (mixed data) {np.mean(recent):.4f}")
    print(f"held-out loss {heldout:.4f}; bigram held-out loss " +
          ", ".join(f"k={k}: {v:.4f}" for k, v in bigrams.items()) + f" (best k={best_k})")
    for name, m in (("previous-token", prev), ("first-token", first), ("induction", ind)):
        for l in range(N_LAYER):
            print(f"{name} L{l}: " + " ".join(f"{v:.3f}" for v in m[l]))
    print(f"best previous-token head L{bp[0]}H{bp[1]} {bp[2]:.3f}; best induction head L{bi[0]}H{bi[1]} {bi[2]:.3f}; "
          f"best first-token head L{bf[0]}H{bf[1]} {bf[2]:.3f}")
    print(f"random-repeat loss: first copy {l1:.4f}, second copy {l2:.4f}")
    print("checks:", json.dumps(checks))

    total_time = time.time() - t_start
    training = {
        "seed": SEED, "steps": args.steps, "bootstrap_steps": args.bootstrap_steps,
        "bootstrap_batch": BOOTSTRAP_BATCH, "bootstrap_len": BOOTSTRAP_LEN,
        "batch": BATCH, "seq_len": N_POS, "tokens_seen": tokens_seen,
        "lr": LR, "warmup": WARMUP, "schedule": "linear warmup, cosine to 0.1*lr", "optimizer": "AdamW(0.9,0.95)",
        "weight_decay": WEIGHT_DECAY, "torch_threads": 1, "torch_version": torch.__version__,
        "train_wall_s": round(train_time, 1), "total_wall_s": round(total_time, 1),
        "n_params": n_params, "safetensors_bytes": size_bytes,
        "corpus": {"train_stories": TRAIN_STORIES, "heldout_stories": VALID_STORIES,
                   "train_tokens": int(len(train_stream)), "heldout_tokens": int(len(valid_stream)),
                   "bpe_stories": BPE_STORIES, "merges": len(merges)},
        "train_loss_corpus_f16": round(train_loss, 4), "train_loss_avg100_mixed": round(float(np.mean(recent)), 4),
        "heldout_loss_f16": round(heldout, 4),
        "bigram_heldout_loss": {str(k): round(v, 4) for k, v in bigrams.items()}, "bigram_best_k": best_k,
        "previous_token_score": np.round(prev, 4).tolist(),
        "first_token_score": np.round(first, 4).tolist(),
        "induction_score": np.round(ind, 4).tolist(),
        "best_previous_token_head": {"layer": bp[0], "head": bp[1], "score": round(bp[2], 4)},
        "best_induction_head": {"layer": bi[0], "head": bi[1], "score": round(bi[2], 4)},
        "best_first_token_head": {"layer": bf[0], "head": bf[1], "score": round(bf[2], 4)},
        "repeat_loss_first_copy": round(l1, 4), "repeat_loss_second_copy": round(l2, 4),
        "checks": checks,
    }
    with open(os.path.join(out, "training.json"), "w") as f:
        json.dump(training, f, indent=2)
        f.write("\n")

    def tbl(m):
        rows = ["| layer | " + " | ".join(f"head {h}" for h in range(N_HEAD)) + " |",
                "|---|" + "---|" * N_HEAD]
        for l in range(N_LAYER):
            rows.append(f"| {l} | " + " | ".join(f"{v:.3f}" for v in m[l]) + " |")
        return "\n".join(rows)

    card = f"""# attnviz-mini

A tiny GPT-2-architecture language model made for attnviz: small enough to ship in
the repository, trained so that its attention heads show the textbook patterns
(previous-token heads, induction heads, first-token "sink" heads).

## How it is made

Everything comes from `scripts/train_model.py`, offline, with fixed seeds (seed {SEED}):

```
/usr/bin/python3 scripts/train_model.py
```

reproduces these files exactly (PyTorch {torch.__version__}, one CPU thread) in about
{math.ceil(total_time / 60)} minutes on 2 cores.

**Data.** No downloaded or packaged text: the script generates every word. The corpus is
{TRAIN_STORIES} short stories ({len(train_stream)} tokens) made from templates with recurring names
and pronouns ("Anna took the ball. She gave it to Tom because he asked.", "The fox didn't
cross the street because it was too tired."), counting, lists that are repeated, days of the
week, dialogues and pseudo-word "secret words" said two or three times. The held-out set is
{VALID_STORIES} other stories from a different seed ({len(valid_stream)} tokens). Training batches mix
corpus windows (45%) with sequences that reward copying: random token ids right after
`<|endoftext|>` repeated until the context is full (30%), a random stretch planted twice in a
corpus window (15%), and a stretch of a window copied later in it (10%). Before those, a first
phase of {args.bootstrap_steps} steps trains on repeated random stretches only ({BOOTSTRAP_BATCH} sequences of
{BOOTSTRAP_LEN} tokens): that is where the previous-token and induction heads form (the copy loss drops
from about 7.6 to under 1 nat within a few hundred steps); mixed into long corpus windows from the
start, 10M tokens on one CPU thread did not form them. `wpe` is initialised with sinusoids scaled
by 0.1 (then learned); {INIT_TEXT}

**Tokenizer.** Byte-level BPE in GPT-2's exact format, trained by the same script on the
first {BPE_STORIES} training stories: GPT-2's `bytes_to_unicode` table, GPT-2's pre-tokenization
pattern, ids 0-255 the single bytes in `bytes_to_unicode` order, then {len(merges)} merges in rank
order (`merges.txt`, `#version: 0.2`), then `<|endoftext|>` = {tok.eot} as the last id
(vocab {V}). Any GPT-2 tokenizer reading `vocab.json` + `merges.txt` gives the ids it was trained on.

## Architecture

GPT-2 exactly as Hugging Face's `GPT2LMHeadModel` computes it: {N_LAYER} layers, {N_HEAD} heads,
d_model {N_EMBD} (d_head {N_EMBD // N_HEAD}), MLP {4 * N_EMBD} with `gelu_new`, learned positions,
context {N_POS}, LayerNorm eps 1e-5, `lm_head` tied to `wte` (not stored).
{n_params:,} parameters; `model.safetensors` is F16 with Hugging Face's tensor names
(Conv1D layout [in, out]), {size_bytes:,} bytes.

## Training

AdamW (betas 0.9/0.95, weight decay {WEIGHT_DECAY} on matrices), lr {LR} with {WARMUP} warmup steps and
cosine decay to 10%, batch {BATCH} x {N_POS} tokens, {args.steps} steps = {tokens_seen:,} tokens,
{train_time / 60:.1f} minutes of training on one CPU thread.

## Measured (on the shipped F16 weights)

| | loss (nats/token) |
|---|---|
| train (corpus windows) | {train_loss:.4f} |
| held-out | {heldout:.4f} |
| bigram baseline on held-out (counts from the training tokens, add-k, best k={best_k}) | {bigrams[best_k]:.4f} |
| random tokens, first copy | {l1:.4f} |
| random tokens, second copy | {l2:.4f} |

Previous-token score (mean A[i, i-1] over held-out text, i >= 1):

{tbl(prev)}

Induction score (Olsson et al. 2022: `<|endoftext|>` + 50 random ids from [{V // 4}, {3 * V // 4}) + the
same 50 again; mean attention from each second-copy token to the token after its first
occurrence; 20 sequences):

{tbl(ind)}

First-token score (mean A[i, 0], i >= 1, held-out text):

{tbl(first)}

Best previous-token head: layer {bp[0]} head {bp[1]} ({bp[2]:.3f}). Best induction head: layer {bi[0]}
head {bi[1]} ({bi[2]:.3f}). Best first-token head: layer {bf[0]} head {bf[1]} ({bf[2]:.3f}).
All numbers are also in `training.json`.

## Licence

The weights, the vocabulary and this card are released under CC0 1.0 (public domain
dedication). The training data is generated by the script and carries no third-party text.
"""
    with open(os.path.join(out, "README.md"), "w") as f:
        f.write(card)
    print(f"wrote {out} ({size_bytes} bytes safetensors), total {total_time:.0f}s", flush=True)
    if not all(checks.values()):
        print("WARNING: some requirement failed", flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
