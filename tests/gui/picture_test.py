#!/usr/bin/python3
"""The picture view (issue 23) with real input: the built-in vision model on a built-in scene, a
real xdotool click on a patch of the picture, then the overlay's pixels checked against what
`attnviz compute` wrote for that query and `attnviz preprocess --resized` says the model saw:
every pixel of the picture is round((1 − opacity)·picture + opacity·colour(weight)), the colour
from the colour table over [0, the row's largest patch weight]. Then the mean of the heads, and
an image opened with a text model refused in one line.

usage: picture_test.py ATTNVIZ [OUTPUT_DIR]"""
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import tempfile

import numpy as np

from guitest import (ROOT, app_window, check, click, colour_tables, finish, load, read_png, touch, wait_for_json,
                     write_script)

APP = sys.argv[1]
OUT = sys.argv[2] if len(sys.argv) > 2 else None
SCENE = os.path.join(ROOT, "assets", "samples", "scenes", "red-square.png")
LAYER, OPACITY = 3, 0.6


def number(text):
    """A value as the app prints it: a real minus sign, maybe an exponent."""
    return float(text.replace("\u2212", "-"))


def read_safetensors(path):
    """Every F32 tensor of a safetensors file, by name."""
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    return {name: np.frombuffer(data[t["data_offsets"][0]:t["data_offsets"][1]], np.float32).reshape(t["shape"])
            for name, t in header.items() if name != "__metadata__" and t["dtype"] == "F32"}


def expected_overlay(picture, row, patch, lut, opacity):
    """The overlay as the engine defines it, in float64 here: one colour per patch."""
    rows, cols = row.shape
    hi = row.max() if row.max() > 0 else 1.0
    out = picture.astype(np.float64).copy()
    for r in range(rows):
        for c in range(cols):
            t = min(max(row[r, c] / hi, 0.0), 1.0)
            colour = lut[min(255, int(np.float32(t) * np.float32(256)))]
            block = out[r * patch:(r + 1) * patch, c * patch:(c + 1) * patch]
            block[:] = np.floor((1 - opacity) * block + opacity * colour + 0.5)
    return out.astype(np.int32)


def shown_picture(png, rect, size):
    """The picture as drawn: each model pixel is a zoom × zoom square; sample its centre."""
    img = read_png(png).astype(np.int32)
    x0, y0 = rect[0], rect[1]
    w, h = size
    zoom = (rect[2] - rect[0]) / w
    xs = (x0 + (np.arange(w) + 0.5) * zoom).astype(int)
    ys = (y0 + (np.arange(h) + 0.5) * zoom).astype(int)
    return img[np.ix_(ys, xs)], zoom


