#!/usr/bin/python3
"""Scenes for attnviz-vit-mini: "what shape is the red object?"

Every scene is a 64x64 RGB image (uint8) with 3 to 5 flat-coloured objects on a noisy grey
background. Exactly one object is red; the label is the shape of the red object:
    0 circle, 1 square, 2 triangle, 3 cross.

Scene `index` of seed `seed` is generated from its own generator,
    rng = numpy.random.default_rng([seed, index])      (PCG64, SeedSequence([seed, index]))
so any scene can be regenerated alone. `rng.integers(a, b)` below is NumPy's Generator.integers
(uniform over a..b-1). The draws, in this exact order:

  1. n = rng.integers(3, 6)                 object count, uniform in {3, 4, 5}
     red = rng.integers(0, n)               which object (in drawing order) is the red one
  2. for each object i = 0 .. n-1, in order:
       shape = rng.integers(0, 4)           0 circle, 1 square, 2 triangle, 3 cross
       size  = rng.integers(12, 21)         the side of its square bounding box, 12..20 px
       colour: red when i == red, else ("green", "blue", "yellow")[rng.integers(0, 3)]
       r, g, b = rng.integers(lo, hi + 1) for each channel in turn, with the ranges (inclusive)
           red    (200-255,   0-60,    0-60)
           green  (  0-60,  150-220,   0-60)
           blue   (  0-60,   40-100, 180-255)
           yellow (200-255, 190-240,   0-60)
       position: up to PLACE_TRIES (100) times
           x0 = rng.integers(0, 64 - size + 1); y0 = rng.integers(0, 64 - size + 1)
         (uniform among the positions that keep the box [x0, x0+size) x [y0, y0+size) inside
         the image); the position is accepted when the box keeps at least 2 background rows or
         columns from every box placed before it (boxes A and B conflict unless
         B.x0 >= A.x0 + A.size + 2 or A.x0 >= B.x0 + B.size + 2 or the same along y).
       If all PLACE_TRIES positions conflict, the whole scene is resampled: back to step 1 with
       the same generator (its state continues). About 4% of first attempts are redrawn, nearly
       all with 5 objects, so the kept scenes have 3 / 4 / 5 objects about 35% / 35% / 30% of
       the time (measured on 20,000 scenes) rather than exactly a third each.
  3. background: grey = rng.integers(90, 171); noise = rng.normal(0, 10, size=(64, 64, 3))
     (rows, columns, channels); pixel = clip(rint(grey + noise), 0, 255) (rint: nearest, ties to
     even). Objects are then painted in drawing order with their flat colour (no noise).

Shapes, with no anti-aliasing: a pixel (column u, row v of the box, 0..size-1) belongs to the
shape when its centre (x, y) = (u + 0.5, v + 0.5) does, s = size:
    circle    (x - s/2)^2 + (y - s/2)^2 <= (s/2)^2          (radius s/2 about the box centre)
    square    always                                       (the whole box)
    triangle  |x - s/2| <= y / 2                           (apex at (s/2, 0), base the bottom side:
                                                            upward isosceles, base = height = s)
    cross     (s-w)/2 <= x < (s+w)/2  or  (s-w)/2 <= y < (s+w)/2,  w = round(s/3)
              (two centred bars across the box, each w wide: the w columns / rows starting at
              floor((s-w)/2); s/3 is never a tie for s in 12..20)
Boxes never overlap, so painting order does not matter.

A ViT with patch size 8 sees an 8x8 grid of patches; patch p = (y // 8) * 8 + (x // 8) is
token 1 + p after [CLS]. The red patches of a scene are the patches holding any pixel of the
red object's shape (not merely of its box).

CLI: vit_scenes.py --seed S --count N --out DIR  writes DIR/00000.png ... and DIR/labels.json.
"""

import argparse
import json
import os
import struct
import zlib

import numpy as np

IMAGE = 64
PATCH = 8
GRID = IMAGE // PATCH
MIN_OBJECTS, MAX_OBJECTS = 3, 5
MIN_SIZE, MAX_SIZE = 12, 20
GAP = 2
PLACE_TRIES = 100
GREY_LO, GREY_HI = 90, 170
NOISE_SIGMA = 10.0
SHAPES = ["circle", "square", "triangle", "cross"]
ID2LABEL = {i: s for i, s in enumerate(SHAPES)}
COLOURS = {
    "red": ((200, 255), (0, 60), (0, 60)),
    "green": ((0, 60), (150, 220), (0, 60)),
    "blue": ((0, 60), (40, 100), (180, 255)),
    "yellow": ((200, 255), (190, 240), (0, 60)),
}
OTHER_COLOURS = ["green", "blue", "yellow"]


def shape_mask(shape, s):
    """Boolean s x s mask of `shape` (name or id) in a box of side s (rows = y, columns = x)."""
    if not isinstance(shape, str):
        shape = SHAPES[int(shape)]
    c = np.arange(s) + 0.5
    y, x = np.meshgrid(c, c, indexing="ij")
    h = s / 2.0
    if shape == "circle":
        return (x - h) ** 2 + (y - h) ** 2 <= h * h
    if shape == "square":
        return np.ones((s, s), dtype=bool)
    if shape == "triangle":
        return np.abs(x - h) <= y / 2.0
    if shape == "cross":
        w = round(s / 3)
        lo, hi = (s - w) / 2.0, (s + w) / 2.0
        return ((x >= lo) & (x < hi)) | ((y >= lo) & (y < hi))
    raise ValueError(shape)


