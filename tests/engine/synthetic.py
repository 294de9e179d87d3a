"""Small data whose right answers are known, shared by the engine's tests (plain functions
and constants; the shared fixtures live in tests/conftest.py)."""

from __future__ import annotations

import torch

from engine.datasets.dataset import DatasetSplit, ImageDataset


def blocks_split(per_class: int = 12, num_classes: int = 3, seed: int = 0) -> DatasetSplit:
    """Separable 28x28 images: class k is a bright 8x8 block in its own place, on noise."""
    generator = torch.Generator().manual_seed(seed)

    def make(count: int) -> ImageDataset:
        targets = torch.arange(num_classes).repeat_interleave(count)
        images = torch.randint(0, 60, (len(targets), 1, 28, 28), generator=generator)
        for index, label in enumerate(targets.tolist()):
            top = 2 + 9 * label
            images[index, 0, top : top + 8, top : top + 8] = 255
        names = tuple(str(k) for k in range(num_classes))
        return ImageDataset(images.to(torch.uint8), targets, names)

    return DatasetSplit("blocks", make(per_class), make(per_class // 2))


# Four hand-made sigmoid outputs over classes a, b, c:
# image 0: a and b fire (true a); image 1: b and c fire (true b);
# image 2: nothing fires (true c, argmax says a); image 3: only a fires (true a).
FOUR_NAMES = ("a", "b", "c")
FOUR_PROBABILITIES = torch.tensor(
    [
        [0.9, 0.8, 0.1],
        [0.2, 0.7, 0.6],
        [0.3, 0.2, 0.25],
        [0.6, 0.1, 0.1],
    ]
)
FOUR_TARGETS = torch.tensor([0, 1, 2, 0])
