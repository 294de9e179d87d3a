"""A decoded image prepared the way a run's data was: `preprocess` dispatches on the run's
style ("digit", "digit-pair" or "resize", `PREPROCESS_STYLES`) to the module that owns it.

Normalisation to the training statistics and the forward pass live in engine/prediction.py.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image, ImageOps

from engine.images.digits import digit_canvas, digit_ink
from engine.images.pairs import pair_canvas

PREPROCESS_STYLES = ("digit", "digit-pair", "resize")


def preprocess(image: Image.Image, style: str, image_shape: tuple[int, int, int]) -> torch.Tensor:
    """Turn a decoded image into the uint8 (C, H, W) tensor a run's model was trained on.

    "digit" (MNIST-like data): grayscale, invert when the background is light, crop to the ink,
    fit into a 20x20 box (for 28x28) keeping the aspect ratio, centre by mass. Photos (from
    PHOTO_SIDE pixels) are cleaned first (`photo_ink`): uneven light and paper texture
    removed, the ink's colour found, borders at the edges ignored. A blank or featureless
    image gives an all-zero canvas, not an error.
    "digit-pair" (the two-digits set): the same ink, cut between its two digits, each digit
    fitted into 20 rows by 12 columns and centred in its own half, as that set was built.
    "resize" (photos): convert to the run's channels and resize to (H, W), keeping the aspect
    ratio by cropping the centre (like torchvision's Resize + CenterCrop).
    """
    channels, height, width = (int(v) for v in image_shape)
    if channels not in (1, 3):
        raise ValueError(f"image_shape {tuple(image_shape)}: expected 1 or 3 channels")
    if style in ("digit", "digit-pair"):
        ink = digit_ink(image)
        if ink is None:
            canvas = np.zeros((height, width), dtype=np.uint8)
        elif style == "digit":
            canvas = digit_canvas(ink, height, width)
        else:
            canvas = pair_canvas(ink, height, width)
        array = np.repeat(canvas[None], channels, axis=0)
    elif style == "resize":
        fitted = ImageOps.fit(
            image.convert("L" if channels == 1 else "RGB"),
            (width, height),
            Image.Resampling.LANCZOS,
        )
        array = np.array(fitted, dtype=np.uint8)  # a copy: torch wants writable memory
        array = array[None] if channels == 1 else array.transpose(2, 0, 1)
    else:
        raise ValueError(f"unknown preprocess style {style!r}; expected one of {PREPROCESS_STYLES}")
    return torch.from_numpy(np.ascontiguousarray(array))