work = tempfile.mkdtemp(prefix="attnviz_picture_")
try:
    ref = os.path.join(work, "ref")
    subprocess.run([APP, "compute", "--model", "attnviz-vit-mini", "--image", SCENE, "--out", ref], check=True,
                   capture_output=True)
    resized = os.path.join(work, "resized.png")
    subprocess.run([APP, "preprocess", "--model", "attnviz-vit-mini", "--image", SCENE, "--out",
                    os.path.join(work, "px.npy"), "--resized", resized], check=True, capture_output=True)
    from PIL import Image
    picture = np.asarray(Image.open(resized).convert("RGB"), np.int32)
    weights = np.load(os.path.join(ref, "layer%d" % LAYER, "weights.npy")).astype(np.float64)  # [H, n, n]
    lut = colour_tables()["viridis"]

    layout, after, mean_state, refused, go = (os.path.join(work, n) for n in
                                              ("layout.json", "after.json", "mean.json", "refused.json", "go"))
    shot = os.path.join(OUT or work, "picture_click.png")
    shot_mean = os.path.join(OUT or work, "picture_mean.png")
    script = write_script(os.path.join(work, "script.txt"), [
        "sample scene-red-square", "layer %d" % LAYER, "head 0", "wait-frames 4", "dump-state " + layout,
        "wait-for-file " + go, "wait-frames 5", "screenshot " + shot, "dump-state " + after,
        "export-picture " + os.path.join(work, "app.png"), "export-picture " + os.path.join(work, "app.svg"),
        "set picture-heads mean", "wait-frames 3", "screenshot " + shot_mean, "dump-state " + mean_state,
        "sample pronoun", "wait-frames 3", "open " + SCENE, "wait-frames 2", "dump-state " + refused, "quit"])
    proc = subprocess.Popen([APP, "--no-recovery", "--script", script])
    try:
        window = app_window()
        s = wait_for_json(layout)
        pic = s["picture"]
        check(pic["shown"] and pic["size"] == [64, 64] and pic["grid"] == {"rows": 8, "cols": 8, "patch": 8, "prefix": 1},
              "the picture view shows the 64×64 scene as 8×8 patches of 8 after [CLS]: %s" % pic)
        rect = s["widgets"]["picture"]
        check(s["selected"] in (None, [-1, -1]) or s["selected"][0] < 0, "no query pinned: the picture shows [CLS]")
        # A real click on patch (6, 1): on the red square in this scene.
        r, c = 6, 1
        zoom = (rect[2] - rect[0]) / 64
        click(window, rect[0] + (c * 8 + 4) * zoom, rect[1] + (r * 8 + 4) * zoom)
        # The pointer leaves the picture (its tooltip and hover outlines would cover pixels).
        subprocess.run(["xdotool", "mousemove", "--window", window, "600", "600"], check=True)
        touch(go)
        s = wait_for_json(after)
        mean = wait_for_json(mean_state)
        bad = wait_for_json(refused)
        code = proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    check(code == 1 and not mean["script_failed"] and bad["script_failed"],
          "every line works until the refused image, whose failure makes the script exit 1 (exit %s)" % code)
    token = 1 + r * 8 + c
    check(s["selected"] is not None and s["selected"][0] == token,
          "the click pinned patch (%d, %d) = token %d as the query (selected %s)" % (r, c, token, s["selected"]))
    for png, rows, what in ((shot, weights[0, token, 1:].reshape(8, 8), "head 0"),
                            (shot_mean, weights[:, token, 1:].mean(0).reshape(8, 8), "the mean of the heads")):
        got, zoom = shown_picture(png, rect, (64, 64))
        want = expected_overlay(picture, rows, 8, lut, OPACITY)
        # The app's weights are the engine's float32 and the colour index may land one entry
        # away at a boundary: within 3 per channel (neighbouring table entries differ by ≤ 2).
        diff = np.abs(got - want).max(axis=2)
        # The query patch's outline (white, on its edge pixels) is drawn over the overlay.
        ring = np.zeros((64, 64), bool)
        ring[r * 8:(r + 1) * 8, c * 8:(c + 1) * 8] = True
        ring[r * 8 + 1:(r + 1) * 8 - 1, c * 8 + 1:(c + 1) * 8 - 1] = False
        diff[ring] = 0
        check(zoom >= 1 and diff.max() <= 3,
              "%s: every picture pixel (the query outline's 28 excepted) is the picture blended with the colour of compute's weight "
              "(zoom %.1f, largest difference %d, %d pixels over 3)" % (what, zoom, diff.max(), int((diff > 3).sum())))
    # The app's export of the picture view and the command line's, byte for byte.
    cli = subprocess.run([APP, "export", "--sample", "scene-red-square", "--layer", str(LAYER), "--overlay",
                          "token=%d" % token, "--head", "0", "--png", os.path.join(work, "cli.png"), "--svg",
                          os.path.join(work, "cli.svg")], capture_output=True, text=True)
    for ext in ("png", "svg"):
        a, b = (os.path.join(work, n + "." + ext) for n in ("app", "cli"))
        check(cli.returncode == 0 and os.path.exists(a) and open(a, "rb").read() == open(b, "rb").read(),
              "the app's picture export and `export --overlay token=%d --head 0` write the same %s bytes %s"
              % (token, ext.upper(), cli.stderr.strip()))
    fig = read_png(os.path.join(work, "cli.png")).astype(np.int32)
    want = expected_overlay(picture, weights[0, token, 1:].reshape(8, 8), 8, lut, OPACITY)
    # The figure's picture: found as the one 64·k square block matching the expected pixels.
    found = False
    for k in (8, 7, 6, 5, 4):
        big = np.kron(want, np.ones((k, k, 1), np.int32))
        hs, ws = big.shape[:2]
        corner = np.argwhere((np.abs(fig[:fig.shape[0] - hs + 1, :fig.shape[1] - ws + 1] - big[0, 0]).max(axis=2) == 0))
        for y, x in corner[:200]:
            if np.abs(fig[y:y + hs, x:x + ws] - big).max() <= 3:
                found = True
                break
        if found:
            break
    check(found, "the exported figure holds the overlay pixel for pixel (each picture pixel a k×k square)")
    check(mean["picture"]["heads"] == "mean", "set picture-heads mean: %s" % mean["picture"]["heads"])
    msg = bad["message"]
    check("picture" in msg and "vision model" in msg and "\n" not in msg and bad["picture"]["image"] == "",
          "an image opened with a text model is refused in one line naming what it needs: %r" % msg)

    # Every step of a vision layer hovered on a patch and on [CLS] (the embedding step once
    # crashed on a patch: a vision model has no token ids).
    steps = ["embedding", "resid_pre", "ln_1", "q", "k", "v", "scores", "scaled", "masked", "minus_row_max", "exp",
             "row_sum", "weights", "output", "projected", "resid_mid"]
    lines = []
    for layer in (0, LAYER):
        lines.append("layer %d" % layer)
        for st in steps:
            lines += ["goto " + st, "hover 0 2", "hover 9 0", "wait-frames 2",
                      "dump-state " + os.path.join(work, "sweep_%d_%s.json" % (layer, st))]
    sweep = write_script(os.path.join(work, "sweep.txt"), lines + ["quit"])
    code = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--sample", "scene-red-circle", "--script", sweep],
                          timeout=120).returncode
    derivations = [load(os.path.join(work, "sweep_%d_%s.json" % (l, st))).get("hover_derivation") for l in (0, LAYER)
                   for st in steps if os.path.exists(os.path.join(work, "sweep_%d_%s.json" % (l, st)))]
    first = load(os.path.join(work, "sweep_0_embedding.json")).get("hover_derivation") or [""]
    check(code == 0 and len(derivations) == 2 * len(steps) and all(derivations) and "W_patch" in first[0],
          "every step of layers 0 and %d hovers on a patch with a derivation (exit %d; embedding: %r)"
          % (LAYER, code, first[0]))

    # The patch embedding's hover (layer 0, token 9 = patch (1, 0), dimension 0) against the
    # checkpoint's own tensors and `preprocess`'s pixels: the five largest products
    # W_patch[0, ch, y, x]·pixel by magnitude, each factor to the 3 decimals printed, the bias
    # and the position embedding, and the total (1e-3: the printed precision).
    px_circle = os.path.join(work, "px_circle.npy")
    subprocess.run([APP, "preprocess", "--model", "attnviz-vit-mini", "--image",
                    os.path.join(ROOT, "assets", "samples", "scenes", "red-circle.png"), "--out", px_circle,
                    "--resized", os.path.join(work, "circle.png")], check=True, capture_output=True)
    px = np.load(px_circle).astype(np.float64).reshape(3, 64, 64)
    tensors = read_safetensors(os.path.join(ROOT, "assets", "models", "attnviz-vit-mini", "model.safetensors"))
    w_patch = tensors["vit.embeddings.patch_embeddings.projection.weight"][0]  # [3, 8, 8] of dimension 0
    patch_pixels = px[:, 8:16, 0:8]  # patch (1, 0)
    products = w_patch * patch_pixels
    order = np.argsort(-np.abs(products).ravel(), kind="stable")[:5]
    want = {("RGB"[k // 64], 8 + k // 8 % 8, k % 8) for k in order}
    lines = first
    found = {}
    for line in lines:
        m = re.match(r"\s*\(([RGB]), (\d+), (\d+)\): \(?([^·)]+)\)?·\(?([^ )]+)\)? = (\S+)", line)
        if m:
            found[(m.group(1), int(m.group(2)), int(m.group(3)))] = [number(m.group(i)) for i in (4, 5, 6)]
    check(set(found) == want, "the hover lists the five largest W_patch·pixel products: %s vs %s" % (sorted(found), sorted(want)))
    worst = 0.0
    for (ch, y, x), (wv, pv, tv) in found.items():
        c = "RGB".index(ch)
        worst = max(worst, abs(wv - w_patch[c, y - 8, x]), abs(pv - px[c, y, x]), abs(tv - w_patch[c, y - 8, x] * px[c, y, x]))
    bias = tensors["vit.embeddings.patch_embeddings.projection.bias"][0]
    position = tensors["vit.embeddings.position_embeddings"][0, 9, 0]
    total = products.sum() + bias + position
    shown = {name: number(re.search(r": (\S+)$", l).group(1)) for l in lines for name in ("b_patch", "W_P")
             if l.strip().startswith(name)}
    final = number([l for l in lines if l.startswith("= ")][-1][2:])
    worst = max(worst, abs(shown.get("b_patch", 1e9) - bias), abs(shown.get("W_P", 1e9) - position), abs(final - total))
    check(worst <= 1.5e-3, "the patch embedding's terms, bias, position embedding and total match the checkpoint "
          "and the preprocessed pixels (largest difference %.2g)" % worst)

    # The heatmap's axes show each patch as itself: the pinned row's thumbnail (token 50 =
    # patch (6, 1)) is drawn from that patch's pixels, nearest-filtered, so the thumbnail's centre
    # pixel is one of the patch's own pixels (the scene's noise makes them distinct).
    circle = np.asarray(Image.open(os.path.join(work, "circle.png")).convert("RGB"), np.int32)
    axes_png, axes_state = os.path.join(OUT or work, "picture_axes.png"), os.path.join(work, "axes.json")
    axes = write_script(os.path.join(work, "axes.txt"), ["layer %d" % LAYER, "pin 50 -1", "wait-frames 3",
                                                          "screenshot " + axes_png, "dump-state " + axes_state, "quit"])
    code = subprocess.run([APP, "--no-recovery", "--ignore-pointer", "--sample", "scene-red-circle", "--script", axes],
                          timeout=120).returncode
    widgets = load(axes_state).get("widgets", {})
    cells, band = widgets.get("heatmap-cells"), widgets.get("heatmap-row-thumbnails")
    ok = code == 0 and cells is not None and band is not None
    if ok:
        cell = (cells[3] - cells[1]) / 65.0
        y = int(cells[1] + 50.5 * cell)
        x = int((band[0] + band[2]) / 2)
        shot_px = read_png(axes_png).astype(np.int32)[y, x, :3]
        patch = circle[48:56, 8:16].reshape(-1, 3)
        ok = bool((patch == shot_px).all(axis=1).any())
    check(ok, "the pinned row's axis thumbnail shows its own patch's pixels (exit %s, band %s)" % (code, band))

    # Launched on a picture: `attnviz --model NAME --image FILE`, and refused in one line with a
    # text model.
    cross = os.path.join(ROOT, "assets", "samples", "scenes", "red-cross.png")
    launched = os.path.join(work, "launched.json")
    script = write_script(os.path.join(work, "launch.txt"), ["wait-frames 2", "dump-state " + launched, "quit"])
    code = subprocess.run([APP, "--no-recovery", "--model", "attnviz-vit-mini", "--image", cross, "--script", script],
                          timeout=120).returncode
    image = load(launched).get("picture", {}).get("image") if code == 0 else None
    check(code == 0 and image == cross, "--model attnviz-vit-mini --image FILE opens the picture (exit %d, %r)" % (code, image))
    p = subprocess.run([APP, "--no-recovery", "--model", "attnviz-mini", "--image", cross, "--frames", "2"],
                       capture_output=True, text=True, timeout=120)
    check(p.returncode == 2 and "vision model" in p.stderr and p.stderr.count("\n") == 1,
          "--image with a text model exits 2 in one line: %r" % p.stderr)
finally:
    shutil.rmtree(work, ignore_errors=True)
finish("picture view")
