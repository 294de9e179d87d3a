"""The work one training image costs: FLOPs of a forward and backward pass, counted by PyTorch's
own `FlopCounterMode` (matrix multiplies and convolutions, 2 FLOPs per multiply-add).
"""

from __future__ import annotations

import copy

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from engine.labels import loss_function


def training_flops_per_image(
    model: nn.Module,
    image_shape: tuple[int, int, int],
    num_classes: int,
    mode: str = "multi-label",
    batch_size: int = 128,
) -> float:
    """FLOPs of forward + loss + backward for one image, averaged over a batch of `batch_size`.

    Counted on a copy of the model on the CPU, so the model handed in is left untouched.
    """
    counted = copy.deepcopy(model).cpu().train()
    images = torch.randn(batch_size, *image_shape)
    if mode == "multi-label":
        targets = torch.zeros(batch_size, num_classes)
        targets[:, 0] = 1.0
    else:
        targets = torch.zeros(batch_size, dtype=torch.long)
    with FlopCounterMode(display=False) as counter:
        loss = loss_function(mode)(counted(images), targets)
        loss.backward()
    return counter.get_total_flops() / batch_size
