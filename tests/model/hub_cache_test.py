#!/usr/bin/python3
"""Models in the Hugging Face cache open by name (issue 25, "Models the cache already holds").

  hub_cache_test.py ATTNVIZ

Writes a cache the way huggingface_hub lays one out (models--ORG--NAME/blobs/ETAG with the
SHA-256 for weights and the git blob hash for small files, snapshots/COMMIT/FILE as relative
links into blobs/, refs/REVISION holding the commit without a newline), filled with the built-in
models' files, and checks that attnviz:
  * finds it through HF_HUB_CACHE, HUGGINGFACE_HUB_CACHE, HF_HOME/hub, XDG_CACHE_HOME/huggingface/hub
    and ~/.cache/huggingface/hub, in that order of precedence;
  * computes exactly what the built-in folder computes (same bytes in every .npy) for
    `--model ORG/NAME`, a bare NAME cached under an organisation, ORG/NAME cached bare,
    `--revision` of a tag and of a commit and NAME@REVISION;
  * lists the cached models in `attnviz models` with family, size, format and commit;
  * refuses in one line (exit 1, nothing on stdout): a revision the cache lacks (naming the
    cached ones), an ambiguous bare name, a model nowhere (naming the cache), pickle-only weights,
    a model_type it does not run; `--revision` without --model is a usage error (exit 2).
"""

