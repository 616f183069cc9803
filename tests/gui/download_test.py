#!/usr/bin/python3
"""The app's "Get a model…" (issue 25): a download from a fake Hugging Face Hub on 127.0.0.1 (the
one tests/model/hub_fetch_test.py serves) runs on a worker thread while the window keeps drawing,
opens the model when done, can be cancelled (the partial file stays for the resume), and a
failure is one line in the dialog with the model unchanged.

  download_test.py ATTNVIZ
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "model"))
import hub_fetch_test as hub  # noqa: E402

failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what, flush=True)
    if not ok:
        failures.append(what)


def run_app(attnviz, env, tmp, name, lines, code=0):
    script = os.path.join(tmp, name + ".txt")
    dump = os.path.join(tmp, name + ".json")
    with open(script, "w") as f:
        f.write("\n".join(lines + ["wait-frames 3", "dump-state " + dump, "quit"]) + "\n")
    p = subprocess.run([attnviz, "--no-recovery", "--ignore-pointer", "--script", script], env=env,
                       capture_output=True, text=True, timeout=150)
    check(p.returncode == code, "%s: the app exits %d (%d: %s)" % (name, code, p.returncode, p.stderr.strip()[-300:]))
    return json.load(open(dump))


def main():
    attnviz = sys.argv[1]
    server = hub.serve(hub.HubHandler)
    files_host = hub.serve(hub.FileHandler)
    hub.STATE.file_port = files_host.server_address[1]
    mini = hub.folder_files(os.path.join(hub.MODELS, "attnviz-mini"))
    bert = hub.folder_files(os.path.join(hub.MODELS, "attnviz-mini-bert"))
    hub.STATE.repos = {"attnviz-test/mini": hub.Repo(mini, "a" * 40), "attnviz-test/bert": hub.Repo(bert, "b" * 40)}
    with tempfile.TemporaryDirectory() as tmp:
        cache = os.path.join(tmp, "cache")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
        env.update(HOME=tmp, HF_HUB_CACHE=cache, HF_ENDPOINT="http://127.0.0.1:%d" % server.server_address[1])

        st = run_app(attnviz, env, tmp, "download", ["get-model attnviz-test/mini", "wait-frames 2",
                                                     "screenshot " + os.path.join(tmp, "dialog.png"),
                                                     "wait-download"])
        check(st["model"] == "attnviz-test/mini" and st["layers"] == 2 and not st["error"],
              "after the download the app shows attnviz-test/mini's 2 layers (model %r, %s layers, error %r)"
              % (st["model"], st["layers"], st["error"]))
        check(st["download"]["running"] is False and st["download"]["dialog"] is False and not st["download"]["error"],
              "the dialog closed, nothing running, no error: %s" % st["download"])
        check(os.path.islink(os.path.join(cache, "models--attnviz-test--mini", "snapshots", "a" * 40, "model.safetensors")),
              "the download is in the cache's snapshot")

        sha = hashlib.sha256(bert["model.safetensors"]).hexdigest()
        hub.STATE.slow.add(sha)
        st = run_app(attnviz, env, tmp, "cancel", ["get-model attnviz-test/bert", "wait-frames 40",
                                                   "dump-state " + os.path.join(tmp, "during.json"),
                                                   "cancel-download", "wait-download"])
        during = json.load(open(os.path.join(tmp, "during.json")))
        check(during["download"]["running"] is True and during["frames"] >= 40,
              "while downloading, the window keeps drawing (%d frames, running %s)"
              % (during["frames"], during["download"]["running"]))
        check("cancelled" in st["download"]["error"] and st["model"] != "attnviz-test/bert",
              "Cancel stops it in one line and opens nothing: %r, model %r" % (st["download"]["error"], st["model"]))
        partial = os.path.join(cache, "models--attnviz-test--bert", "blobs", sha + ".incomplete")
        check(os.path.exists(partial) and 0 < os.path.getsize(partial) < len(bert["model.safetensors"]),
              "the partial file stays for the resume")
        hub.STATE.slow.clear()

        st = run_app(attnviz, env, tmp, "missing", ["get-model attnviz-test/nothing", "wait-download"],
                     code=1)  # a scripted run that met an error exits 1
        check("no such model" in st["download"]["error"] and "\n" not in st["download"]["error"]
              and st["download"]["dialog"] is True,
              "a missing repository: one line in the open dialog: %r" % st["download"]["error"])
    server.shutdown()
    files_host.shutdown()
    if failures:
        print("%d failure(s)" % len(failures))
        return 1
    print("all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
