"""The MNIST recipe for one digit: `digit_ink` finds the ink (photos cleaned by
engine/images/photos.py, drawings by subtracting their background), `digit_canvas` fits it into
a 20x20 box (for 28x28), strokes thickened to MNIST's width, and centres it by mass."""

from __future__ import annotations

import numpy as np
from PIL import Image

from engine.images.photos import PHOTO_INK_LEVELS, drop_specks, photo_ink
from engine.images.strokes import thicken_thin_strokes

# Digit style, after the MNIST paper: ink fitted into a 20x20 box, centred by mass in 28x28.
DIGIT_BOX_FRACTION = 20 / 28
MIN_CONTRAST = 32  # ink must differ from the background by this much (0-255) to count
# Of the ink's peak: below LOW is background, above HIGH full ink. Small drawings get a gentle
# cut, so an MNIST digit passes through almost as is (photos a firm one, PHOTO_INK_LEVELS).
DRAWING_INK_LEVELS = (0.1, 1.0)
PHOTO_SIDE = (
    40  # from this size on, treat the input as a photo: cleaned, firm levels, specks trimmed
)
# Smaller images are photos too when their ground is not flat: the plain recipe subtracts one
# background level, so a shadow or a dark edge would count as ink. MNIST-sized drawings keep it.
SMALL_PHOTO_SIDE = 24
UNEVEN_GROUND = 16  # spread (5th to 95th percentile, 0-255) of the border pixels' brightness
DIGIT_WORKING_SIDE = 256  # larger inputs are box-averaged down first: fast, and it averages
# away sensor and JPEG noise (thin strokes fade but survive: ink is measured against its peak)


def digit_ink(image: Image.Image) -> np.ndarray | None:
    """The ink of a digit image, float (h, w) in 0..1 cropped to its box; None when blank.

    Photos (smaller side from PHOTO_SIDE, or from SMALL_PHOTO_SIDE when the ground is uneven)
    go through `photo_ink`, then lose specks apart from the digit (`drop_specks`); small flat
    images and drawings keep the plain recipe: invert a light background, subtract it, scale
    to the ink's peak.
    """
    photo = min(image.size) >= PHOTO_SIDE or (
        min(image.size) >= SMALL_PHOTO_SIDE and _uneven_ground(image)
    )
    factor = -(-max(image.size) // DIGIT_WORKING_SIDE)
    if photo:
        ink = photo_ink(image.reduce(factor) if factor > 1 else image)
        if ink is None:
            return None
    else:
        gray = image.convert("L")
        if factor > 1:
            gray = gray.reduce(factor)
        values = np.asarray(gray, dtype=np.float32)
        border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
        background = float(np.median(border))
        if background > 127.5:  # dark ink on light paper: make it light ink on black, as MNIST
            values, background = 255.0 - values, 255.0 - background
        values = values - background
        peak = float(values.max())
        if peak < MIN_CONTRAST:
            return None
        ink = values / peak
    low, high = PHOTO_INK_LEVELS if photo else DRAWING_INK_LEVELS
    ink = np.clip((ink - low) / (high - low), 0.0, 1.0)
    if photo:
        ink = drop_specks(ink)
    box = ink_box(ink, trim=photo)
    if box is None:
        return None
    top, bottom, left, right = box
    return ink[top:bottom, left:right]


def _uneven_ground(image: Image.Image) -> bool:
    """Whether the pixels along the image's edges (mostly ground) vary in brightness more than
    a flat scan or drawing does: lighting, shadow, a table or the page's edge."""
    values = np.asarray(image.convert("L"), dtype=np.float32)
    border = np.concatenate([values[0], values[-1], values[:, 0], values[:, -1]])
    low, high = np.percentile(border, [5, 95])
    return bool(high - low >= UNEVEN_GROUND)


def digit_canvas(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """The MNIST recipe on cropped ink; returns uint8 (height, width), light ink on black."""
    box_height = max(1, round(height * DIGIT_BOX_FRACTION))
    box_width = max(1, round(width * DIGIT_BOX_FRACTION))
    digit = fit_ink(ink, box_height, box_width)
    if digit is None:
        return np.zeros((height, width), dtype=np.uint8)
    return _paste_centred_by_mass(digit, height, width)


def fit_ink(
    ink: np.ndarray, box_height: int, box_width: int, thicken: bool = True
) -> np.ndarray | None:
    """Thicken thin strokes (if asked), then shrink the ink (aspect kept) into the box; 0..255
    float."""
    scale = min(box_height / ink.shape[0], box_width / ink.shape[1])
    if thicken:
        ink = thicken_thin_strokes(ink, scale)
    scale = min(box_height / ink.shape[0], box_width / ink.shape[1])
    size = (max(1, round(ink.shape[1] * scale)), max(1, round(ink.shape[0] * scale)))
    fitted = Image.fromarray(np.rint(ink * 255).astype(np.uint8)).resize(
        size, Image.Resampling.LANCZOS
    )
    digit = np.asarray(fitted, dtype=np.float32)
    if digit.max() <= 0:
        return None
    return digit * (255.0 / digit.max())  # a thin stroke shrunk to 20 px would look faint


def ink_box(ink: np.ndarray, trim: bool) -> tuple[int, int, int, int] | None:
    """Bounding box (top, bottom, left, right; end-exclusive) of the ink.

    For photos, rows and columns at the edges holding under 0.5% of all ink are trimmed, so a
    stray speck far from the digit does not shrink the digit into a corner.
    """
    rows, cols = ink.sum(axis=1), ink.sum(axis=0)
    total = float(rows.sum())
    if total <= 0:
        return None
    cut = 0.005 * total if trim else 0.0
    top, bottom = _span(rows, cut)
    left, right = _span(cols, cut)
    return top, bottom, left, right


def _span(profile: np.ndarray, cut: float) -> tuple[int, int]:
    cumulative = np.cumsum(profile)
    start = int(np.searchsorted(cumulative, cut, side="right"))
    end = int(np.searchsorted(cumulative, cumulative[-1] - cut, side="left")) + 1
    return start, max(end, start + 1)


def _paste_centred_by_mass(digit: np.ndarray, height: int, width: int) -> np.ndarray:
    """Place `digit` so its centre of mass lands on the canvas centre (index height // 2, as
    MNIST: its mean centre of mass is (14.0, 14.0)), shifted only as far as the canvas allows."""
    total = float(digit.sum())
    rows = np.arange(digit.shape[0], dtype=np.float64)
    cols = np.arange(digit.shape[1], dtype=np.float64)
    centre_row = float(digit.sum(axis=1) @ rows) / total
    centre_col = float(digit.sum(axis=0) @ cols) / total
    top = int(np.clip(round(height / 2 - centre_row), 0, height - digit.shape[0]))
    left = int(np.clip(round(width / 2 - centre_col), 0, width - digit.shape[1]))
    canvas = np.zeros((height, width), dtype=np.uint8)
    canvas[top : top + digit.shape[0], left : left + digit.shape[1]] = np.rint(digit).astype(
        np.uint8
    )
    return canvas
