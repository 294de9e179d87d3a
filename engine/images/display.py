"""The one converter from the engine's uint8 (C, H, W) images to what image widgets show."""

from __future__ import annotations

import numpy as np
import torch


def to_display(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """A uint8 (C, H, W) image as image widgets and PIL want it: (H, W) for one channel,
    (H, W, C) otherwise, as a contiguous uint8 array."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    array = array[0] if array.shape[0] == 1 else np.transpose(array, (1, 2, 0))
    return np.ascontiguousarray(array, dtype=np.uint8)
