"""What every loader returns: `ImageDataset` (uint8 images, targets, class names) and
`DatasetSplit` (its training and validation parts, and how uploads are prepared for it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# progress(message, fraction): hears about the slow steps (download, decoding)
Progress = Callable[[str, float], None]


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images as uint8 (N, C, H, W), targets as int64 indices (N,) or float multi-hot (N, K)."""

    images: torch.Tensor
    targets: torch.Tensor
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices: torch.Tensor) -> ImageDataset:
        return ImageDataset(self.images[indices], self.targets[indices], self.class_names)


@dataclass(frozen=True, eq=False)
class DatasetSplit:
    """A dataset's training and validation parts, and how uploads should be prepared for it."""

    name: str
    train: ImageDataset
    valid: ImageDataset
    preprocess: str = "digit"  # "digit" (MNIST-like centring), "digit-pair" or "resize"
    warnings: tuple[str, ...] = ()  # e.g. files skipped because they did not decode

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]


def quiet(message: str, fraction: float) -> None:
    """The progress callback used when nobody listens."""
