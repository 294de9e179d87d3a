"""Two digits side by side, as the two-digits set was built: the ink cleared of clutter
(bands, solid patches), cut at its emptiest middle column, each digit fitted into 20 rows by
12 columns and centred in its own half."""

from __future__ import annotations

import numpy as np

from engine.images.digits import fit_ink, ink_box

PAIR_TILE = (20, 12)  # each digit fits into 20 rows by 12 columns, as make_two_digits built it


# What is not a digit in a photo of two: a band (the table or the page's edge, a ruled line)
# much longer than it is thick, longer than the digits are tall, and a solid patch (a shadow).
PAIR_BAND_ASPECT = 2.5  # a band's length over its thickness, at least
PAIR_BAND_LENGTH = 1.5  # a band's length over the tallest digit stroke's height, at least
PAIR_SOLID_FILL = 0.85  # a patch filling this much of its box, at least, is not a pen stroke
PAIR_SOLID_ASPECT = 0.35  # ... when it is this wide for its height, at least (unlike a "1")


def pair_canvas(ink: np.ndarray, height: int, width: int) -> np.ndarray:
    """Cut the ink between its two digits and centre each in its half, rows 4-23 of 28."""
    canvas = np.zeros((height, width), dtype=np.float32)
    half = width // 2
    box_height = max(1, round(height * PAIR_TILE[0] / 28))
    box_width = max(1, round(width * PAIR_TILE[1] / 28))
    top = (height - box_height) // 2
    ink = _without_pair_clutter(ink)
    box = ink_box(ink, trim=False)  # the digits' own box: the cut is sought in its middle
    if box is not None:
        ink = ink[box[0] : box[1], box[2] : box[3]]
    for part, offset in zip(_split_pair(ink), (0, half), strict=True):
        box = ink_box(part, trim=False)
        if box is None:
            continue
        crop = part[box[0] : box[1], box[2] : box[3]]
        # Not thickened: the set's digits were shrunk from MNIST's into 12 columns, thinner too.
        digit = fit_ink(crop, box_height, box_width, thicken=False)
        if digit is None:
            continue
        rows, cols = digit.shape
        row = top + (box_height - rows) // 2
        col = offset + (half - cols) // 2
        canvas[row : row + rows, col : col + cols] = digit
    return np.rint(canvas).astype(np.uint8)


def _split_pair(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The ink left and right of the emptiest column in the middle half of the ink's width."""
    profile = ink.sum(axis=0)
    width = len(profile)
    if width < 4:
        return ink, np.zeros_like(ink)
    low, high = width // 4, width - width // 4
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    cut = low + int(np.argmin(smooth[low:high]))
    left, right = ink.copy(), ink.copy()
    left[:, cut:] = 0.0
    right[:, :cut] = 0.0
    return left, right


def _without_pair_clutter(ink: np.ndarray) -> np.ndarray:
    """The ink without strokes that cannot be part of two handwritten digits: bands (long and
    thin, and longer than the digit strokes are tall by half) and solid patches (specks are
    gone already, `photos.drop_specks`).

    Two digits side by side are each a minority of the ink, so the single-digit rule that drops
    edge strokes when one inner stroke dominates (`photos._drop_border_ink`) leaves these in, and a
    band beside the digits would take the place of one of them once the ink is cut in two.
    """
    from scipy import ndimage

    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count < 2:
        return ink
    weights = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    sizes = np.array([(rows.stop - rows.start, cols.stop - cols.start) for rows, cols in boxes])
    tall, wide = sizes[:, 0].astype(np.float64), sizes[:, 1].astype(np.float64)
    thin = (wide >= PAIR_BAND_ASPECT * tall) | (tall >= PAIR_BAND_ASPECT * wide)
    solid = (weights >= PAIR_SOLID_FILL * tall * wide) & (wide >= PAIR_SOLID_ASPECT * tall)
    solid &= np.minimum(tall, wide) > 2  # not a dot or a short dash: a stroke's width is more
    strokes = ~(thin | solid)
    tallest = float(tall[strokes].max()) if strokes.any() else float(tall.max())
    # Long for the digits too: a "1", or the bar of a 5 written apart, is a stroke.
    band = thin & (np.maximum(tall, wide) >= PAIR_BAND_LENGTH * tallest)
    clutter = band | solid
    if clutter.all():
        return ink
    return np.where(np.isin(labels, np.flatnonzero(clutter) + 1), 0.0, ink)
