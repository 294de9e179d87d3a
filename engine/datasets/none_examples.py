"""Non-digits in training (`DataConfig.none_examples`): generated letters, shapes and strokes
appended to the training part with all-zero targets. The images themselves come from
engine/nondigits.py."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch

from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.errors import DatasetError
from engine.labels import to_multi_label
from engine.nondigits import NON_DIGIT_KINDS, make_non_digits

# Seeds the non-digits added to training. Evaluation sets of unseen non-digits must use
# another seed (make_non_digits' default 0 is fine): the images then differ.
NON_DIGIT_TRAIN_SEED = 1_000_003


def add_non_digits(
    split: DatasetSplit,
    count: int,
    seed: int = NON_DIGIT_TRAIN_SEED,
    kinds: Sequence[str] = NON_DIGIT_KINDS,
) -> DatasetSplit:
    """Append `count` generated non-digits (of `kinds`) with all-zero targets to the training
    part.

    A "none of the classes" target only exists as a multi-hot row of zeros, so the training
    targets become float (N, K); multi-class training then refuses them with a clear message.
    """
    train = split.train
    _, channels, height, width = train.images.shape
    if height != width:
        raise DatasetError("non-digit examples need square images")
    extra, _ = make_non_digits(count, seed=seed, size=height, kinds=kinds)
    extra = extra.expand(-1, channels, -1, -1)
    targets = to_multi_label(train.targets, train.num_classes)
    zeros = torch.zeros((count, train.num_classes), dtype=targets.dtype)
    grown = ImageDataset(
        torch.cat([train.images, extra]), torch.cat([targets, zeros]), train.class_names
    )
    return replace(split, train=grown)
