#!/usr/bin/env python3
"""Real input events against the real window: xdotool clicks the Next button, selects the
tokens text box and types a new sentence, then quits with Ctrl+Q. The state the app dumps on
quit must show the step advanced and the new tokens. Run under xvfb-run (ctest does)."""
import json
import os
import subprocess
import sys
import tempfile
import time

app = sys.argv[1]
work = tempfile.mkdtemp(prefix="attnviz_xdotool_")
layout = os.path.join(work, "layout.json")
state = os.path.join(work, "state.json")


def xdo(*args):
    subprocess.run(["xdotool", *args], check=True)


def press(keys):
    # Held for a moment like a person would: Dear ImGui 1.86 reads key state once per frame,
    # so a press and release inside one frame would not be seen.
    xdo("keydown", keys)
    time.sleep(0.15)
    xdo("keyup", keys)
    time.sleep(0.2)


def centre(rect):
    return str(int((rect[0] + rect[2]) / 2)), str(int((rect[1] + rect[3]) / 2))


# First learn where the widgets are (the layout is computed from the window size).
# Forty frames: rows of controls wrap once a panel's scroll bar has appeared, and the default
# sample's model steps join the strip after its first frames, so early positions move.
subprocess.run([app, "--no-recovery", "--frames", "40", "--dump-state", layout], check=True, timeout=60)
widgets = json.load(open(layout))["widgets"]

proc = subprocess.Popen([app, "--no-recovery", "--dump-state", state])
try:
    window = subprocess.run(["xdotool", "search", "--sync", "--onlyvisible", "--name", "^attnviz"],
                            check=True, capture_output=True, text=True, timeout=30).stdout.split()[0]
    time.sleep(1.0)
    # GLFW's window may not sit at the screen origin; xdotool moves relative to it.
    xdo("mousemove", "--window", window, *centre(widgets["next"]))
    time.sleep(0.3)
    xdo("click", "1")
    time.sleep(0.3)
    xdo("click", "1")
    time.sleep(0.3)
    xdo("mousemove", "--window", window, *centre(widgets["tokens-text"]))
    time.sleep(0.2)
    xdo("click", "1")
    time.sleep(0.3)
    press("ctrl+a")
    xdo("type", "--delay", "40", "a cat saw a dog")
    time.sleep(0.8)
    # Leave the text box so the arrow key steps instead of moving the text cursor.
    xdo("mousemove", "--window", window, "1200", "700")
    xdo("click", "1")
    time.sleep(0.3)
    press("Right")
    press("ctrl+q")
    proc.wait(timeout=30)
finally:
    if proc.poll() is None:
        proc.kill()

s = json.load(open(state))
errors = []
if s["text"] != "a cat saw a dog":
    errors.append(f"text is {s['text']!r}")
# The default sample runs on the built-in model, so the typed text becomes its BPE tokens.
expected = (json.loads(subprocess.run([app, "tokenize", "--model", s["model"], "--text", "a cat saw a dog"],
                                      check=True, capture_output=True, text=True).stdout)["tokens"]
            if s.get("model") else ["a", "cat", "saw", "a", "dog"])
if not s.get("model"):
    errors.append("the default sample does not run on the built-in model")
if s["query_tokens"] != expected:
    errors.append(f"tokens are {s['query_tokens']}, want {expected}")
if s["step"] != 3:
    errors.append(f"step is {s['step']} (two Next clicks and one → from 0 should give 3)")
if s["n"] != len(expected):
    errors.append(f"n is {s['n']}, want {len(expected)}")
if errors:
    print("FAIL: " + "; ".join(errors))
    print(json.dumps(s, indent=2, ensure_ascii=False))
    sys.exit(1)
print("ok: Next clicked twice, → pressed, tokens typed:", s["query_tokens"])
