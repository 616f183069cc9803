"""Issue 20: a message built from a file name holding a newline, a carriage return, a terminal
escape (ESC [2J) or bytes that are not UTF-8 is one line in the app too, with those characters
escaped: in the status bar (read through --dump-state) and on stderr, for a file named on the
command line and one opened by a script line.

Run under xvfb-run: status_line_test.py ATTNVIZ OUTDIR."""
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guitest import check, finish, wait_for_json, write_script  # noqa: E402

APP, OUT = sys.argv[1], sys.argv[2]
WORK = os.path.join(OUT, "status_line")
os.makedirs(WORK, exist_ok=True)
work = os.fsencode(WORK)

# Broken JSON sessions: the app reports a parse error naming the file.
on_command_line = work + b"/cmd\nline\r\x1b[2J\xff.json"
by_script = work + b"/script\r\x1b[2J\xfe.json"
for name in (on_command_line, by_script):
    with open(name, "wb") as f:
        f.write(b"{not json")


def one_line_escaped(text, what):
    check("\n" not in text and "\r" not in text and "\x1b" not in text and "\ufffd" not in text,
          "%s: one line, no raw control characters: %r" % (what, text))


# The state is dumped before the screenshot, whose own "Saved …" report replaces the message.
state = os.path.join(WORK, "cmd-state.json")
script = write_script(os.path.join(WORK, "cmd.txt"),
                      ["wait-frames 2", "dump-state " + state, "screenshot " + os.path.join(WORK, "status.png"), "quit"])
subprocess.run([os.fsencode(APP), on_command_line, b"--no-recovery", b"--ignore-pointer", b"--script", os.fsencode(script)],
               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
s = wait_for_json(state)
message = s["message"]
one_line_escaped(message, "status bar, file on the command line")
check("cmd\\nline\\r\\x1B[2J\\xFF.json" in message, "status bar names the file with \\n, \\r, \\x1B, \\xFF: " + message)

script_line = b"open " + by_script
with open(os.path.join(WORK, "open.txt"), "wb") as f:
    f.write(script_line + b"\nwait-frames 2\nquit\n")
state = os.path.join(WORK, "open-state.json")
p = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--script", os.path.join(WORK, "open.txt"),
                    "--dump-state", state], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=120)
s = wait_for_json(state)
one_line_escaped(s["message"], "status bar, file opened by a script")
check("script\\r\\x1B[2J\\xFE.json" in s["message"], "status bar names the file escaped: " + s["message"])
lines = [l for l in p.stderr.split(b"\n") if l]
check(len(lines) >= 1 and all(b"\r" not in l and b"\x1b" not in l and b"\xfe" not in l for l in lines),
      "stderr of the failed script line is clean: %r" % p.stderr)
check(any(b"script\\r\\x1B[2J\\xFE.json" in l for l in lines), "stderr names the file escaped: %r" % p.stderr)

finish("status line")
