"""The built-in networks: a small CNN for 28x28 digits and a plain MLP.

Both are split the timm way into a body (`features`) and a head (`head`, a plain `nn.Linear`).
Nothing follows the head: the logits go straight to the loss, so they can be negative, which
multi-label training needs (fastai's SimpleCNN ended in a ReLU and its sigmoids could never
drop below 0.5). Which attribute is the head, and how heads are swapped, is engine/models.py's
business.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def _conv_block(in_channels: int, out_channels: int) -> list[nn.Module]:
    """3x3 convolution, halve the resolution, then batch norm and ReLU.

    Pooling first runs the norm and the ReLU on a quarter of the pixels: on mnist-5k this cut
    a third of the CPU time at the same accuracy (measured against conv-norm-ReLU-pool).
    """
    return [
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(inplace=True),
    ]


class DigitCNN(nn.Module):
    """Three conv blocks (16, 32, 64 channels), each halving the image, then one Linear.

    On 28x28 digits the body leaves 64 x 3 x 3 features, so the head is Linear(576, K):
    about 30k parameters in all (~120 KB of weights), fast on a 2-core CPU.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 1,
        image_size: tuple[int, int] = (28, 28),
        widths: tuple[int, ...] = (16, 32, 64),
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        channels = in_channels
        height, width = image_size
        for out_channels in widths:
            layers += _conv_block(channels, out_channels)
            channels = out_channels
            height, width = height // 2, width // 2
        if height < 1 or width < 1:
            raise ValueError(f"images of {image_size} are too small for {len(widths)} blocks")
        # Larger images are pooled down to at most 3x3, so the head stays small.
        pooled = (min(height, 3), min(width, 3))
        if pooled != (height, width):
            layers.append(nn.AdaptiveAvgPool2d(pooled))
        layers.append(nn.Flatten())
        self.features = nn.Sequential(*layers)
        self.num_features = channels * pooled[0] * pooled[1]
        self.head = nn.Linear(self.num_features, num_classes)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class MLP(nn.Module):
    """Flatten, Linear, ReLU, Linear: the classic baseline, ending in a plain Linear."""

    def __init__(
        self, num_classes: int, image_shape: tuple[int, int, int] = (1, 28, 28), hidden: int = 128
    ) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(image_shape), hidden), nn.ReLU(inplace=True)
        )
        self.num_features = hidden
        self.head = nn.Linear(hidden, num_classes)

    def forward_features(self, images: torch.Tensor) -> torch.Tensor:
        return self.features(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))
