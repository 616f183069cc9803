#!/usr/bin/python3
"""WordPiece (BERT's tokenizer) in `attnviz tokenize` against @huggingface/tokenizers, Hugging
Face's JavaScript port of its tokenizers library (installed by the tokenizers_npm fixture).

  wordpiece_test.py ATTNVIZ NPM_PREFIX WORKDIR

A BERT-style vocabulary written here (special tokens, whole words, "##" pieces for every letter
so that most words split, accented letters, CJK ideographs, punctuation) in three folders:
  uncased   tokenizer.json, BertNormalizer lowercase (accents stripped with it)
  cased     tokenizer.json, lowercase false, strip_accents false
  vocabtxt  vocab.txt + tokenizer_config.json (do_lower_case true, strip_accents false): the
            reference reads the tokenizer.json transformers would convert it to
About two hundred texts and pairs: accents, CJK beside Latin, control characters, NUL, zero-width
and replacement characters, punctuation of every Unicode category, symbols, emoji, words over
100 characters, empty texts and empty pair halves, [MASK] written in the text. Ids and token
type ids must be equal exactly; the first differences are printed with their text. One known
difference of the reference: it reads an empty second text as no pair, where the Rust library
(and attnviz) gives [CLS] A [SEP] [SEP]; that case's expectation gets the last [SEP].
"""

import json
import os
import random
import subprocess
import sys

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
WORDS = ["the", "cat", "sat", "on", "mat", "anna", "tom", "gave", "ball", "to", "un", "##able", "play", "##ing",
         "##ed", "café", "cafe", "naïve", "naive", "über", "uber", "ångström", "angstrom", "Anna", "Tom", "The",
         "中", "文", "字", "日", "本", "語", "한", "국"]
PUNCT = list("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~") + ["¿", "¡", "«", "»", "—", "–", "“", "”", "‘", "’", "…", "。", "、",
                                                       "〈", "〉", "‐", "¶", "§", "·"]
LETTERS = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZéèñåïüçøÉÑÅ")


def vocabulary():
    tokens = SPECIALS + WORDS + PUNCT + LETTERS + ["##" + c for c in LETTERS]
    seen, out = set(), []
    for t in tokens:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def tokenizerJson(vocab, lowercase, stripAccents):
    ids = {t: i for i, t in enumerate(vocab)}
    added = [{"id": ids[s], "content": s, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for s in SPECIALS]
    return {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added,
        "normalizer": {"type": "BertNormalizer", "clean_text": True, "handle_chinese_chars": True,
                       "strip_accents": stripAccents, "lowercase": lowercase},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                       {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 1}},
                     {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {s: {"id": s, "ids": [ids[s]], "tokens": [s]} for s in ("[CLS]", "[SEP]")}},
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                  "max_input_chars_per_word": 100, "vocab": ids},
    }


def texts(rng):
    pool = (WORDS * 3 + PUNCT + LETTERS + [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\x00", "\x01", "\x7f", "\u200b",
                                          "\ufffd", "\u00a0", "\u3000", "\u0301", "e\u0301", "😀", "🎉", "ﬁ", "İ",
                                          "Σ", "ß", "[MASK]", "[mask]", "[CLS]", "\u0085", "\u2028", "\x0b", "\x0c"])
    out = ["", " ", "[MASK]", "Anna gave the ball to Tom. [MASK] played.", "Café naïve Ångström über",
           "中文字日本語 mixed with latin", "a" * 101, "a" * 100, "un" + "able" * 30, "x" * 99 + "!",
           "¿Qué? ¡Sí! «quote» — dash – “curly” ‘single’ …", "tab\there\nnewline\r\nnul\x00end"]
    for _ in range(150):
        n = rng.randint(1, 12)
        out.append("".join(rng.choice([" ", ""]) + rng.choice(pool) for _ in range(n)))
    return out


