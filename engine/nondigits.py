"""Generated images that are no digit: blank, noise, letters, shapes and random strokes.

They serve two experiments of the analysis: measuring how often each reading of a model says
"none of the classes" on inputs unlike its training data, and teaching a sigmoid model "none"
by adding them to its training set with all-zero targets. Drawn like MNIST: white ink on black,
roughly centred in the middle 20x20 of a 28x28 canvas, anti-aliased by drawing at four times
the size and shrinking. Deterministic for a seed. Datasets and analysis live elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from engine.errors import EngineError

NON_DIGIT_KINDS: tuple[str, ...] = ("blank", "noise", "letters", "shapes", "strokes")

# Capital letters that do not pass for a digit: O/D/Q (0), I/J/L/T (1, 7), Z (2), B/E (8, 3),
# S (5), G/b (6), Y (4) and A (4 in some hands) are left out.
LETTERS = "CFHKMNPRUVWX"

_SUPERSAMPLE = 4  # draw at 4x and shrink with a box filter: soft edges like MNIST's strokes


def make_non_digits(
    count: int, seed: int = 0, size: int = 28, kinds: Sequence[str] = NON_DIGIT_KINDS
) -> tuple[torch.Tensor, list[str]]:
    """Return `count` images, uint8 (count, 1, size, size), and the kind of each.

    Kinds take turns in the order given (so each appears once `count >= len(kinds)`), and
    every image is drawn from its own generator seeded by (seed, index): the first images
    are the same whatever `count` is.
    """
    unknown = [kind for kind in kinds if kind not in _DRAWERS]
    if unknown or not kinds:
        raise EngineError(
            f"unknown non-digit kinds {unknown}: choose from {', '.join(NON_DIGIT_KINDS)}"
        )
    if count < 0:
        raise EngineError("the number of non-digit images cannot be negative")
    if size < 8:
        raise EngineError("non-digit images must be at least 8 pixels wide")
    images = np.zeros((count, 1, size, size), dtype=np.uint8)
    chosen = [kinds[index % len(kinds)] for index in range(count)]
    for index, kind in enumerate(chosen):
        rng = np.random.default_rng([seed, index])
        images[index, 0] = _DRAWERS[kind](rng, size)
    return torch.from_numpy(images), chosen


def _blank(rng: np.random.Generator, size: int) -> np.ndarray:
    return np.zeros((size, size), dtype=np.uint8)


def _noise(rng: np.random.Generator, size: int) -> np.ndarray:
    """Uniform or Gaussian noise, at a random brightness."""
    if rng.random() < 0.5:
        values = rng.uniform(0, rng.uniform(64, 256), (size, size))
    else:
        values = rng.normal(rng.uniform(40, 160), rng.uniform(20, 80), (size, size))
    return np.clip(values, 0, 255).astype(np.uint8)


def _letters(rng: np.random.Generator, size: int) -> np.ndarray:
    """One capital letter that does not look like a digit, in PIL's built-in font."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    font = ImageFont.load_default(size=int(big * rng.uniform(0.8, 0.95)))
    letter = LETTERS[int(rng.integers(len(LETTERS)))]
    stroke = max(1, int(big * rng.uniform(0.02, 0.04)))
    draw = ImageDraw.Draw(canvas)
    # Centre the letter's ink box, not the font's line box (which sits capitals too low).
    left, top, right, bottom = draw.textbbox((0, 0), letter, font=font, stroke_width=stroke)
    x = big / 2 + _jitter(rng, big) - (left + right) / 2
    y = big / 2 + _jitter(rng, big) - (top + bottom) / 2
    draw.text((x, y), letter, font=font, fill=255, stroke_width=stroke, stroke_fill=255)
    return _shrink(canvas, size)


def _shapes(rng: np.random.Generator, size: int) -> np.ndarray:
    """The outline of a crossed circle, a rectangle or a triangle."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    width = _pen(rng, big)
    half = big * rng.uniform(0.22, 0.34)
    cx, cy = big / 2 + _jitter(rng, big), big / 2 + _jitter(rng, big)
    shape = ("circle", "rectangle", "triangle")[int(rng.integers(3))]
    if shape == "circle":  # crossed, so that a ring is not a zero
        draw.ellipse((cx - half, cy - half, cx + half, cy + half), outline=255, width=width)
        draw.line((cx - half, cy, cx + half, cy), fill=255, width=width)
        draw.line((cx, cy - half, cx, cy + half), fill=255, width=width)
    elif shape == "rectangle":
        aspect = rng.uniform(0.6, 1.0)
        draw.rectangle(
            (cx - half, cy - half * aspect, cx + half, cy + half * aspect), outline=255, width=width
        )
    else:
        corners = [(cx, cy - half), (cx + half, cy + half * 0.8), (cx - half, cy + half * 0.8)]
        draw.polygon(corners, outline=255, width=width)
    return _shrink(canvas, size)


def _strokes(rng: np.random.Generator, size: int) -> np.ndarray:
    """A scribble: a few pen strokes zig-zagging through random points of the centre."""
    big = size * _SUPERSAMPLE
    canvas = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(canvas)
    low, high = big * 0.18, big * 0.82
    for _ in range(int(rng.integers(2, 4))):
        points = [tuple(rng.uniform(low, high, 2)) for _ in range(int(rng.integers(4, 8)))]
        draw.line(points, fill=255, width=_pen(rng, big), joint="curve")
    return _shrink(canvas, size)


def _pen(rng: np.random.Generator, big: int) -> int:
    """A pen about as thick as MNIST's strokes (2-3 pixels at 28x28)."""
    return max(1, int(big * rng.uniform(0.07, 0.1)))


def _jitter(rng: np.random.Generator, big: int) -> float:
    return float(rng.uniform(-0.05, 0.05) * big)


def _shrink(canvas: Image.Image, size: int) -> np.ndarray:
    return np.asarray(canvas.resize((size, size), Image.Resampling.BOX), dtype=np.uint8)


_DRAWERS = {
    "blank": _blank,
    "noise": _noise,
    "letters": _letters,
    "shapes": _shapes,
    "strokes": _strokes,
}
