#!/usr/bin/python3
"""Malformed tokenizer.json / tokenizer_config.json files: `attnviz tokenize` exits non-zero with
one line on stderr, "attnviz tokenize: FOLDER/tokenizer.json: what is wrong", for each row below.

  tokenizer_bad_files_test.py ATTNVIZ WORKDIR
"""

import copy
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tokenizer_reference_test as ref  # noqa: E402 (the small tokenizers written there)


def main():
    binary, work = sys.argv[1:]
    smollm, qwen2 = ref.byteLevelTokenizers()
    tiny, meta = ref.sentencePieceTokenizers()

    def edit(base, change):
        t = copy.deepcopy(base)
        change(t)
        return t

    def dropVocab(t, token):
        del t["model"]["vocab"][token]

    rows = [
        ("unknown model type", edit(tiny, lambda t: t["model"].update(type="Unigram")), None,
         "tokenizer.json: tokenizer model \"Unigram\" is not supported"),
        ("unknown pre-tokenizer", edit(smollm, lambda t: t["pre_tokenizer"]["pretokenizers"].append({"type": "Whitespace"})), None,
         "tokenizer.json: pre-tokenizer \"Whitespace\" is not supported"),
        ("unknown normalizer", edit(tiny, lambda t: t["normalizer"]["normalizers"].append({"type": "Lowercase"})), None,
         "tokenizer.json: normalizer \"Lowercase\" is not supported"),
        ("unknown post-processor", edit(tiny, lambda t: t.update(post_processor={"type": "Fancy"})), None,
         "tokenizer.json: post-processor \"Fancy\" is not supported"),
        ("merge of an unknown token", edit(tiny, lambda t: t["model"]["merges"].insert(0, "q\u00e9 zz")), None,
         "tokenizer.json: merge 1 \"q\u00e9 zz\": the first token is not in the vocabulary"),
        ("merge whose result is missing", edit(tiny, lambda t: dropVocab(t, "".join(t["model"]["merges"][0].split(" ")))), None,
         "is not in the vocabulary"),
        ("byte_fallback without the byte tokens", edit(tiny, lambda t: dropVocab(t, "<0x41>")), None,
         "tokenizer.json: no token for byte 0x41 (\"<0x41>\"; byte_fallback needs all 256 byte tokens"),
        ("byte-level without a byte", edit(smollm, lambda t: dropVocab(t, "\u0120")), None,
         "tokenizer.json: no token for byte 0x20"),
        ("regex PCRE2 rejects", edit(qwen2, lambda t: t["pre_tokenizer"]["pretokenizers"][0]["pattern"].update(Regex="(unclosed")), None,
         "tokenizer.json: the Split pre-tokenizer's pattern: the pre-tokenizer pattern \"(unclosed\" does not compile"),
        ("unknown Split behavior", edit(qwen2, lambda t: t["pre_tokenizer"]["pretokenizers"][0].update(behavior="Sideways")), None,
         "tokenizer.json: Split behavior \"Sideways\" is not one of"),
        ("merge that is not two tokens", edit(smollm, lambda t: t["model"]["merges"].insert(0, "abc")), None,
         "tokenizer.json: merge 1 \"abc\" is not \"A B\""),
        ("added token without an id", edit(tiny, lambda t: t["added_tokens"].append({"content": "<x>"})), None,
         "tokenizer.json: added token 4 \"<x>\" has no id"),
        ("template naming no ids", edit(tiny, lambda t: t["post_processor"]["special_tokens"].clear()), None,
         "tokenizer.json: the TemplateProcessing special token \"<s>\" has no \"ids\""),
        ("add_bos_token not a boolean", tiny, {"add_bos_token": "yes", "bos_token": "<s>"},
         "tokenizer_config.json: \"add_bos_token\" is not true or false"),
        ("bos_token not in the vocabulary", tiny, {"add_bos_token": True, "bos_token": "<bos>"},
         "tokenizer_config.json: the bos_token \"<bos>\" is not a token of"),
        ("unk_token not in the vocabulary", edit(smollm, lambda t: t["model"].update(unk_token="<nope>")), None,
         "tokenizer.json: the unk_token \"<nope>\" is not in the vocabulary"),
    ]
    failures = 0
    for k, (label, tokenizer, config, expected) in enumerate(rows):
        folder = ref.writeFolder(work, f"bad{k}", tokenizer, config)
        p = subprocess.run([binary, "tokenize", "--model", folder, "--text", "hello"], capture_output=True,
                           text=True, timeout=60)
        err = p.stderr.strip()
        ok = (p.returncode not in (0,) and p.returncode < 128 and "\n" not in err and
              err.startswith("attnviz tokenize: ") and folder in err and expected in err and not p.stdout)
        print(("ok  " if ok else "FAIL"), label, "->", err if ok else f"exit {p.returncode}, stderr {err!r}, "
              f"stdout {p.stdout[:200]!r}, expected {expected!r}")
        failures += not ok
    print(f"{len(rows)} malformed files, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
