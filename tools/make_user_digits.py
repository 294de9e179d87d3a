"""Build the held-out set of user-style uploads that no model here trains on.

    python -m tools.make_user_digits     # writes tests/data/user_digits.npz (about 0.3 MB)
    python -m tools.make_user_digits --dev /tmp/user_digits_dev.npz   # a development set
    python -m tools.make_user_digits --dev-pairs runs/development/pair_photos_train_digits.npz

The held-out set is for the final measurement only. Error analysis and any choice of recipe
are made on a development set (`--dev PATH`, kept out of tests/data): other seeds, three times
as many files, and photos of MNIST *training* digits instead of test digits (so it shares no
source digit with the held-out set; the demo runs have seen those digits, but never
photographed). The fonts are the same: they are all this machine has. Two-digit runs are tuned
on `--dev-pairs PATH`: 300 pair photos made the same way, of MNIST training digits, with the
same seed and nothing else (the README's development figures for `demo-pairs`).

What a new user uploads is not an MNIST image: a digit written on paper and photographed, or
typed in some font, dark ink on light paper, unevenly lit, at low resolution, as a JPEG. This
script makes such files, deterministically (fixed seeds), as the bytes of small JPEGs:

- "font": digits 0-9 rendered from the TrueType fonts found on this machine (fc-list;
  DejaVu and Liberation here, regular, bold, italic, condensed...), slightly rotated.
- "photo": synthetic photos of MNIST *test* digits (from the engine's shipped copy; MNIST's
  training digits, which the demo runs learn from, are never used): paper colour and texture,
  uneven lighting, a shadow, sometimes the table beyond the paper's edge, a small perspective
  tilt, pen colours (black, blue, red, green, pencil), low resolution and JPEG compression.
- "pair": photos of two MNIST test digits of different classes side by side, for two-digit
  runs (targets: both digits).
- "blank", "letters", "shapes", "strokes": non-digits photographed the same way (blank pages;
  capital letters in fonts, a kind the sigmoid demo never trains on; outlines; scribbles).

The file holds `data` (all JPEG bytes, uint8), `offsets` (N + 1), `targets` (N, 10 multi-hot
float32, all zero for non-digits) and `kinds` (N strings). Only evaluation reads it: it says how
the shipped demo runs read real-looking uploads, and the test suite checks that figure.
"""

from __future__ import annotations

import argparse
import gzip
import io
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "tests" / "data" / "user_digits.npz"
MNIST_FILES = REPO_ROOT / "engine" / "assets" / "mnist"
SEED = 20261202
DEV_SEED = 7_000_001  # the development set's: any seed but the held-out set's
COUNTS = {"font": 100, "photo": 200, "pair": 100, "blank": 10, "letters": 10, "shapes": 10}
COUNTS["strokes"] = 10
DEV_COUNTS = {kind: 3 * count for kind, count in COUNTS.items()} | {"pair": 0}
DEV_PAIR_COUNTS = {kind: 0 for kind in COUNTS} | {"pair": 300}  # for two-digit runs
LETTERS = "CFHKMNPRUVWX"  # capitals that do not pass for a digit (as engine/nondigits.py)
PENS = {
    "black": (25, 25, 30),
    "blue": (25, 45, 150),
    "red": (150, 25, 35),
    "green": (25, 95, 50),
    "pencil": (85, 85, 90),
}


def mnist_digits(part: str = "t10k") -> tuple[np.ndarray, np.ndarray]:
    """MNIST's test ("t10k") or training ("train") digits and labels."""
    with gzip.open(MNIST_FILES / f"{part}-images-idx3-ubyte.gz") as handle:
        images = np.frombuffer(handle.read(), np.uint8, offset=16).reshape(-1, 28, 28)
    with gzip.open(MNIST_FILES / f"{part}-labels-idx1-ubyte.gz") as handle:
        labels = np.frombuffer(handle.read(), np.uint8, offset=8)
    return images, labels


