#!/usr/bin/python3
"""attnviz tokenize on Llama-family tokenizer.json files against independent JS tokenizers.

  tokenizer_reference_test.py ATTNVIZ NPM_PREFIX WORKDIR

NPM_PREFIX is where the ctest fixture installed the references (install_references.sh);
WORKDIR (in the build tree) receives the tokenizer folders:
  llama3/   Llama 3's real vocabulary and merges (from llama3-tokenizer-js): byte-level BPE, the
            split regex in a Sequence pre-tokenizer, ignore_merges, merges as pairs, 256 special
            tokens, BOS <|begin_of_text|> from a TemplateProcessing post-processor.
  llama2/   Llama 2's real vocabulary and merges (from llama-tokenizer-js): SentencePiece-style
            BPE with byte_fallback, Prepend("▁") + Replace(" ", "▁"), merges as "a b" strings,
            BOS <s> from tokenizer_config.json's add_bos_token.
  smollm/   small, written here: byte-level, Sequence[Digits(individual), ByteLevel(regex)].
  qwen2/    small, written here: NFC, Sequence[Split(Qwen2's regex), ByteLevel], an lstrip/rstrip
            added token and a normalized (non-special) one.
  sp_tiny/  small, written here: SentencePiece-style with byte fallback (most characters are
            not in its vocabulary).
  sp_meta/  the same vocabulary, the older layout: Metaspace pre-tokenizer (prepend_scheme first).

A few hundred strings go through one `attnviz tokenize --jsonl` per folder (with and without
--no-bos) and one node process; ids must be identical to
  * llama3-tokenizer-js on llama3/ and llama-tokenizer-js on llama2/ (no BOS),
  * @huggingface/tokenizers loading the same tokenizer.json, with and without the BOS.
The first mismatch is printed with its string. Exclusions, each because the JS references
differ from Hugging Face's Rust tokenizers there (not because attnviz would):
  * U+0085, U+FEFF and U+180E: JavaScript's \\s and PCRE2's \\s disagree on them.
  * llama-tokenizer-js does not split added tokens (<s>, </s>, <unk>) out of the text, so strings
    with them are compared with @huggingface/tokenizers only.
  * @huggingface/tokenizers' Digits uses \\d (ASCII digits); tokenizers (Rust) and attnviz split
    every numeric character, so smollm/ is not given strings with non-ASCII digits.
"""

import collections
import json
import os
import random
import re
import shutil
import subprocess
import sys
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
SPM = "\u2581"


def fail(msg):
    print("FAIL", msg, flush=True)
    sys.exit(1)


# ---------------------------------------------------------------- corpus

