#!/usr/bin/python3
"""`attnviz fetch` against a fake Hugging Face Hub on 127.0.0.1 (issue 25, "Fetching what it doesn't").

  hub_fetch_test.py ATTNVIZ

The fake Hub speaks the protocol huggingface_hub uses: GET /api/models/REPO/revision/REV (commit
and file list), HEAD/GET /REPO/resolve/COMMIT/FILE with X-Repo-Commit and ETag, large files
redirected (302, X-Linked-Etag = SHA-256, X-Linked-Size) to a second server playing the file host
with a signed query string, Range requests, and X-Error-Code for failures (a missing repository
is a 401, as the real Hub answers anonymous requests). It serves the built-in models' files.

Checked: the cache's layout file by file (blobs named by SHA-256 or git blob hash, relative links,
refs/main without a newline, .no_exist markers); a download cut in the middle fails in one line,
keeps its partial blob and nothing in snapshots/, and resumes with Range; a second fetch downloads
nothing; a corrupted large file is refused and removed; the fetched model computes exactly what
the built-in folder does; pickle-only and unsupported models are refused before any weights are
requested; gated, missing repository and missing revision give one line each; the token goes to
the Hub (from HF_TOKEN or HF_HOME/token, newline stripped) and never to the file host; the signed
URL is used as given; HF_HUB_OFFLINE uses the cache only; on a terminal a progress bar is drawn
(none with HF_HUB_DISABLE_PROGRESS_BARS) and Ctrl-C keeps a partial file that the next fetch
resumes; a full disk (a partial blob linked to /dev/full) is one line and leaves no partial file.
"""

import hashlib
import http.server
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from hub_cache_test import git_blob_hash, outputs  # noqa: E402
MODELS = os.path.join(HERE, "..", "..", "assets", "models")
TEXT = "Anna took the ball because she wanted to play."
SIGNATURE = "X-Amz-Signature=abc123&Expires=99"
TOKEN = "hf_secret_token"
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def folder_files(folder, extra=None):
    files = {n: open(os.path.join(folder, n), "rb").read() for n in os.listdir(folder)} if folder else {}
    files.update(extra or {})
    return files


class Repo:
    def __init__(self, files, commit, gated=False):
        self.files, self.commit, self.gated = files, commit, gated


class State:
    def __init__(self):
        self.repos = {}
        self.log = []  # (server, method, path, authorization, range)
        self.cut_once = set()  # sha256s whose next download stops halfway
        self.corrupt = set()  # sha256s served with a flipped byte
        self.slow = set()  # sha256s served in 16 KiB pieces, 0.2 s apart (the app's cancel test)
        self.file_port = 0


STATE = State()


def is_large(name):
    return name.endswith(".safetensors")


class HubHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, headers=None, body=b""):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, status, code, message=""):
        self.answer(status, {"X-Error-Code": code, "X-Error-Message": message}, message.encode())

    def repo_and_rest(self, parts):
        repo_id = "/".join(parts[:2])
        repo = STATE.repos.get(repo_id)
        auth = self.headers.get("Authorization", "")
        if repo is None:
            self.error(401, "RepoNotFound", "Repository Not Found")
            return None
        if repo.gated and auth != "Bearer " + TOKEN:
            self.error(401, "GatedRepo", "Access to model %s is restricted." % repo_id)
            return None
        return repo

    def handle_any(self):
        url = urllib.parse.urlsplit(self.path)
        STATE.log.append(("hub", self.command, url.path, self.headers.get("Authorization"), self.headers.get("Range")))
        parts = [urllib.parse.unquote(p) for p in url.path.split("/")[1:]]
        if parts[:2] == ["api", "models"] and len(parts) >= 6 and parts[4] == "revision":
            repo = self.repo_and_rest(parts[2:4])
            if repo is None:
                return
            if parts[5] not in ("main", repo.commit):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + parts[5])
            body = json.dumps({"id": "/".join(parts[2:4]), "sha": repo.commit,
                               "siblings": [{"rfilename": n} for n in sorted(repo.files)]}).encode()
            return self.answer(200, {"Content-Type": "application/json"}, body)
        if len(parts) >= 5 and parts[2] == "resolve":
            repo = self.repo_and_rest(parts[:2])
            if repo is None:
                return
            if parts[3] not in ("main", repo.commit):
                return self.error(404, "RevisionNotFound", "Invalid rev id: " + parts[3])
            name = "/".join(parts[4:])
            if name not in repo.files:
                return self.error(404, "EntryNotFound", "Entry not found")
            data = repo.files[name]
            common = {"X-Repo-Commit": repo.commit}
            if is_large(name):
                sha = hashlib.sha256(data).hexdigest()
                location = "http://127.0.0.1:%d/blobs/%s?%s" % (STATE.file_port, sha, SIGNATURE)
                return self.answer(302, dict(common, **{"Location": location, "X-Linked-Etag": '"%s"' % sha,
                                                        "X-Linked-Size": str(len(data)), "ETag": '"%s"' % sha}))
            return self.answer(200, dict(common, ETag='"%s"' % git_blob_hash(data)), data)
        self.answer(404, {}, b"not found")

    do_GET = do_HEAD = handle_any


class FileHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        STATE.log.append(("files", "GET", url.path, self.headers.get("Authorization"), self.headers.get("Range")))
        sha = url.path.rsplit("/", 1)[-1]
        blobs = {hashlib.sha256(d).hexdigest(): d for r in STATE.repos.values() for d in r.files.values()}
        if url.query != SIGNATURE or sha not in blobs:
            self.send_response(403)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = blobs[sha]
        if sha in STATE.corrupt:
            data = data[:100] + bytes([data[100] ^ 1]) + data[101:]
        start = 0
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng.endswith("-"):
            start = int(rng[6:-1])
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if sha in STATE.cut_once:
            STATE.cut_once.discard(sha)
            self.wfile.write(data[start:len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if sha in STATE.slow:
            try:
                for i in range(start, len(data), 16384):
                    self.wfile.write(data[i:i + 16384])
                    self.wfile.flush()
                    time.sleep(0.2)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client cancelled
            return
        self.wfile.write(data[start:])


def run_on_terminal(command, env, interrupt_after=None):
    """Runs COMMAND with standard output on a pseudo-terminal (standard error a pipe); with
    INTERRUPT_AFTER, sends SIGINT once that text has appeared twice. Returns (screen, stderr, code)."""
    import pty
    import select
    import signal
    master, slave = pty.openpty()
    proc = subprocess.Popen(command, stdout=slave, stderr=subprocess.PIPE, env=env)
    os.close(slave)
    screen, sent, deadline = b"", False, time.time() + 60
    while time.time() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break  # the command closed the terminal
            if not chunk:
                break
            screen += chunk
        if interrupt_after and not sent and screen.count(interrupt_after.encode()) >= 2:
            proc.send_signal(signal.SIGINT)
            sent = True
        if proc.poll() is not None and not ready:
            break
    if proc.poll() is None:
        proc.kill()
    code = proc.wait(timeout=30)
    os.close(master)
    return screen.decode("utf-8", "replace"), proc.stderr.read().decode("utf-8", "replace"), code


def serve(handler):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main():
    attnviz = sys.argv[1]
    os.environ["OMP_NUM_THREADS"] = "1"
    hub = serve(HubHandler)
    files_host = serve(FileHandler)
    STATE.file_port = files_host.server_address[1]
    gpt, bert = os.path.join(MODELS, "attnviz-mini"), os.path.join(MODELS, "attnviz-mini-bert")
    mini = folder_files(gpt)
    STATE.repos = {
        "attnviz-test/mini": Repo(mini, "a" * 40),
        "attnviz-test/bert": Repo(folder_files(bert), "b" * 40),
        "attnviz-test/gated": Repo(mini, "c" * 40, gated=True),
        "attnviz-test/pickled": Repo({"config.json": mini["config.json"], "pytorch_model.bin": b"\x80\x02}q\x00."}, "d" * 40),
        "attnviz-test/whisper": Repo({"config.json": b'{"model_type": "whisper"}',
                                      "model.safetensors": mini["model.safetensors"]}, "e" * 40),
    }
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        home = os.path.join(tmp, "home")
        os.makedirs(home)
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
        env = dict(base, HOME=home, HF_HOME=os.path.join(tmp, "hf_home"), HF_HUB_CACHE=cache,
                   HF_ENDPOINT="http://127.0.0.1:%d/" % hub.server_address[1])

        def fetch(repo, extra_env=None, *more):
            return subprocess.run([attnviz, "fetch", repo, *more], capture_output=True, text=True,
                                  env=dict(env, **(extra_env or {})), timeout=120)

        def one_line(p, code, needles, what):
            line = p.stderr.strip()
            check(p.returncode == code and "\n" not in line and all(n in line for n in needles),
                  "%s: exit %d, one line naming %s (got %d: %r)" % (what, code, needles, p.returncode, line))

        repo_dir = os.path.join(cache, "models--attnviz-test--mini")
        commit = "a" * 40
        sha = hashlib.sha256(mini["model.safetensors"]).hexdigest()

        # ---- a download cut halfway: one line, the partial blob kept, nothing in snapshots/ ----
        STATE.cut_once.add(sha)
        p = fetch("attnviz-test/mini")
        one_line(p, 1, ["model.safetensors", "again"], "a download cut halfway")
        partial = os.path.join(repo_dir, "blobs", sha + ".incomplete")
        check(os.path.exists(partial) and 0 < os.path.getsize(partial) < len(mini["model.safetensors"]),
              "the partial blob stays for the resume (%s bytes)" % (os.path.getsize(partial) if os.path.exists(partial) else None))
        check(not os.path.exists(os.path.join(repo_dir, "snapshots", commit, "model.safetensors")),
              "nothing in snapshots/ after the failed download")

        # ---- the resume, then the layout file by file ----------------------------------------
        before = len(STATE.log)
        p = fetch("attnviz-test/mini")
        check(p.returncode == 0, "the second fetch completes: %s" % p.stderr.strip())
        got_range = [e[4] for e in STATE.log[before:] if e[0] == "files"]
        half = len(mini["model.safetensors"]) // 2
        check(got_range == ["bytes=%d-" % half], "it resumes with Range from the partial size (%s)" % got_range)
        check(p.stdout.strip().splitlines()[-1] == os.path.join(repo_dir, "snapshots", commit),
              "fetch prints the snapshot's folder last: %r" % p.stdout.strip().splitlines()[-1:])
        check(p.stdout.startswith("attnviz-test/mini: ") and "MB to download" in p.stdout.splitlines()[0],
              "fetch shows the size before downloading: %r" % p.stdout.splitlines()[:1])
        wanted = {"config.json", "model.safetensors", "vocab.json", "merges.txt", "README.md"}
        check(set(os.listdir(os.path.join(repo_dir, "snapshots", commit))) == wanted,
              "the snapshot holds what attnviz reads and the README, not training.json: %s"
              % sorted(os.listdir(os.path.join(repo_dir, "snapshots", commit))))
        for name, data in mini.items():
            if name not in wanted:
                continue
            etag = hashlib.sha256(data).hexdigest() if is_large(name) else git_blob_hash(data)
            link = os.path.join(repo_dir, "snapshots", commit, name)
            target = os.readlink(link) if os.path.islink(link) else None
            check(target == "../../blobs/" + etag and open(link, "rb").read() == data,
                  "%s: a relative link to blobs/%s… with the file's bytes (got %s)" % (name, etag[:12], target))
        check(open(os.path.join(repo_dir, "refs", "main")).read() == commit, "refs/main holds the commit, no newline")
        check(os.path.isfile(os.path.join(repo_dir, ".no_exist", commit, "tokenizer.json")),
              ".no_exist marks tokenizer.json, which the repository lacks")
        check(not [n for n in os.listdir(os.path.join(repo_dir, "blobs")) if n.endswith(".incomplete")],
              "no .incomplete left in blobs/")

        # ---- a second fetch downloads nothing ---------------------------------------------
        before = len(STATE.log)
        p = fetch("attnviz-test/mini")
        fetched = [e for e in STATE.log[before:] if e[1] == "GET" and ("/resolve/" in e[2] or e[0] == "files")]
        check(p.returncode == 0 and not fetched and "0.0 MB downloaded" in p.stdout,
              "a second fetch downloads nothing (%d GETs): %r" % (len(fetched), p.stdout.strip().splitlines()[-2:]))

        # ---- the fetched model computes what the built-in folder computes ----------------------
        ref, out = os.path.join(tmp, "ref"), os.path.join(tmp, "out")
        subprocess.run([attnviz, "compute", "--model", "attnviz-mini", "--text", TEXT, "--out", ref], check=True,
                       capture_output=True, env=env)
        p = subprocess.run([attnviz, "compute", "--model", "attnviz-test/mini", "--text", TEXT, "--out", out],
                           capture_output=True, text=True, env=dict(env, HF_HUB_OFFLINE="1"))
        check(p.returncode == 0 and outputs(out) == outputs(ref) and len(outputs(ref)) > 3,
              "--model attnviz-test/mini (fetched, offline) gives the built-in folder's numbers: %s" % p.stderr.strip())

        # ---- a corrupted large file is refused and removed ------------------------------------
        bert_files = STATE.repos["attnviz-test/bert"].files
        bert_sha = hashlib.sha256(bert_files["model.safetensors"]).hexdigest()
        bert_dir = os.path.join(cache, "models--attnviz-test--bert")
        STATE.corrupt.add(bert_sha)
        p = fetch("attnviz-test/bert")
        one_line(p, 1, ["model.safetensors", "SHA-256"], "a corrupted large file")
        check(not os.path.exists(os.path.join(bert_dir, "blobs", bert_sha)) and
              not os.path.exists(os.path.join(bert_dir, "blobs", bert_sha + ".incomplete")),
              "the corrupted file is neither a blob nor a partial one")
        check(not os.path.exists(os.path.join(bert_dir, "snapshots")), "nothing in snapshots/ after the refusal")
        STATE.corrupt.clear()
        p = fetch("attnviz-test/bert")
        ref_b, out_b = os.path.join(tmp, "ref_b"), os.path.join(tmp, "out_b")
        subprocess.run([attnviz, "compute", "--model", "attnviz-mini-bert", "--text", TEXT, "--out", ref_b],
                       check=True, capture_output=True, env=env)
        q = subprocess.run([attnviz, "compute", "--model", "attnviz-test/bert", "--text", TEXT, "--out", out_b],
                           capture_output=True, text=True, env=env)
        check(p.returncode == 0 and q.returncode == 0 and outputs(out_b) == outputs(ref_b),
              "after a clean fetch, attnviz-test/bert gives attnviz-mini-bert's numbers (%s %s)"
              % (p.stderr.strip(), q.stderr.strip()))

        # ---- the other families: a sharded Llama-family checkpoint (the index and its shards)
        # and a vision transformer (its preprocessor_config.json) ------------------------------
        llama = os.path.join(tmp, "llama_src")
        subprocess.run([sys.executable, os.path.join(HERE, "make_llama_checkpoint.py"), llama, "--model-type", "qwen2",
                        "--sharded"], check=True, capture_output=True)
        STATE.repos["attnviz-test/qwen2-sharded"] = Repo(folder_files(llama), "9" * 40)
        STATE.repos["attnviz-test/vit"] = Repo(folder_files(os.path.join(MODELS, "attnviz-vit-mini")), "8" * 40)
        picture = os.path.join(tmp, "picture.png")
        from PIL import Image
        img = Image.new("RGB", (64, 64), (240, 240, 240))
        img.paste((220, 30, 30), (16, 16, 40, 40))
        img.save(picture)
        for repo, local, input_args, needs in (
                ("attnviz-test/qwen2-sharded", llama, ["--text", TEXT], "model.safetensors.index.json"),
                ("attnviz-test/vit", os.path.join(MODELS, "attnviz-vit-mini"), ["--image", picture],
                 "preprocessor_config.json")):
            p = fetch(repo)
            snap = p.stdout.strip().splitlines()[-1] if p.returncode == 0 else ""
            check(p.returncode == 0 and os.path.islink(os.path.join(snap, needs)),
                  "%s: fetched with %s (%s)" % (repo, needs, p.stderr.strip()))
            a, b = os.path.join(tmp, repo.replace("/", "_") + "_a"), os.path.join(tmp, repo.replace("/", "_") + "_b")
            pa = subprocess.run([attnviz, "compute", "--model", local, *input_args, "--out", a], capture_output=True,
                                text=True, env=env)
            pb = subprocess.run([attnviz, "compute", "--model", repo, *input_args, "--out", b], capture_output=True,
                                text=True, env=env)
            check(pa.returncode == 0 and pb.returncode == 0 and outputs(a) == outputs(b) and len(outputs(a)) > 3,
                  "%s: --model %s gives the source folder's numbers (%s %s)" % (repo, repo, pa.stderr.strip()[-120:],
                                                                             pb.stderr.strip()[-120:]))
        shards = [n for n in STATE.repos["attnviz-test/qwen2-sharded"].files if n.endswith(".safetensors")]
        check(len(shards) == 2 and all(os.path.islink(os.path.join(cache, "models--attnviz-test--qwen2-sharded",
                                                                   "snapshots", "9" * 40, n)) for n in shards),
              "both shards the index names are in the snapshot: %s" % shards)

        # ---- refusals before any weights are requested ----------------------------------------
        for repo, needles, what in (("attnviz-test/pickled", ["pickle", "pytorch_model.bin", "safetensors"],
                                     "pickle weights only"),
                                    ("attnviz-test/whisper", ["whisper", "gpt2", "bert"], "a model_type attnviz does not run")):
            before = len(STATE.log)
            one_line(fetch(repo), 1, needles, what)
            weights = [e for e in STATE.log[before:] if e[0] == "files" or e[2].endswith((".bin", ".safetensors"))]
            check(not weights, "%s: no weights requested (%d requests)" % (what, len(weights)))
        one_line(fetch("attnviz-test/nothing"), 1, ["attnviz-test/nothing", "no such model"], "a missing repository (401)")
        one_line(fetch("attnviz-test/mini", None, "--revision", "v9"), 1, ["no revision", "v9"], "a missing revision")
        one_line(fetch("attnviz-test/gated"), 1, ["gated", "HF_TOKEN"], "a gated repository without a token")
        one_line(fetch("notarepo"), 1, ["ORG/NAME"], "a name that is not ORG/NAME")

        # ---- the token: to the Hub, never to the file host ---------------------------------
        before = len(STATE.log)
        p = fetch("attnviz-test/gated", {"HF_TOKEN": TOKEN})
        check(p.returncode == 0, "HF_TOKEN opens the gated repository: %s" % p.stderr.strip())
        hub_auth = {e[3] for e in STATE.log[before:] if e[0] == "hub"}
        check(hub_auth == {"Bearer " + TOKEN}, "every Hub request carries the token (%s)" % hub_auth)
        check(all(e[3] is None for e in STATE.log if e[0] == "files"), "the file host never sees the token")
        os.makedirs(env["HF_HOME"])
        with open(os.path.join(env["HF_HOME"], "token"), "w") as f:
            f.write(TOKEN + "\n")
        STATE.repos["attnviz-test/gated"].commit = "f" * 40
        p = fetch("attnviz-test/gated")
        check(p.returncode == 0, "the token file in HF_HOME (trailing newline stripped) works: %s" % p.stderr.strip())

        # ---- on a terminal: the progress bar, then Ctrl-C leaves a partial file that resumes ----
        STATE.repos["attnviz-test/slow"] = Repo(mini, "7" * 40)
        STATE.slow.add(sha)
        slow_dir = os.path.join(cache, "models--attnviz-test--slow")
        screen, err, code = run_on_terminal([attnviz, "fetch", "attnviz-test/slow"], env, interrupt_after="left")
        bars = [b for b in screen.replace("\n", "\r").split("\r") if "MB/s" in b]
        check(len(bars) >= 2 and all("model.safetensors" in b and " of " in b and "left" in b for b in bars),
              "a terminal shows a redrawn bar: file, bytes, speed, time left (%d bars, e.g. %r)"
              % (len(bars), bars[-1:] if bars else screen[-200:]))
        check("to download" in screen.split("\r")[0], "the plan comes first on the terminal: %r" % screen[:80])
        check(code == 130 and "\n" not in err.strip() and "cancelled" in err and "resume" in err,
              "Ctrl-C: exit 130 and one line saying it resumes (got %s: %r)" % (code, err.strip()))
        partial = os.path.join(slow_dir, "blobs", sha + ".incomplete")
        kept = os.path.getsize(partial) if os.path.exists(partial) else 0
        check(0 < kept < len(mini["model.safetensors"]) and
              not os.path.exists(os.path.join(slow_dir, "snapshots", "7" * 40, "model.safetensors")),
              "Ctrl-C keeps the partial blob (%d bytes) and puts nothing in snapshots/" % kept)
        STATE.slow.discard(sha)
        before = len(STATE.log)
        p = fetch("attnviz-test/slow")
        got_range = [e[4] for e in STATE.log[before:] if e[0] == "files"]
        check(p.returncode == 0 and got_range == ["bytes=%d-" % kept] and
              open(os.path.join(slow_dir, "snapshots", "7" * 40, "model.safetensors"), "rb").read() == mini["model.safetensors"],
              "after Ctrl-C the next fetch resumes from the partial size (%s) and completes: %s" % (got_range, p.stderr.strip()))
        screen, err, code = run_on_terminal([attnviz, "fetch", "attnviz-test/mini"],
                                            dict(env, HF_HUB_DISABLE_PROGRESS_BARS="1"))
        check(code == 0 and "MB/s" not in screen and "\r" not in screen.replace("\r\n", "\n"),
              "HF_HUB_DISABLE_PROGRESS_BARS=1: no bar on a terminal (%r)" % screen[-120:])

        # ---- a full disk: one line, the partial file removed ------------------------------
        # /dev/full answers every write with ENOSPC; the partial blob is made a link to it.
        STATE.repos["attnviz-test/full"] = Repo(mini, "6" * 40)
        full_dir = os.path.join(cache, "models--attnviz-test--full")
        os.makedirs(os.path.join(full_dir, "blobs"))
        os.symlink("/dev/full", os.path.join(full_dir, "blobs", sha + ".incomplete"))
        p = fetch("attnviz-test/full")
        one_line(p, 1, ["model.safetensors", "no space left", "removed"], "a disk that fills up")
        check(not os.path.lexists(os.path.join(full_dir, "blobs", sha + ".incomplete")) and
              not os.path.exists(os.path.join(full_dir, "snapshots")),
              "after a full disk: no partial file, nothing in snapshots/")

        # ---- offline --------------------------------------------------------------------
        before = len(STATE.log)
        p = fetch("attnviz-test/mini", {"HF_HUB_OFFLINE": "1"})
        check(p.returncode == 0 and len(STATE.log) == before and p.stdout.strip().endswith(commit),
              "HF_HUB_OFFLINE=1: the cached model, no request: %r" % p.stdout.strip()[-60:])
        one_line(fetch("attnviz-test/other", {"HF_HUB_OFFLINE": "1"}), 1, ["offline", "attnviz-test/other"],
                 "HF_HUB_OFFLINE=1 and a model the cache lacks")
    hub.shutdown()
    files_host.shutdown()
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