def font_files() -> list[str]:
    try:
        listed = subprocess.run(
            ["fc-list", ":", "file"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        listed = ""
    files = sorted({line.split(":")[0].strip() for line in listed.splitlines() if line.strip()})
    files = [f for f in files if f.endswith(".ttf") and "Math" not in f and "ExtraLight" not in f]
    if not files:
        sys.exit("no TrueType fonts found (fc-list): install fonts-dejavu or fonts-liberation")
    return files


# --- drawing ink masks (float 0..1, 1 = ink) ------------------------------------------------


def mnist_ink(digit: np.ndarray, side: int) -> np.ndarray:
    big = Image.fromarray(digit).resize((side, side), Image.Resampling.BICUBIC)
    return np.clip(np.asarray(big, dtype=np.float32) / 255, 0, 1)


def text_ink(rng: np.random.Generator, text: str, font_file: str, side: int) -> np.ndarray:
    big = side * 4
    canvas = Image.new("L", (big, big), 0)
    font = ImageFont.truetype(font_file, size=int(big * rng.uniform(0.6, 0.8)))
    draw = ImageDraw.Draw(canvas)
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    draw.text(((big - left - right) / 2, (big - top - bottom) / 2), text, font=font, fill=255)
    canvas = canvas.rotate(rng.uniform(-8, 8), resample=Image.Resampling.BICUBIC)
    small = canvas.resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


def drawn_ink(rng: np.random.Generator, kind: str, side: int) -> np.ndarray:
    big = side * 4
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    width = max(2, int(big * rng.uniform(0.04, 0.07)))
    if kind == "shapes":
        half = big * rng.uniform(0.25, 0.4)
        c = big / 2
        shape = ("circle", "rectangle", "triangle")[int(rng.integers(3))]
        if shape == "circle":  # crossed, so that a ring is not a zero
            draw.ellipse((c - half, c - half, c + half, c + half), outline=255, width=width)
            draw.line((c - half, c, c + half, c), fill=255, width=width)
            draw.line((c, c - half, c, c + half), fill=255, width=width)
        elif shape == "rectangle":
            draw.rectangle(
                (c - half, c - half * 0.7, c + half, c + half * 0.7), outline=255, width=width
            )
        else:
            draw.polygon(
                [(c, c - half), (c + half, c + half * 0.8), (c - half, c + half * 0.8)],
                outline=255,
                width=width,
            )
    else:  # strokes: a scribble
        for _ in range(int(rng.integers(2, 4))):
            points = [tuple(rng.uniform(big * 0.15, big * 0.85, 2)) for _ in range(6)]
            draw.line(points, fill=255, width=width, joint="curve")
    small = canvas.resize((side, side), Image.Resampling.BOX)
    return np.asarray(small, dtype=np.float32) / 255


# --- photographing an ink mask ----------------------------------------------------------------


def smooth_noise(rng: np.random.Generator, height: int, width: int, blur: float) -> np.ndarray:
    noise = Image.fromarray((rng.random((height, width)) * 255).astype(np.uint8))
    field = np.asarray(noise.filter(ImageFilter.GaussianBlur(blur)), dtype=np.float32) / 255
    field -= field.mean()
    return field / max(float(np.abs(field).max()), 1e-6)


def photograph(
    rng: np.random.Generator,
    ink: np.ndarray,
    mild: bool = False,
    sides: tuple[int, int] = (48, 110),
) -> bytes:
    """Put `ink` (H, W) on a sheet of paper, light it, tilt it, shrink and JPEG it."""
    ink_h, ink_w = ink.shape
    pad = rng.uniform(0.25, 0.7, 4) * max(ink_h, ink_w)
    height = int(ink_h + pad[0] + pad[1])
    width = int(ink_w + pad[2] + pad[3])
    mask = np.zeros((height, width), dtype=np.float32)
    top, left = int(pad[0]), int(pad[2])
    mask[top : top + ink_h, left : left + ink_w] = ink

    paper = np.array([rng.uniform(200, 250)] * 3, dtype=np.float32)
    paper += rng.uniform(-12, 6, 3)  # a slightly tinted sheet
    texture = smooth_noise(rng, height, width, rng.uniform(1.5, 5)) * rng.uniform(4, 14)
    grain = rng.normal(0, rng.uniform(1, 5), (height, width))
    pen = np.array(PENS[list(PENS)[int(rng.integers(len(PENS)))]], dtype=np.float32)
    pen += rng.uniform(-15, 15, 3)
    strength = rng.uniform(0.7, 1.0)
    alpha = (mask * strength)[..., None]
    scene = (paper + (texture + grain)[..., None]) * (1 - alpha) + pen * alpha

    # Uneven light: a gradient across the sheet and a vignette; sometimes a soft shadow.
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float32)
    y, x = rows / height - 0.5, cols / width - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 - rng.uniform(0, 0.25 if mild else 0.4) * (
        np.cos(angle) * x + np.sin(angle) * y + 0.5
    )
    light *= 1 - rng.uniform(0, 0.25) * (x**2 + y**2) * 2
    if not mild and rng.random() < 0.4:
        direction = rng.uniform(0, 2 * np.pi)
        offset = rng.uniform(-0.35, 0.1)
        edge = np.cos(direction) * x + np.sin(direction) * y - offset
        softness = rng.uniform(0.02, 0.12)
        light *= 1 - rng.uniform(0.2, 0.45) / (1 + np.exp(np.clip(edge / softness, -50, 50)))
    scene *= light[..., None]
    if not mild and rng.random() < 0.25:  # the table beyond the paper's edge
        side = int(rng.integers(4))
        depth = int(rng.uniform(0.04, 0.1) * (height if side < 2 else width))
        table = np.array([rng.uniform(30, 110)] * 3, dtype=np.float32) + rng.uniform(-10, 10, 3)
        if side == 0:
            scene[:depth] = table
        elif side == 1:
            scene[-depth:] = table
        elif side == 2:
            scene[:, :depth] = table
        else:
            scene[:, -depth:] = table
    picture = Image.fromarray(np.clip(scene, 0, 255).astype(np.uint8), "RGB")

    # A small perspective tilt: corners (PIL order: upper left, lower left, lower right, upper
    # right) moved by up to 6% of the side.
    jitter = rng.uniform(-0.06, 0.06, 8) * np.array([width, height] * 4)
    corners = np.array([0, 0, 0, height, width, height, width, 0], dtype=np.float64) + jitter
    picture = picture.transform(
        (width, height),
        Image.Transform.QUAD,
        tuple(corners),
        Image.Resampling.BICUBIC,
        fillcolor=tuple(int(v) for v in paper * 0.8),
    )
    if rng.random() < 0.3:
        picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.3, 1.0)))
    target_side = int(rng.uniform(*sides))
    scale = target_side / max(width, height)
    picture = picture.resize(
        (max(8, round(width * scale)), max(8, round(height * scale))), Image.Resampling.LANCZOS
    )
    if rng.random() < 0.15:
        picture = picture.convert("L")
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=int(rng.uniform(35, 85)))
    return buffer.getvalue()