def run(binary, folder, cases):
    """Every case through one `tokenize --jsonl` (a string per text, [A, B] per pair), and the
    first cases without NUL again through --text/--text-pair, which must agree with it."""
    jsonl = os.path.join(folder, "cases.jsonl")
    with open(jsonl, "w") as f:
        for c in cases:
            f.write(json.dumps([c["text"], c["pair"]] if "pair" in c else c["text"]) + "\n")
    lines = subprocess.run([binary, "tokenize", "--model", folder, "--jsonl", jsonl], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    if len(lines) != len(cases):
        raise SystemExit(f"tokenize --jsonl printed {len(lines)} lines for {len(cases)} cases")
    results = [json.loads(line) for line in lines]
    singles = [i for i, c in enumerate(cases) if "\x00" not in c["text"] and "pair" not in c][:8]
    pairs = [i for i, c in enumerate(cases) if "\x00" not in c["text"] + c.get("pair", "") and "pair" in c][:8]
    for i in singles + pairs:
        args = [binary, "tokenize", "--model", folder, "--text", cases[i]["text"]]
        if "pair" in cases[i]:
            args += ["--text-pair", cases[i]["pair"]]
        alone = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
        if alone != results[i]:
            raise SystemExit(f"--text and --jsonl differ for {json.dumps(cases[i], ensure_ascii=False)}: "
                             f"{alone} vs {results[i]}")
    return results


def main():
    binary, prefix, work = sys.argv[1:4]
    rng = random.Random(20261204)
    vocab = vocabulary()
    base = texts(rng)
    cases = [{"text": t} for t in base]
    for i in range(0, len(base) - 1, 3):
        cases.append({"text": base[i].replace("\x00", ""), "pair": base[i + 1].replace("\x00", "")})
    cases.append({"text": "only A", "pair": ""})
    cases.append({"text": "", "pair": "only B"})
    folders = {
        "uncased": (tokenizerJson(vocab, True, None), None),
        "cased": (tokenizerJson(vocab, False, False), None),
        "vocabtxt": (tokenizerJson(vocab, True, False), {"do_lower_case": True, "strip_accents": False}),
    }
    os.makedirs(work, exist_ok=True)
    casesPath = os.path.join(work, "cases.jsonl")
    with open(casesPath, "w") as f:
        for c in cases:
            f.write(json.dumps(c) + "\n")
    failures = 0
    for name, (tj, config) in folders.items():
        folder = os.path.join(work, name)
        ref = os.path.join(work, name + "_reference")
        os.makedirs(folder, exist_ok=True)
        os.makedirs(ref, exist_ok=True)
        with open(os.path.join(ref, "tokenizer.json"), "w") as f:
            json.dump(tj, f)
        for leftover in ("tokenizer.json", "vocab.txt", "tokenizer_config.json"):
            if os.path.exists(os.path.join(folder, leftover)):
                os.remove(os.path.join(folder, leftover))
        if config is None:
            with open(os.path.join(folder, "tokenizer.json"), "w") as f:
                json.dump(tj, f)
        else:
            with open(os.path.join(folder, "vocab.txt"), "w") as f:
                f.write("\n".join(vocab) + "\n")
            with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
                json.dump(config, f)
        out = os.path.join(work, name + ".json")
        subprocess.run(["node", os.path.join(os.path.dirname(os.path.abspath(__file__)), "wordpiece_reference.mjs"),
                        prefix, ref, casesPath, out], check=True)
        expected = json.load(open(out))
        # An empty second text is still a pair in the Rust library ([CLS] A [SEP] [SEP]); the
        # JavaScript port reads "" as no pair, so its answer gets the closing [SEP] of type 1.
        sep = vocab.index("[SEP]")
        for c, e in zip(cases, expected):
            if c.get("pair") == "":
                e["ids"].append(sep)
                e["type_ids"].append(1)
        got = run(binary, folder, cases)
        bad = [(c, e, g) for c, e, g in zip(cases, expected, got)
               if e["ids"] != g["ids"] or e["type_ids"] != g["type_ids"]]
        print(f"{'ok  ' if not bad else 'FAIL'} {name}: {len(cases) - len(bad)}/{len(cases)} texts and pairs equal")
        for c, e, g in bad[:5]:
            print(f"     {json.dumps(c, ensure_ascii=False)}\n       reference {e}\n       attnviz   "
                  f"{ {'ids': g['ids'], 'type_ids': g.get('type_ids')} }")
        failures += len(bad)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