import hashlib
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = os.path.join(HERE, "..", "..", "assets", "models")
TEXT = "Anna took the ball because she wanted to play."
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def git_blob_hash(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def add_snapshot(cache, repo_id, source, commit, refs=("main",), extra=None):
    """Copies `source`'s files into the cache as huggingface_hub would have downloaded them."""
    repo = os.path.join(cache, "models--" + repo_id.replace("/", "--"))
    os.makedirs(os.path.join(repo, "blobs"), exist_ok=True)
    snap = os.path.join(repo, "snapshots", commit)
    os.makedirs(snap, exist_ok=True)
    files = {name: open(os.path.join(source, name), "rb").read() for name in os.listdir(source)} if source else {}
    files.update(extra or {})
    for name, data in files.items():
        etag = hashlib.sha256(data).hexdigest() if name.endswith((".safetensors", ".bin")) else git_blob_hash(data)
        blob = os.path.join(repo, "blobs", etag)
        with open(blob, "wb") as f:
            f.write(data)
        link = os.path.join(snap, name)
        os.symlink(os.path.relpath(blob, os.path.dirname(link)), link)
    for ref in refs:
        path = os.path.join(repo, "refs", ref)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(commit)  # no newline, as huggingface_hub writes it
    return snap


def run(attnviz, args, env):
    return subprocess.run([attnviz, *args], capture_output=True, text=True, env=env, timeout=120)


def outputs(folder):
    """Every .npy below `folder` (hidden, logits, and each layer's stages), by relative path."""
    found = {}
    for root, _, names in os.walk(folder):
        for n in names:
            if n.endswith(".npy"):
                path = os.path.join(root, n)
                found[os.path.relpath(path, folder)] = open(path, "rb").read()
    return found


def main():
    attnviz = sys.argv[1]
    os.environ["OMP_NUM_THREADS"] = "1"
    with tempfile.TemporaryDirectory() as tmp:
        base = {k: v for k, v in os.environ.items()
                if k not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "HF_HOME", "XDG_CACHE_HOME")}
        base["HOME"] = os.path.join(tmp, "home")
        cache = os.path.join(tmp, "cache")
        gpt = os.path.join(MODELS, "attnviz-mini")
        bert = os.path.join(MODELS, "attnviz-mini-bert")
        c1, c2 = "1" * 40, "2" * 40
        snap = add_snapshot(cache, "attnviz-test/mini", gpt, c1)
        check(os.readlink(os.path.join(snap, "config.json")).startswith("../../blobs/"),
              "the test's cache links snapshots to ../../blobs/ as huggingface_hub does")
        add_snapshot(cache, "attnviz-test/mini", bert, c2, refs=("v1",))
        add_snapshot(cache, "legacy", gpt, c1)  # an old root model, now ORG/legacy on the Hub
        add_snapshot(cache, "attnviz-test/pickled", None, c1, extra={
            "config.json": open(os.path.join(gpt, "config.json"), "rb").read(), "pytorch_model.bin": b"\x80\x02}q\x00."})
        add_snapshot(cache, "attnviz-test/whisper", None, c1, extra={
            "config.json": b'{"model_type": "whisper"}', "model.safetensors": open(os.path.join(gpt, "model.safetensors"), "rb").read()})
        add_snapshot(cache, "one-org/twin", gpt, c1)
        add_snapshot(cache, "other-org/twin", gpt, c1)
        env = dict(base, HF_HUB_CACHE=cache)

        ref = os.path.join(tmp, "ref")
        p = run(attnviz, ["compute", "--model", "attnviz-mini", "--text", TEXT, "--out", ref], env)
        check(p.returncode == 0, "compute --model attnviz-mini (the reference) runs: " + p.stderr.strip())
        want = outputs(ref)
        p = run(attnviz, ["compute", "--model", "attnviz-mini-bert", "--text", TEXT, "--out", ref + "_bert"], env)
        want_bert = outputs(ref + "_bert")

        def same(args, expect, what, env=env):
            out = os.path.join(tmp, "out_%d" % len(os.listdir(tmp)))
            p = run(attnviz, ["compute", *args, "--text", TEXT, "--out", out], env)
            got = outputs(out) if p.returncode == 0 else {}
            check(p.returncode == 0 and got == expect and len(got) > 3,
                  "%s: the same %d .npy files as the built-in folder (rc %d %s)" % (what, len(got), p.returncode,
                                                                                     p.stderr.strip()[-200:]))

        same(["--model", "attnviz-test/mini"], want, "--model ORG/NAME from HF_HUB_CACHE")
        same(["--model", "mini"], want, "a bare NAME cached as ORG/NAME")
        same(["--model", "attnviz-test/legacy"], want, "ORG/NAME cached as a bare (old root) NAME")
        same(["--model", "attnviz-test/mini", "--revision", "v1"], want_bert, "--revision v1 (a tag's snapshot)")
        same(["--model", "attnviz-test/mini", "--revision", c2], want_bert, "--revision COMMIT")
        same(["--model", "attnviz-test/mini@v1"], want_bert, "NAME@REVISION")

        # Where the cache is: each variable in turn, the earlier ones winning.
        empty = os.path.join(tmp, "empty")
        os.makedirs(empty)
        home_cache = os.path.join(base["HOME"], ".cache", "huggingface")
        os.makedirs(home_cache)
        os.symlink(cache, os.path.join(home_cache, "hub"))
        xdg = os.path.join(tmp, "xdg")
        os.makedirs(os.path.join(xdg, "huggingface"))
        os.symlink(cache, os.path.join(xdg, "huggingface", "hub"))
        hf_home = os.path.join(tmp, "hf_home")
        os.makedirs(hf_home)
        os.symlink(cache, os.path.join(hf_home, "hub"))
        same(["--model", "attnviz-test/mini"], want, "~/.cache/huggingface/hub with no variable set", env=base)
        same(["--model", "attnviz-test/mini"], want, "XDG_CACHE_HOME/huggingface/hub", env=dict(base, XDG_CACHE_HOME=xdg))
        same(["--model", "attnviz-test/mini"], want, "HF_HOME/hub over XDG_CACHE_HOME",
             env=dict(base, XDG_CACHE_HOME=empty, HF_HOME=hf_home))
        same(["--model", "attnviz-test/mini"], want, "HUGGINGFACE_HUB_CACHE over HF_HOME",
             env=dict(base, HF_HOME=empty, HUGGINGFACE_HUB_CACHE=cache))
        same(["--model", "attnviz-test/mini"], want, "HF_HUB_CACHE over HUGGINGFACE_HUB_CACHE",
             env=dict(base, HUGGINGFACE_HUB_CACHE=empty, HF_HUB_CACHE=cache))

        listing = run(attnviz, ["models"], env).stdout.splitlines()
        rows = {l.split("\t")[0]: l for l in listing}
        size = os.path.getsize(os.path.join(gpt, "model.safetensors")) / 1e6
        mini = rows.get("attnviz-test/mini", "")
        check("attnviz-mini" in rows, "`attnviz models` still lists the built-in models")
        check(mini.startswith("attnviz-test/mini\tgpt2 · %.1f MB · safetensors · commit 1111111" % size),
              "`attnviz models` lists attnviz-test/mini with family, size, format and commit: %r" % mini)
        check("pickle only" in rows.get("attnviz-test/pickled", ""), "a pickle-only model is listed as such: %r"
              % rows.get("attnviz-test/pickled"))
        check("not a family attnviz runs" in rows.get("attnviz-test/whisper", ""),
              "an unsupported model_type is listed as such: %r" % rows.get("attnviz-test/whisper"))

        def refused(args, needles, what, code=1):
            p = run(attnviz, args, env)
            line = p.stderr.strip()
            check(p.returncode == code and p.stdout == "" and "\n" not in line and all(n in line for n in needles),
                  "%s: exit %d, one line naming %s (got %d: %r)" % (what, code, needles, p.returncode, line))

        out = os.path.join(tmp, "refused")
        refused(["compute", "--model", "attnviz-test/mini", "--revision", "v9", "--text", TEXT, "--out", out],
                ["v9", "main", "v1"], "a revision the cache lacks")
        refused(["compute", "--model", "twin", "--text", TEXT, "--out", out], ["ambiguous", "one-org/twin", "other-org/twin"],
                "a bare name cached under two organisations")
        refused(["compute", "--model", "nobody/nothing", "--text", TEXT, "--out", out], ["nobody/nothing", cache],
                "a model in no folder, not built in and not cached")
        refused(["compute", "--model", "attnviz-test/pickled", "--text", TEXT, "--out", out], ["pickle", "safetensors"],
                "pickle-only weights")
        refused(["compute", "--model", "attnviz-test/whisper", "--text", TEXT, "--out", out], ["whisper", "gpt2"],
                "a model_type attnviz does not run")
        refused(["compute", "--revision", "v1", "--text", TEXT, "--out", out], ["--revision", "--model"],
                "--revision without --model", code=2)
        check(not os.path.exists(out), "nothing written by the refused commands")
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
