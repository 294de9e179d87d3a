"""Uploaded images in, model-ready uint8 tensors out.

This package's face: what callers use, re-exported from the module that owns it.

    decode    decode_image: bytes from a stranger to a plain "L" or "RGB" image, or an
              ImageError that says what to do; header_pixels; the upload limits
    prepare   preprocess: a decoded image as the uint8 (C, H, W) tensor a run's model expects,
              by the run's style (PREPROCESS_STYLES)
    digits    the MNIST recipe: digit_ink, and the ink fitted into 20x20 and centred by mass
    strokes   thin strokes thickened to MNIST's width
    photos    photo_ink: a photographed digit's ink, paper and light, borders and specks removed
    pairs     two digits side by side, cut apart and centred in their halves
    display   to_display: a uint8 (C, H, W) image as image widgets want it

Inside the package, photos and strokes import nothing of it, digits builds on both, pairs on
digits, and prepare on digits and pairs; decode and display stand alone. Normalisation to the
training statistics and the forward pass live in engine/prediction.py.
"""

from __future__ import annotations

from engine.images.decode import (
    FORMATS,
    LARGE_DECODE_PIXELS,
    MAX_LARGE_DECODES,
    MAX_PIXELS,
    MAX_UPLOAD_BYTES,
    MAX_WORKING_SIDE,
    decode_image,
    header_pixels,
)
from engine.images.digits import digit_ink
from engine.images.display import to_display
from engine.images.photos import photo_ink
from engine.images.prepare import PREPROCESS_STYLES, preprocess

__all__ = [
    "FORMATS",
    "LARGE_DECODE_PIXELS",
    "MAX_LARGE_DECODES",
    "MAX_PIXELS",
    "MAX_UPLOAD_BYTES",
    "MAX_WORKING_SIDE",
    "PREPROCESS_STYLES",
    "decode_image",
    "digit_ink",
    "header_pixels",
    "photo_ink",
    "preprocess",
    "to_display",
]
