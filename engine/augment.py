"""Per-sample random augmentation of a training batch, on the batch's own device.

`augment_batch` gives every image its own random affine transform (rotation, scale, shear and
shift, one `affine_grid` + `grid_sample` for the whole batch) and, for digit-like data (light
ink on a dark background), its own stroke-width jitter: a blend towards the image dilated or
eroded by a 3x3 max-pool. No DataLoader and no per-image Python: the batch stays a tensor on
the training device, which keeps the data-resident training loop fast.

The random numbers come from the CPU generator the loop already uses, drawn for the whole
(global) batch: a torchrun process that holds only some images of the batch picks their rows
by `positions`, so the processes together augment every image as one process would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AugmentRanges:
    """How far each random change may go (uniform draws in +-range)."""

    rotation_degrees: float = 15.0
    scale: float = 0.15  # zoom factor in 1 +- scale
    shear: float = 0.25  # horizontal shear factor (0.25 leans a stroke about 14 degrees)
    shift: float = 2.5 / 14  # fraction of half the image side: 2.5 pixels of a 28-pixel image
    stroke: float = 1.0  # blend weight towards the dilated (>0) or eroded (<0) image
    bold: float = 1.0  # extra dilation beyond one 3x3 step (marker pens, bold fonts)
    erode_weight: float = 0.6  # erosion removes thin strokes: it is blended in more gently


DEFAULT_RANGES = AugmentRanges()


def augment_batch(
    images: torch.Tensor,
    generator: torch.Generator,
    strokes: bool = True,
    positions: torch.Tensor | None = None,
    batch_size: int | None = None,
    ranges: AugmentRanges = DEFAULT_RANGES,
) -> torch.Tensor:
    """Randomly transform each image of the float batch `images` (N, C, H, W).

    `strokes` adds the stroke-width jitter (meant for light ink on a dark background, such as
    normalised MNIST digits). Under torchrun `positions` (where these images sit in the whole
    batch) and `batch_size` (that batch's size) keep every process's draws in step.
    """
    total = len(images) if positions is None else int(batch_size or 0)
    draws = torch.rand((total, 6), generator=generator) * 2 - 1  # uniform in [-1, 1)
    if positions is not None:
        draws = draws[positions.cpu()]
    if len(images) == 0:
        return images
    draws = draws.to(images.device, images.dtype)
    angle = draws[:, 0] * math.radians(ranges.rotation_degrees)
    scale = 1 + draws[:, 1] * ranges.scale
    shear = draws[:, 2] * ranges.shear
    shift = draws[:, 3:5] * ranges.shift
    out = images
    if strokes:
        amount = draws[:, 5] * (ranges.stroke + ranges.bold / 2) + ranges.bold / 2
        out = jitter_strokes(out, amount, ranges.erode_weight)
    # affine_grid maps each output position to where it reads the input.
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [
            torch.stack([cos, -sin + shear * cos, shift[:, 0]], dim=1),
            torch.stack([sin, cos + shear * sin, shift[:, 1]], dim=1),
        ],
        dim=1,
    )
    grid = F.affine_grid(theta, list(out.shape), align_corners=False)
    out = F.grid_sample(
        out.contiguous(), grid, mode="bilinear", padding_mode="border", align_corners=False
    )
    return out.contiguous(memory_format=torch.channels_last)


def jitter_strokes(
    images: torch.Tensor, amount: torch.Tensor, erode_weight: float = 0.6
) -> torch.Tensor:
    """Thicken (amount > 0) or thin (amount < 0) light strokes by a blend with 3x3 max-pools.

    `amount` (N,): 1 is the image dilated once, 2 twice (in between: a blend), -1
    `erode_weight` of the way to the eroded image, 0 the image unchanged.
    """
    dilated = F.max_pool2d(images, 3, stride=1, padding=1)
    eroded = -F.max_pool2d(-images, 3, stride=1, padding=1)
    once = amount.clamp(0, 1)[:, None, None, None]
    shrink = (-amount).clamp(min=0)[:, None, None, None] * erode_weight
    out = images + once * (dilated - images) + shrink * (eroded - images)
    if bool((amount > 1).any()):
        twice = F.max_pool2d(dilated, 3, stride=1, padding=1)
        more = (amount - 1).clamp(0, 1)[:, None, None, None]
        out = out + more * (twice - dilated)
    return out
