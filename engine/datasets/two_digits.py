"""`two-digits`: genuinely multi-label pairs of digits built from mnist-5k. Train pairs come
from mnist-5k's train part and validation pairs from its validation part, so no digit image
appears on both sides. `make_two_digits` says how one pair is drawn."""

from __future__ import annotations

import functools

import numpy as np
import torch
from PIL import Image

from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.datasets.registry import DIGIT_CLASSES
from engine.datasets.shipped import mnist_5k_arrays
from engine.errors import DatasetError

TWO_DIGITS_SEED = 2  # fixed: the pairs must be the same in every run


def load_two_digits() -> DatasetSplit:
    train_images, train_targets, valid_images, valid_targets = _two_digits_arrays()
    return DatasetSplit(
        "two-digits",
        ImageDataset(train_images.clone(), train_targets.clone(), DIGIT_CLASSES),
        ImageDataset(valid_images.clone(), valid_targets.clone(), DIGIT_CLASSES),
        preprocess="digit-pair",  # uploads are cut in two and laid out as the pairs were
    )


def make_two_digits(
    images: torch.Tensor, labels: torch.Tensor, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of two different digits side by side, and float multi-hot targets (count, 10).

    Each digit is cropped to its ink, shrunk (aspect kept) to fit 20 rows by 12 columns and
    centred in its half of a 28x28 canvas, the pair's rows 4-23 like MNIST's 20-pixel box.
    `images` are uint8 (N, 1, 28, 28) white-on-black digits, `labels` their digit 0-9.
    """
    if len(torch.unique(labels)) < 2:
        raise DatasetError("two-digit images need digits of at least two classes")
    tiles = digit_tiles(images)
    generator = torch.Generator().manual_seed(seed)
    left = torch.randint(len(images), (count,), generator=generator)
    right = torch.randint(len(images), (count,), generator=generator)
    same = labels[left] == labels[right]
    while bool(same.any()):  # redraw until the two digits differ
        right[same] = torch.randint(len(images), (int(same.sum()),), generator=generator)
        same = labels[left] == labels[right]
    canvas = torch.zeros((count, 1, 28, 28), dtype=torch.uint8)
    canvas[:, 0, 4:24, 0:14] = tiles[left]
    canvas[:, 0, 4:24, 14:28] = tiles[right]
    targets = torch.zeros((count, 10), dtype=torch.float32)
    rows = torch.arange(count)
    targets[rows, labels[left].long()] = 1.0
    targets[rows, labels[right].long()] = 1.0
    return canvas, targets


def digit_tiles(images: torch.Tensor) -> torch.Tensor:
    """Each digit cropped to its ink and fitted, aspect kept, into a centred 20x14 tile."""
    tiles = np.zeros((len(images), 20, 14), dtype=np.uint8)
    for index, plane in enumerate(images[:, 0].numpy()):
        rows, cols = np.nonzero(plane > 0)
        if len(rows) == 0:
            continue
        crop = plane[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        scale = min(20 / crop.shape[0], 12 / crop.shape[1])
        height = max(1, round(crop.shape[0] * scale))
        width = max(1, round(crop.shape[1] * scale))
        small = Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR)
        top, left = (20 - height) // 2, (14 - width) // 2
        tiles[index, top : top + height, left : left + width] = np.asarray(small)
    return torch.from_numpy(tiles)


@functools.lru_cache(maxsize=1)
def _two_digits_arrays() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    images, labels, train, valid = mnist_5k_arrays()
    train_images, train_targets = make_two_digits(
        images[train], labels[train], len(train), TWO_DIGITS_SEED
    )
    valid_images, valid_targets = make_two_digits(
        images[valid], labels[valid], len(valid), TWO_DIGITS_SEED + 1
    )
    return train_images, train_targets, valid_images, valid_targets
