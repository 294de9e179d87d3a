"""Scaling: how time per epoch grows with the training set, from 1k to 60k images.

Larger sets are made from the default by replication with augmentation: every copy after the
first is shifted by up to two pixels in each direction (the digits have a blank border, so
nothing is cut off), which keeps the images realistic without any download.
"""

from __future__ import annotations

import torch

from engine.datasets.dataset import DatasetSplit, ImageDataset

SIZES = (1_000, 5_000, 20_000, 60_000)
MAX_SHIFT = 2
IMAGES_PER_SIZE = 20_000  # small sets repeat epochs until they have trained about this many
MAX_EPOCHS = 5


def epochs_for(size: int, minimum: int = 2) -> int:
    """Epochs to time at `size`: at least `minimum`, more for small sets (up to MAX_EPOCHS)."""
    return max(minimum, min(MAX_EPOCHS, IMAGES_PER_SIZE // max(size, 1)))


def shifted(images: torch.Tensor, down: int, right: int) -> torch.Tensor:
    """Images moved by (down, right) pixels, filling the uncovered border with zeros."""
    height, width = images.shape[-2:]
    padded = torch.nn.functional.pad(images, (MAX_SHIFT,) * 4)
    top, left = MAX_SHIFT - down, MAX_SHIFT - right
    return padded[..., top : top + height, left : left + width]


def grow_training_set(split: DatasetSplit, size: int, seed: int = 0) -> DatasetSplit:
    """The split with exactly `size` training images: the originals first (cut when `size` is
    smaller), then shifted copies; the validation part is left as it is."""
    train = split.train
    generator = torch.Generator().manual_seed(seed)
    images, targets, have = [], [], 0
    while have < size:
        take = min(len(train), size - have)
        chunk = train.images[:take]
        if have:
            moves = torch.randint(-MAX_SHIFT, MAX_SHIFT + 1, (take, 2), generator=generator)
            chunk = chunk.clone()
            for down in range(-MAX_SHIFT, MAX_SHIFT + 1):
                for right in range(-MAX_SHIFT, MAX_SHIFT + 1):
                    chosen = (moves[:, 0] == down) & (moves[:, 1] == right)
                    chunk[chosen] = shifted(chunk[chosen], down, right)
        images.append(chunk)
        targets.append(train.targets[:take])
        have += take
    grown = ImageDataset(torch.cat(images), torch.cat(targets), train.class_names)
    return DatasetSplit(split.name, grown, split.valid, split.preprocess)
