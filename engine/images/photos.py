"""Photographed digits cleaned: light and paper estimated, the ink read in its strongest
colour channel, borders at the edges and specks apart from the digit dropped.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

# A photographed page is lit unevenly, its paper has texture, its ink may be blue or red, and
# the table or the page's edge may show at a border. The paper's brightness is estimated
# everywhere by a grey closing (a max then a min filter wider than a pen stroke), the ink read
# as how much darker than that paper each pixel is (a ratio, so a shadow that darkens paper and
# ink alike cancels out), in the colour channel where the ink stands out most; ink that touches
# the image's edge is dropped when it is the minority (a border, not the digit).

PAPER_WINDOW_FRACTION = 1 / 8  # of the smaller side: wider than any stroke of a framed digit
MIN_INK_RATIO = 0.2  # the darkest ink must be this much darker than its paper (0-1)
DARK_PAPER = 64.0  # paper darker than this is not paper: ink is measured against this much
INK_PEAK_PERCENTILE = 99.7  # the ink's peak, robust to a few stray dark pixels
BORDER_KEEP_SHARE = 0.2  # edge strokes stay unless an inner stroke holds this share of the ink
BORDER_SPAN = 0.5  # a stroke along this much of the edge it touches is a border, not ink,
BORDER_DEPTH = 0.35  # when it reaches at most this far into the image (a shadow band too)
EDGE_MARGIN = 0.04  # of the side: a band this near the edge is at it (a tilted photo's rim)
SPECK_SHARE = 0.1  # a mark with under this share of the heaviest stroke's ink, lying further
SPECK_GAP = 0.25  # than this (of the digit's larger side) from the digit's strokes, is a speck
# Of the ink's peak: below LOW is background, above HIGH full ink. Photos get a firm cut (paper
# texture, shadows); small drawings a gentler one (digits.DRAWING_INK_LEVELS).
PHOTO_INK_LEVELS = (0.25, 0.6)


def photo_ink(image: Image.Image) -> np.ndarray | None:
    """Ink of a photographed digit, float (H, W) in 0..1 of its peak; None when blank."""
    from scipy import ndimage  # imported here: only photos need it

    rgb = np.asarray(image.convert("RGB"), dtype=np.float32)
    side = min(rgb.shape[:2])
    window = max(5, int(side * PAPER_WINDOW_FRACTION)) | 1
    if _light_ink(rgb.mean(axis=2)):  # light ink on a dark ground: flip it
        rgb = 255.0 - rgb
    ratios = []
    for channel in range(3):
        values = rgb[..., channel]
        paper = ndimage.grey_closing(values, size=(window, window), mode="nearest")
        ratios.append(np.clip((paper - values) / np.maximum(paper, DARK_PAPER), 0.0, 1.0))
    stack = np.stack(ratios)
    # The channel where the ink stands out most (blue ink: red and green), by its peak.
    peaks = [float(np.percentile(r, INK_PEAK_PERCENTILE)) for r in ratios]
    ink = stack[int(np.argmax(peaks))]
    ink = ndimage.uniform_filter(ink, size=3, mode="nearest")  # JPEG and sensor noise
    peak = float(np.percentile(ink, INK_PEAK_PERCENTILE))
    if peak < MIN_INK_RATIO:
        return None
    ink = np.clip(ink / peak, 0.0, 1.0)
    return _drop_border_ink(ink)


def _light_ink(gray: np.ndarray) -> bool:
    """Whether the strokes are lighter than their ground. Against the local median (the
    ground, which is the majority of any neighbourhood, shadows and gradients included), do
    the strongest departures go up rather than down, in a dark image? Worked out on a copy
    at most 64 pixels wide, where a wide median filter is cheap."""
    from scipy import ndimage

    step = max(1, -(-max(gray.shape) // 64))
    small = gray[: gray.shape[0] // step * step, : gray.shape[1] // step * step]
    small = small.reshape(small.shape[0] // step, step, small.shape[1] // step, step).mean((1, 3))
    ground = ndimage.median_filter(small, size=max(3, min(small.shape) // 3) | 1, mode="nearest")
    low, high = np.percentile(small - ground, [0.5, 99.5])
    # A light page with a dark table at its edge has bright departures too: light ink also
    # needs a dark image overall.
    return bool(high > -low and np.median(small) < 127.5)


def _drop_border_ink(ink: np.ndarray) -> np.ndarray:
    """Remove strokes touching the image's edge that are a border (a band along a good part
    of that edge, thin across it: the table, the page's edge, a frame) and, when a stroke away
    from the edges holds a good share of the ink (the digit), every stroke at the edge; a
    digit that itself reaches the edge is kept."""
    from scipy import ndimage

    solid = ink >= PHOTO_INK_LEVELS[0]
    labels, count = ndimage.label(solid, structure=np.ones((3, 3)))
    if count == 0:
        return ink
    height, width = ink.shape
    weights = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    touching = np.zeros(count, dtype=bool)
    border = np.zeros(count, dtype=bool)
    rim_rows, rim_cols = int(EDGE_MARGIN * height), int(EDGE_MARGIN * width)
    for index, (rows, cols) in enumerate(ndimage.find_objects(labels)):
        tall, wide = rows.stop - rows.start, cols.stop - cols.start
        touching[index] = (
            rows.start == 0 or rows.stop == height or cols.start == 0 or cols.stop == width
        )
        # Near the edge is at it, for a band: a tilted photo leaves a rim of paper beyond.
        at_top_or_bottom = rows.start <= rim_rows or rows.stop >= height - rim_rows
        at_side = cols.start <= rim_cols or cols.stop >= width - rim_cols
        # A band along the edge it touches, thin across it (a band from side to side counts
        # as along the top or bottom even when a sliver of paper lies above it).
        along_width = wide >= BORDER_SPAN * width and tall <= BORDER_DEPTH * height
        along_height = tall >= BORDER_SPAN * height and wide <= BORDER_DEPTH * width
        border[index] = (along_width and (at_top_or_bottom or wide == width)) or (
            along_height and (at_side or tall == height)
        )
    inside = weights[~touching]
    if len(inside) and inside.max() >= BORDER_KEEP_SHARE * weights.sum():
        border |= touching
    if not border.any():
        return ink
    return np.where(np.isin(labels, np.flatnonzero(border) + 1), 0.0, ink)


def drop_specks(ink: np.ndarray) -> np.ndarray:
    """Remove small marks lying apart from the digit (dust, a dot of the paper's texture, a
    stray pen mark), which would otherwise widen the ink box and shrink the digit. The digit
    is every stroke holding a good share of the heaviest one's ink; a small piece near it (the
    bar of a 5, a broken stroke) stays."""
    from scipy import ndimage

    labels, count = ndimage.label(ink > 0, structure=np.ones((3, 3)))
    if count < 2:
        return ink
    weights = ndimage.sum_labels(ink, labels, index=np.arange(1, count + 1))
    boxes = ndimage.find_objects(labels)
    heavy = weights >= SPECK_SHARE * weights.max()
    top = min(boxes[i][0].start for i in np.flatnonzero(heavy))
    bottom = max(boxes[i][0].stop for i in np.flatnonzero(heavy))
    left = min(boxes[i][1].start for i in np.flatnonzero(heavy))
    right = max(boxes[i][1].stop for i in np.flatnonzero(heavy))
    gap = SPECK_GAP * max(bottom - top, right - left)
    specks = [
        index + 1
        for index, (rows, cols) in enumerate(boxes)
        if not heavy[index]
        and max(top - rows.stop, rows.start - bottom, left - cols.stop, cols.start - right) > gap
    ]
    if not specks:
        return ink
    return np.where(np.isin(labels, specks), 0.0, ink)