HAND = [
    "", " ", "  ", "   ", "\n", "\n\n", "\t", " \t \n ", "\r\n", "a\r\nb", "hello", " hello", "hello ",
    "Hello world", "Hello world!", "Hello, world!", " the", "the", "The quick brown fox jumps over the lazy dog.",
    "don't", "DON'T", "I'm", "you're", "we've", "she'll", "he'd", "it's", "IT'S", "John's", "'s", "'S", "'",
    "rock'n'roll", "y'all'd've", "123", "1234567890", " 42", "3.14159", "1,000,000", "-7", "+1e-10", "0x1F",
    "v1.2.3", "2024-01-01T12:00:00Z", "12345678901234567890", "①②③", "٣٤٥", "½", "a  b", "a   b", "a \n b",
    "a\n\nb", "a\t\tb", "line1\nline2\n", "trailing   ", "   leading", " \n", "\u00a0", "a\u00a0b",
    "\u2003em\u2003space", "\u3000ideographic", "a\u2028b", "\x0b\x0c", "\x00", "a\x01b", "\x7f",
    "café", "naïve", "résumé", "Ångström", "São Paulo", "Zürich", "ß", "İstanbul", "e\u0301", "cafe\u0301",
    "n\u0303", "\u0301", "a\u0308\u0304", "Å", "Å", "ﬁ", "日本語", "中文测试", "こんにちは世界", "한국어",
    "漢字 かな カナ", "我是中国人。", "😀", "😀😀", " 😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "❤️", "hello 👋 world",
    "a😀b", "🤖🧠", "Привет мир", "Ελληνικά", "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt", "ქართული",
    "mixed Ελλάδα and English and 日本", "!!!", "...", "?!?!", "---", "<html>", "</div>", "a,b,c", "@#$%^&*",
    "{}[]()", "~`|\\", "foo_bar_baz", "camelCaseName", "https://example.com/path?q=1&r=2", "user@example.com",
    "C:\\Windows\\System32", "#include <stdio.h>", "int main() { return 0; }",
    "def f(x):\n    return x * 2\n", "    def f(x):\n        return x\n", "for (int i = 0; i < n; ++i) {\n\tsum += a[i];\n}",
    "SELECT * FROM users WHERE id = 42;", "x = [1, 2, 3]  # a list", "{\"key\": \"value\", \"n\": 3}",
    "a" * 300, "ab" * 150, "x" + " " * 50 + "y", "\n" * 30, " " * 100, "!" * 80, "😀" * 40, "日" * 60,
    "pneumonoultramicroscopicsilicovolcanoconiosis", "Antidisestablishmentarianism", "▁", "a▁b", "<0x41>",
    "<unk>x", "<s", "s>", "<|", "|>", "<|endoftext", "<think>", "x<mask>y",
]

# Added tokens written into text, per tokenizer (each also checked against the JS reference that
# handles them).
SPECIAL = {
    "llama3": ["<|begin_of_text|>", "<|begin_of_text|>Hello", "a<|eot_id|>b", " <|eot_id|> ",
               "<|start_header_id|>user<|end_header_id|>\n\nHi there<|eot_id|>",
               "<|reserved_special_token_5|><|reserved_special_token_247|>", "<|end_of_text|> x"],
    "llama2": ["<s>", "<s>Hello", "a</s>b", " <s> x", "<unk>", "hi<s>  there</s>", "</s></s>"],
    "smollm": ["<|endoftext|>", "<|im_start|>user\nHi<|im_end|>\n", "x<think>y", " <think> 12"],
    "qwen2": ["<|im_start|>system\nYou are<|im_end|>", "a <mask> b", "a<mask>b", "  <mask>  ", "<think>e\u0301"],
    "sp_tiny": ["<s>", "a<s>b", " </s> the", "<s> <s>"],
    "sp_meta": ["<s>", "a<s>b", " </s> the", "<s> <s>"],
}

FRAGMENTS = [
    "the", " the", "The", " of", " and", "ing", "tion", " cat", "'s", "'t", "'re", "n't", " ", "  ", "   ",
    "\n", "\n\n", "\t", " \t", "1", "12", "345", "2024", "9999", ".", ",", "!", "?", "...", "--", "\"", "'",
    "(", ")", ":", ";", "/", "-", "_", "@", "é", "ü", "ñ", "ç", "Å", "e\u0301", "\u0308", "日本", "語", "中",
    "한", "か", "😀", "🎉", "👍🏽", "Ω", "λ", "Ж", "ш", "ع", "ה", "अ", "\u00a0", "\u3000", "x", "y", "Z",
    "ABC", "abc", "http", "://", "www", ".com", "<", ">", "</", "{", "}", "=", "==", "+", "*", "%", "$",
    "#", "&", "|", "~", "^", "`", "[", "]", "0", "99", "½", "def ", "return", "    ", "\r\n", "ſ", "ﬀ",
]


