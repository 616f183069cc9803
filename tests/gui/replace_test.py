#!/usr/bin/env python3
"""Replacing the document never drops unsaved edits silently (issue 7).

With unsaved edits, `sample NAME` and `open FILE.json` (the same functions the samples browser,
File ▸ Open and a dropped file call) ask Save / Don't save / Cancel; the script answers with
replace-answer. Checked through --dump-state after each answer:
  cancel      keeps the edited document; nothing is replaced
  save        (no FILE) writes the session's own file, then replaces
  dont-save   replaces, and the edits are gone on purpose
  save FILE   writes FILE (a session loaded from elsewhere), then replaces
A matrix (.npy) opened over unsaved edits is an edit, not a replacement: no question. Without
--recovery (automated runs) nothing asks, as for quitting. The question is screenshotted.
usage: replace_test.py ATTNVIZ [OUTPUT_DIR]"""
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

from guitest import check, finish, load, write_script

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else None

work = tempfile.mkdtemp(prefix="attnviz_replace_")
try:
    env = dict(os.environ, XDG_STATE_HOME=os.path.join(work, "state"))
    a, b, npy = (os.path.join(work, n) for n in ("a.json", "b.json", "q.npy"))
    np.save(npy, np.array([[0.25], [-0.5]], dtype=np.float32))  # n = 2, d_k = 1 as in articles-1d
    d = {n: os.path.join(work, n + ".json") for n in
         ("asked", "cancelled", "saved", "dont", "saved_as", "matrix", "final")}
    question_png = os.path.join(OUT or work, "replace_question.png")
    lines = [
        "sample pronoun-toy",
        "save " + a,                       # pronoun-toy, temperature 1, saved as a.json
        "set temperature 0.5",
        "sample causal-lm-toy", "wait-frames 3", "screenshot " + question_png, "dump-state " + d["asked"],
        "replace-answer cancel", "wait-frames 2", "dump-state " + d["cancelled"],
        "sample causal-lm-toy", "replace-answer save", "wait-frames 2", "dump-state " + d["saved"],
        "set temperature 0.7",
        "open " + a, "replace-answer dont-save", "wait-frames 2", "dump-state " + d["dont"],
        "set temperature 0.9",
        "sample articles-1d", "replace-answer save " + b, "wait-frames 2", "dump-state " + d["saved_as"],
        "set temperature 1.5",
        "open " + npy, "wait-frames 2", "dump-state " + d["matrix"],
        "quit", "wait-frames 2", "quit-answer dont-save",
    ]
    script = write_script(os.path.join(work, "script.txt"), lines)
    p = subprocess.run([APP, "--recovery", "--ignore-pointer", "--script", script, "--dump-state", d["final"]],
                       env=env, capture_output=True, text=True, timeout=120)
    check(p.returncode == 0, "the app exits 0 (stderr: %s)" % p.stderr.strip()[-400:])
    s = load(d["final"])
    check(s["script_failed"] is False, "every script action succeeded")

    s = load(d["asked"])
    check(s["replace_question"] is True and "causal-lm-toy" in s["replace_with"],
          "sample over unsaved edits asks (replace_with %r)" % s["replace_with"])
    check(s["temperature"] == 0.5 and s["mask"] == "none" and s["unsaved"] is True,
          "nothing is replaced while the question is up")
    check(os.path.getsize(question_png) > 0, "screenshot of the question: " + question_png)
    s = load(d["cancelled"])
    check(s["replace_question"] is False and s["temperature"] == 0.5 and s["unsaved"] is True,
          "Cancel keeps the edited document")
    check("was not opened" in s["message"], "Cancel says so: %r" % s["message"])
    s = load(d["saved"])
    check(s["mask"] == "causal" and s["temperature"] == 1 and s["unsaved"] is False,
          "Save, then the sample replaces the document")
    check(load(a)["options"]["temperature"] == 0.5, "Save wrote the edits to the session's own file")
    s = load(d["dont"])
    check(s["temperature"] == 0.5 and s["unsaved"] is False and s["replace_question"] is False,
          "open a.json, Don't save: a.json replaces the document (temperature %s)" % s["temperature"])
    s = load(d["saved_as"])
    check(s["mode"] == "matrices" and s["temperature"] == 1 and s["unsaved"] is False,
          "Save FILE, then articles-1d replaces the document")
    check(load(b)["options"]["temperature"] == 0.9, "save FILE wrote the edits there")
    check(load(a)["options"]["temperature"] == 0.5, "and left the session's own file alone")
    s = load(d["matrix"])
    check(s["replace_question"] is False and s["temperature"] == 1.5 and s["n"] == 2,
          "a matrix opened over edits loads into Q without a question (n %s)" % s["n"])

    # Automated runs without --recovery keep no recovery file and ask nothing, as for quitting.
    plain = os.path.join(work, "plain.json")
    script = write_script(os.path.join(work, "plain.txt"), ["set temperature 0.5", "sample causal-lm-toy", "quit"])
    p = subprocess.run([APP, "--ignore-pointer", "--script", script, "--dump-state", plain], env=env,
                       capture_output=True, text=True, timeout=120)
    s = load(plain)
    check(p.returncode == 0 and s["replace_question"] is False and s["mask"] == "causal",
          "without --recovery the sample loads straight away")
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("replace")