def build(
    seed: int = SEED, counts: dict[str, int] = COUNTS, part: str = "t10k"
) -> dict[str, np.ndarray]:
    """The set's arrays: `counts` files of each kind, photos of MNIST's `part` digits."""
    rng = np.random.default_rng(seed)
    images, labels = mnist_digits(part)
    fonts = font_files()
    files: list[bytes] = []
    targets: list[np.ndarray] = []
    kinds: list[str] = []

    def add(data: bytes, kind: str, *digits: int) -> None:
        target = np.zeros(10, dtype=np.float32)
        target[list(digits)] = 1.0
        files.append(data)
        targets.append(target)
        kinds.append(kind)

    for index in range(counts["font"]):
        digit = index % 10
        font = fonts[int(rng.integers(len(fonts)))]
        add(photograph(rng, text_ink(rng, str(digit), font, 64), mild=True), "font", digit)
    picks = rng.choice(len(images), counts["photo"], replace=False)
    for index in picks:
        ink = mnist_ink(images[index], int(rng.uniform(40, 90)))
        add(photograph(rng, ink), "photo", int(labels[index]))
    for _ in range(counts["pair"]):
        first = int(rng.integers(len(images)))
        second = int(rng.integers(len(images)))
        while labels[second] == labels[first]:
            second = int(rng.integers(len(images)))
        side = int(rng.uniform(40, 80))
        gap = int(rng.uniform(0.0, 0.5) * side)
        pair = np.zeros((side, 2 * side + gap), dtype=np.float32)
        pair[:, :side] = mnist_ink(images[first], side)
        pair[:, side + gap :] = mnist_ink(images[second], side)
        add(photograph(rng, pair, sides=(90, 160)), "pair", int(labels[first]), int(labels[second]))
    for _ in range(counts["blank"]):
        add(photograph(rng, np.zeros((64, 64), dtype=np.float32)), "blank")
    for _ in range(counts["letters"]):
        letter = LETTERS[int(rng.integers(len(LETTERS)))]
        font = fonts[int(rng.integers(len(fonts)))]
        add(photograph(rng, text_ink(rng, letter, font, 64)), "letters")
    for kind in ("shapes", "strokes"):
        for _ in range(counts[kind]):
            add(photograph(rng, drawn_ink(rng, kind, 64)), kind)

    offsets = np.cumsum([0] + [len(data) for data in files]).astype(np.int64)
    return {
        "data": np.frombuffer(b"".join(files), dtype=np.uint8),
        "offsets": offsets,
        "targets": np.stack(targets),
        "kinds": np.array(kinds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dev", type=Path, metavar="PATH", help="write a development set here instead"
    )
    parser.add_argument(
        "--dev-pairs", type=Path, metavar="PATH", help="write development pair photos here"
    )
    args = parser.parse_args()
    development = args.dev or args.dev_pairs
    if development is None:
        arrays, output = build(), OUTPUT
    else:
        if development.resolve().parent == OUTPUT.parent:
            sys.exit("keep the development set out of tests/data: it is not the held-out set")
        counts = DEV_COUNTS if args.dev else DEV_PAIR_COUNTS
        arrays, output = build(DEV_SEED, counts, "train"), development
    output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(output, **arrays)
    kinds, counts = np.unique(arrays["kinds"], return_counts=True)
    summary = ", ".join(f"{kind} {count}" for kind, count in zip(kinds, counts, strict=True))
    print(f"wrote {output} ({output.stat().st_size / 1024:.0f} KB): {summary}")


if __name__ == "__main__":
    main()