def corpus():
    rng = random.Random(1602)
    strings = list(HAND)
    for _ in range(220):
        strings.append("".join(rng.choice(FRAGMENTS) for _ in range(rng.randint(1, 14))))
    blocks = [(0x20, 0x7E), (0xA1, 0x17F), (0x370, 0x3FF), (0x400, 0x4FF), (0x4E00, 0x4FFF),
              (0x3040, 0x30FF), (0xAC00, 0xAD00), (0x1F600, 0x1F64F), (0x300, 0x36F), (0x600, 0x6FF)]
    for _ in range(60):
        s = []
        for _ in range(rng.randint(1, 24)):
            lo, hi = rng.choice(blocks)
            c = chr(rng.randint(lo, hi))
            while unicodedata.category(c) == "Cn":  # unassigned: Unicode versions may differ
                c = chr(rng.randint(lo, hi))
            s.append(c)
            if rng.random() < 0.3:
                s.append(" " * rng.randint(1, 3))
        strings.append("".join(s))
    for s in strings:
        assert not any(c in s for c in "\u0085\ufeff\u180e"), repr(s)
        assert all(unicodedata.category(c) != "Cn" for c in s), repr(s)
    return strings


# ---------------------------------------------------------------- small tokenizers written here

TRAINING = """The quick brown fox jumps over the lazy dog. It's the dog's bone, isn't it?
Attention is all you need: queries, keys and values. The model attends to the previous token.
def attention(q, k, v):\n    return softmax(q @ k.T / sqrt(d)) @ v\n
In 2024 there were 365 days and 12 months; 3.14159 is pi. Les élèves étudient à l'école.
The cat sat on the mat. The cats sat on the mats. Induction heads copy the token after the match."""


def gpt2ByteAlphabet():
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def learnMerges(words, count):
    """Plain BPE training: the most frequent adjacent pair (ties: the first seen) becomes a merge."""
    words = collections.Counter(tuple(w) for w in words if w)
    merges = []
    for _ in range(count):
        pairs = collections.Counter()
        for w, n in words.items():
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] += n
        if not pairs:
            break
        (a, b), _ = max(pairs.items(), key=lambda kv: kv[1])
        merges.append((a, b))
        merged = collections.Counter()
        for w, n in words.items():
            out, i = [], 0
            while i < len(w):
                if i + 1 < len(w) and w[i] == a and w[i + 1] == b:
                    out.append(a + b)
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged[tuple(out)] += n
        words = merged
    return merges


def addedToken(id, content, special=True, lstrip=False, rstrip=False, normalized=None):
    return {"id": id, "content": content, "single_word": False, "lstrip": lstrip, "rstrip": rstrip,
            "normalized": (not special) if normalized is None else normalized, "special": special}