_MASKS = {(k, s): shape_mask(k, s) for k in range(len(SHAPES)) for s in range(MIN_SIZE, MAX_SIZE + 1)}


def _conflict(a, b):
    ax, ay, asz = a
    bx, by, bsz = b
    sep_x = bx >= ax + asz + GAP or ax >= bx + bsz + GAP
    sep_y = by >= ay + asz + GAP or ay >= by + bsz + GAP
    return not (sep_x or sep_y)


def _layout(rng):
    """Steps 1-2 of the module docstring: the objects, or None when one could not be placed."""
    n = int(rng.integers(MIN_OBJECTS, MAX_OBJECTS + 1))
    red = int(rng.integers(0, n))
    objs = []
    for i in range(n):
        shape = int(rng.integers(0, len(SHAPES)))
        size = int(rng.integers(MIN_SIZE, MAX_SIZE + 1))
        colour = "red" if i == red else OTHER_COLOURS[int(rng.integers(0, len(OTHER_COLOURS)))]
        rgb = [int(rng.integers(lo, hi + 1)) for lo, hi in COLOURS[colour]]
        placed = None
        for _ in range(PLACE_TRIES):
            x0 = int(rng.integers(0, IMAGE - size + 1))
            y0 = int(rng.integers(0, IMAGE - size + 1))
            box = (x0, y0, size)
            if not any(_conflict(box, (o["x0"], o["y0"], o["size"])) for o in objs):
                placed = box
                break
        if placed is None:
            return None
        objs.append({"shape": SHAPES[shape], "shape_id": shape, "size": size, "colour": colour,
                     "rgb": rgb, "x0": placed[0], "y0": placed[1]})
    return objs, red


def make_scene(seed, index):
    """Scene `index` of `seed`: (image uint8 [64, 64, 3], label id, objects list, red pixel mask [64, 64])."""
    rng = np.random.default_rng([int(seed), int(index)])
    while True:
        lay = _layout(rng)
        if lay is not None:
            break
    objs, red = lay
    grey = int(rng.integers(GREY_LO, GREY_HI + 1))
    noise = rng.normal(0.0, NOISE_SIGMA, size=(IMAGE, IMAGE, 3))
    img = np.clip(np.rint(grey + noise), 0, 255).astype(np.uint8)
    red_mask = np.zeros((IMAGE, IMAGE), dtype=bool)
    for i, o in enumerate(objs):
        m = _MASKS[(o["shape_id"], o["size"])]
        x0, y0, s = o["x0"], o["y0"], o["size"]
        region = img[y0:y0 + s, x0:x0 + s]
        region[m] = np.array(o["rgb"], dtype=np.uint8)
        if i == red:
            red_mask[y0:y0 + s, x0:x0 + s] = m
        o["red"] = i == red
    return img, objs[red]["shape_id"], objs, red_mask


def red_patches(red_mask):
    """Boolean [64] over patches (row-major): the patch holds any pixel of the red object."""
    return red_mask.reshape(GRID, PATCH, GRID, PATCH).any(axis=(1, 3)).reshape(-1)


def make_batch(seed, start, count):
    """Scenes start .. start+count-1 of `seed`: images uint8 [N, 64, 64, 3], labels int64 [N],
    red patch masks bool [N, 64]."""
    imgs = np.empty((count, IMAGE, IMAGE, 3), dtype=np.uint8)
    labels = np.empty(count, dtype=np.int64)
    rp = np.empty((count, GRID * GRID), dtype=bool)
    for k in range(count):
        img, lab, _, rm = make_scene(seed, start + k)
        imgs[k] = img
        labels[k] = lab
        rp[k] = red_patches(rm)
    return imgs, labels, rp


def write_png(path, img):
    """Minimal PNG writer: 8-bit RGB, no interlace, filter 0 on every row."""
    img = np.ascontiguousarray(img, dtype=np.uint8)
    h, w, c = img.shape
    assert c == 3
    raw = b"".join(b"\x00" + img[r].tobytes() for r in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n")
        f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0)))
        f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
        f.write(chunk(b"IEND", b""))


def scene_record(seed, index, file, label, objs, red_mask):
    return {
        "file": file, "seed": int(seed), "index": int(index), "label": int(label), "label_name": SHAPES[label],
        "red_patches": [int(p) for p in np.nonzero(red_patches(red_mask))[0]],
        "objects": [{"shape": o["shape"], "colour": o["colour"], "rgb": o["rgb"], "x0": o["x0"], "y0": o["y0"],
                     "size": o["size"], "red": o["red"]} for o in objs],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--start", type=int, default=0, help="first scene index (default 0)")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    recs = []
    for k in range(args.count):
        idx = args.start + k
        img, lab, objs, rm = make_scene(args.seed, idx)
        name = f"{idx:05d}.png"
        write_png(os.path.join(args.out, name), img)
        recs.append(scene_record(args.seed, idx, name, lab, objs, rm))
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump({"seed": args.seed, "start": args.start, "count": args.count,
                   "id2label": {str(k): v for k, v in ID2LABEL.items()}, "scenes": recs}, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
