#!/usr/bin/env python3
"""App export equals `attnviz export`: the same state (a sample with T = 0.5 and a causal mask)
exported as PNG and SVG from the app through --script and from the command line with the
equivalent flags gives byte-identical files, for a single head and for all heads, for the
weights (viridis) and for a signed stage (scores, rdbu). Also after switching to the GPU
backend: files come from the CPU engine, like the command line's."""
import filecmp
import os
import subprocess
import sys
import tempfile

from guitest import check, finish

app = sys.argv[1]
work = tempfile.mkdtemp(prefix="attnviz_export_cli_")
print("work directory:", work)


# (app step, app head, CLI stage, CLI head); the app shows values in cells by default (--values).
cases = [(6, "1", "weights", "1"), (0, "all", "scores", "all"), (2, "0", "masked", "0")]
for backend in ("cpu", "gpu"):
    lines = ["sample pronoun-toy", "set temperature 0.5", "set mask causal", f"set backend {backend}"]
    for step, head, stage, cli_head in cases:
        base = os.path.join(work, f"{backend}_{stage}_{cli_head}")
        lines += [f"goto {step}", f"head {head}", f"export-png {base}_app.png", f"export-svg {base}_app.svg"]
    script = os.path.join(work, f"export_{backend}.txt")
    with open(script, "w") as f:
        f.write("\n".join(lines + ["quit"]) + "\n")
    p = subprocess.run([app, "--no-recovery", "--ignore-pointer", "--script", script], capture_output=True,
                       text=True, timeout=120)
    check(p.returncode == 0, f"{backend}: the app exports (stderr: {p.stderr.strip()[-300:]})")
    for step, head, stage, cli_head in cases:
        base = os.path.join(work, f"{backend}_{stage}_{cli_head}")
        c = subprocess.run([app, "export", "--sample", "pronoun-toy", "--temperature", "0.5", "--mask", "causal",
                            "--stage", stage, "--head", cli_head, "--values", "--png", base + "_cli.png",
                            "--svg", base + "_cli.svg"], capture_output=True, text=True, timeout=60)
        check(c.returncode == 0, f"attnviz export --stage {stage} --head {cli_head} ({c.stderr.strip()[-200:]})")
        for ext in ("png", "svg"):
            a, b = f"{base}_app.{ext}", f"{base}_cli.{ext}"
            same = os.path.exists(a) and os.path.exists(b) and filecmp.cmp(a, b, shallow=False)
            check(same, f"{backend} backend, {stage}, head {cli_head}: app {ext.upper()} == CLI {ext.upper()}")

finish("app-equals-CLI export")