def byteLevelTokenizers():
    b2u = gpt2ByteAlphabet()
    words = [[b2u[b] for b in piece.encode("utf-8")] for piece in re.findall(r" ?\w+| ?[^\w\s]+|\s+", TRAINING)]
    merges = learnMerges(words, 300)
    vocab = {"<|endoftext|>": 0, "<|im_start|>": 1, "<|im_end|>": 2}
    for b in range(256):
        vocab[b2u[b]] = len(vocab)
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    n = len(vocab)
    specials = [addedToken(0, "<|endoftext|>"), addedToken(1, "<|im_start|>"), addedToken(2, "<|im_end|>")]
    model = {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False, "vocab": vocab}
    smollm = {"version": "1.0", "added_tokens": specials + [addedToken(n, "<think>", special=False)],
              "normalizer": None,
              "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                  {"type": "Digits", "individual_digits": True},
                  {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True}]},
              "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
              "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
              "model": dict(model, merges=[f"{a} {b}" for a, b in merges])}
    qwen2Pattern = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                    r"|\s*[\r\n]+|\s+(?!\S)|\s+")
    qwen2 = {"version": "1.0",
             "added_tokens": specials + [addedToken(n, "<mask>", lstrip=True, rstrip=True),
                                         addedToken(n + 1, "<think>", special=False)],
             "normalizer": {"type": "NFC"},
             "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                 {"type": "Split", "pattern": {"Regex": qwen2Pattern}, "behavior": "Isolated", "invert": False},
                 {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
             "post_processor": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
             "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
             "model": dict(model, merges=[[a, b] for a, b in merges], ignore_merges=False)}
    return smollm, qwen2


def sentencePieceTokenizers():
    text = SPM + TRAINING.replace("\n", " ").replace(" ", SPM)
    words = [list(w) for w in re.findall(SPM + "[^" + SPM + "]*", text)]
    merges = learnMerges(words, 200)
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for b in range(256):
        vocab[f"<0x{b:02X}>"] = len(vocab)
    # The alphabet: ASCII letters and a few others; everything else falls back to bytes.
    for c in sorted(set(text) - set("\n")) + list("XYZ"):
        vocab.setdefault(c, len(vocab))
    for a, b in merges:
        vocab.setdefault(a + b, len(vocab))
    template = {"type": "TemplateProcessing",
                "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
                "pair": [{"Sequence": {"id": "A", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}}],
                "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}}
    model = {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
             "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": vocab,
             "merges": [f"{a} {b}" for a, b in merges]}
    specials = [addedToken(0, "<unk>"), addedToken(1, "<s>"), addedToken(2, "</s>")]
    tiny = {"version": "1.0", "added_tokens": specials,
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "Prepend", "prepend": SPM}, {"type": "Replace", "pattern": {"String": " "}, "content": SPM}]},
            "pre_tokenizer": None, "post_processor": template,
            "decoder": {"type": "Sequence", "decoders": [
                {"type": "Replace", "pattern": {"String": SPM}, "content": " "}, {"type": "ByteFallback"},
                {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
            "model": model}
    meta = dict(tiny, normalizer=None,
                pre_tokenizer={"type": "Metaspace", "replacement": SPM, "prepend_scheme": "first", "split": False},
                decoder={"type": "Metaspace", "replacement": SPM, "prepend_scheme": "first", "split": False})
    return tiny, meta


def writeFolder(root, name, tokenizer, config=None):
    d = os.path.join(root, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False)
    if config is not None:
        with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
            json.dump(config, f)
    return d


# ---------------------------------------------------------------- running

def run(cmd, what, timeout=120):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        fail(f"{what} exited {p.returncode}: {p.stderr.strip()[-2000:]}")
    return p.stdout


def attnvizIds(binary, folder, path, bos):
    out = run([binary, "tokenize", "--model", folder, "--jsonl", path] + ([] if bos else ["--no-bos"]),
              f"attnviz tokenize --model {folder}")
    return [json.loads(l) for l in out.split("\n") if l.strip()]


class Report:
    def __init__(self):
        self.failures = 0
        self.compared = 0

    def compare(self, label, strings, got, want, keep=lambda s: True):
        mismatches = [(s, g["ids"], w) for s, g, w in zip(strings, got, want) if keep(s) and g["ids"] != w]
        n = sum(1 for s in strings if keep(s))
        self.compared += n
        if len(got) != len(want):
            self.failures += 1
            print(f"FAIL {label}: {len(got)} results for {len(want)} strings")
        elif mismatches:
            self.failures += 1
            s, g, w = mismatches[0]
            print(f"FAIL {label}: {len(mismatches)} of {n} strings differ; first {s!r}: attnviz {g}, reference {w}")
        else:
            print(f"ok   {label}: {n} strings identical")

    def check(self, label, ok, detail=""):
        if ok:
            print(f"ok   {label}")
        else:
            self.failures += 1
            print(f"FAIL {label} {detail}")


def main():
    if len(sys.argv) != 4:
        fail("usage: tokenizer_reference_test.py ATTNVIZ NPM_PREFIX WORKDIR")
    binary, prefix, work = sys.argv[1:]
    node = shutil.which("node")
    if not node:
        fail("node is not installed; the reference tokenizers need it (apt-get install nodejs)")
    for pkg in ("@huggingface/tokenizers", "llama3-tokenizer-js", "llama-tokenizer-js"):
        if not os.path.exists(os.path.join(prefix, "node_modules", pkg, "package.json")):
            fail(f"{pkg} is not installed under {prefix} (the tokenizers_npm fixture installs it with npm; "
                 "is npm installed and the registry reachable?)")
    os.makedirs(work, exist_ok=True)
    script = os.path.join(HERE, "references.mjs")
    # The real vocabularies are rewritten from the installed packages each run (about 8 MB).
    run([node, script, "dump", prefix, work], "node references.mjs dump")
    smollm, qwen2 = byteLevelTokenizers()
    tiny, meta = sentencePieceTokenizers()
    folders = {
        "llama3": os.path.join(work, "llama3"),
        "llama2": os.path.join(work, "llama2"),
        "smollm": writeFolder(work, "smollm", smollm),
        "qwen2": writeFolder(work, "qwen2", qwen2),
        "sp_tiny": writeFolder(work, "sp_tiny", tiny, {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>"}),
        "sp_meta": writeFolder(work, "sp_meta", meta),
    }
    plain = corpus()
    strings = plain + [s for v in SPECIAL.values() for s in v]
    path = os.path.join(work, "strings.jsonl")
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(s, ensure_ascii=False) + "\n" for s in strings)
    refPath = os.path.join(work, "references.json")
    run([node, script, "encode", prefix, path, refPath] + list(folders.values()), "node references.mjs encode", timeout=300)
    with open(refPath, encoding="utf-8") as f:
        ref = json.load(f)

    r = Report()
    ownSpecials = {name: set(v) for name, v in SPECIAL.items()}
    allSpecials = set().union(*ownSpecials.values())
    for name, folder in folders.items():
        raw = attnvizIds(binary, folder, path, bos=False)
        model = attnvizIds(binary, folder, path, bos=True)
        # Each tokenizer sees the plain strings and its own added tokens.
        keep = lambda s, name=name: s in ownSpecials[name] or s not in allSpecials
        if name == "smollm":
            base = keep
            keep = lambda s: base(s) and not any(ord(c) > 127 and unicodedata.category(c).startswith("N") for c in s)
        r.compare(f"{name}: attnviz tokenize --no-bos vs @huggingface/tokenizers", strings, raw, ref["hf"][folder]["raw"], keep)
        r.compare(f"{name}: attnviz tokenize (with BOS) vs @huggingface/tokenizers", strings, model, ref["hf"][folder]["model"], keep)
        if name == "llama3":
            r.compare("llama3: attnviz tokenize --no-bos vs llama3-tokenizer-js", strings, raw, ref["llama3js"], keep)
            r.check("llama3: 'Hello world!' is [128000, 9906, 1917, 0] (llama3-tokenizer-js README)",
                    model[strings.index("Hello world!")]["ids"] == [128000, 9906, 1917, 0], model[strings.index("Hello world!")])
        if name == "llama2":
            noAdded = lambda s: keep(s) and not any(t in s for t in ("<s>", "</s>", "<unk>"))
            r.compare("llama2: attnviz tokenize --no-bos vs llama-tokenizer-js", strings, raw, ref["llama2js"], noAdded)
            hello = model[strings.index("Hello world")]
            r.check("llama2: 'Hello world' shows as <s> ·Hello ·world",
                    hello == {"ids": [1, 15043, 3186], "tokens": ["<s>", "\u00b7Hello", "\u00b7world"]}, hello)
            emoji = raw[strings.index("😀")]
            r.check("llama2: '😀' falls back to four byte tokens shown as \\xNN",
                    emoji == {"ids": [29871, 243, 162, 155, 131], "tokens": ["\u00b7", "\\xF0", "\\x9F", "\\x98", "\\x80"]}, emoji)
            nl = raw[strings.index("a\n\nb")]
            r.check("llama2: newlines are the byte token <0x0A> shown as ↵",
                    nl["tokens"][1:3] == ["\u21b5", "\u21b5"] and nl["ids"][1:3] == [13, 13], nl)
    print(f"{r.compared} comparisons of {len(strings)} strings over {len(folders)} tokenizers, {r.failures} failures")
    return 1 if r.failures else 0


if __name__ == "__main__":
    sys.exit(main())
