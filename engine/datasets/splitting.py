"""Stratified splitting: the seeded train/validation split of a pool, a stratified pick of a
given size, and `limit_split`, which keeps a smaller split with every class in proportion."""

from __future__ import annotations

from dataclasses import replace

import torch

from engine.datasets.dataset import DatasetSplit
from engine.errors import DatasetError
from engine.labels import is_multi_hot


def stratified_split(
    targets: torch.Tensor, valid_fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices (train, valid), each sorted, with every class in both parts in proportion.

    The validation size is round(N * valid_fraction); classes get their share by largest
    remainder, so the total is exact and a 500-per-class set split 0.2 gives exactly 100
    per class. Multi-hot targets are stratified by their first label (all-zero rows apart).
    """
    count = len(targets)
    if not 0.0 < valid_fraction < 1.0:
        raise DatasetError(
            f"valid_fraction must lie strictly between 0 and 1, got {valid_fraction}"
        )
    if count < 2:
        raise DatasetError(f"a split needs at least 2 images, got {count}")
    valid_size = min(max(round(count * valid_fraction), 1), count - 1)
    valid = stratified_pick(targets, valid_size, seed)
    keep = torch.ones(count, dtype=torch.bool)
    keep[valid] = False
    return torch.nonzero(keep).flatten(), valid


def stratified_pick(targets: torch.Tensor, size: int, seed: int) -> torch.Tensor:
    """`size` indices, sorted, with each class in proportion (largest remainder)."""
    strata = _strata(targets)
    classes, counts = torch.unique(strata, return_counts=True)
    quotas = counts.double() * size / len(strata)
    shares = quotas.floor().long()
    leftover = size - int(shares.sum())
    order = sorted(range(len(classes)), key=lambda i: (-(float(quotas[i]) - int(shares[i])), i))
    for i in order[:leftover]:
        shares[i] += 1
    generator = torch.Generator().manual_seed(seed)
    picked = []
    for value, share in zip(classes.tolist(), shares.tolist(), strict=True):
        members = torch.nonzero(strata == value).flatten()
        picked.append(members[torch.randperm(len(members), generator=generator)[:share]])
    return torch.cat(picked).sort().values


def limit_split(split: DatasetSplit, limit: int, seed: int) -> DatasetSplit:
    """Keep `limit` images in all, each part in proportion and stratified."""
    total = len(split.train) + len(split.valid)
    train_size = min(max(round(limit * len(split.train) / total), 1), limit - 1)
    train = split.train.subset(stratified_pick(split.train.targets, train_size, seed))
    valid = split.valid.subset(stratified_pick(split.valid.targets, limit - train_size, seed))
    return replace(split, train=train, valid=valid)


def _strata(targets: torch.Tensor) -> torch.Tensor:
    """Class index per image; multi-hot rows by their first label, all-zero rows apart."""
    if not is_multi_hot(targets):
        return targets.long()
    labelled = targets.sum(dim=1) > 0
    return torch.where(labelled, targets.argmax(dim=1), targets.shape[1])
