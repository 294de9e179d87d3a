"""Augmentation: per-sample random affine transforms and stroke-width jitter on the batch's
device, reproducible for a seed, the same under torchrun's sharding, and training still learns."""

from __future__ import annotations

import math

import pytest
import torch

from engine.augment import AugmentRanges, augment_batch, jitter_strokes
from engine.config import RunConfig
from engine.datasets.loading import load_dataset
from engine.training import fit

NOTHING = AugmentRanges(rotation_degrees=0, scale=0, shear=0, shift=0, stroke=0, bold=0)


def bar_images(count: int) -> torch.Tensor:
    """A horizontal bar through the middle of a dark 28x28 image, -1 background, 1 ink."""
    images = torch.full((count, 1, 28, 28), -1.0)
    images[:, :, 13:15, 6:22] = 1.0
    return images


def bar_angle(image: torch.Tensor) -> float:
    """The angle (degrees) of the ink's main axis, from its second moments."""
    weights = (image[0] + 1).clamp(min=0)
    rows, cols = torch.meshgrid(torch.arange(28.0), torch.arange(28.0), indexing="ij")
    total = weights.sum()
    y, x = (weights * rows).sum() / total, (weights * cols).sum() / total
    yy = (weights * (rows - y) ** 2).sum() / total
    xx = (weights * (cols - x) ** 2).sum() / total
    xy = (weights * (rows - y) * (cols - x)).sum() / total
    return math.degrees(0.5 * math.atan2(float(2 * xy), float(xx - yy)))


def test_no_range_leaves_the_images_as_they_are() -> None:
    images = torch.randn(6, 1, 28, 28)
    out = augment_batch(images, torch.Generator().manual_seed(0), ranges=NOTHING)
    assert out.shape == images.shape
    assert torch.allclose(out, images, atol=1e-5)


def test_each_image_gets_its_own_rotation_within_the_range() -> None:
    ranges = AugmentRanges(scale=0, shear=0, shift=0, stroke=0, bold=0)  # rotation alone
    out = augment_batch(bar_images(64), torch.Generator().manual_seed(1), ranges=ranges)
    angles = [bar_angle(image) for image in out]
    assert max(abs(angle) for angle in angles) <= 15.5
    assert max(angles) > 8 and min(angles) < -8  # both ways, per image
    assert len({round(angle, 2) for angle in angles}) > 50


def test_scale_shear_and_shift_move_and_resize_the_ink() -> None:
    images = bar_images(64)
    out = augment_batch(images, torch.Generator().manual_seed(2), strokes=False)
    ink = (out + 1).clamp(min=0).sum(dim=(1, 2, 3)) / (images + 1).sum(dim=(1, 2, 3))
    assert float(ink.min()) < 0.95 and float(ink.max()) > 1.05  # zoomed out and in
    columns = torch.arange(28.0)
    centres = ((out[:, 0] + 1).clamp(min=0).sum(dim=1) * columns).sum(dim=1) / (
        (out[:, 0] + 1).clamp(min=0).sum(dim=(1, 2))
    )
    assert float(centres.max() - centres.min()) > 2.0  # shifted sideways by up to 2.5 px
    assert bool((out >= -1.0001).all() and (out <= 1.0001).all())  # no new extremes


def test_stroke_jitter_thickens_and_thins_light_strokes() -> None:
    images = bar_images(4)
    out = jitter_strokes(images, torch.tensor([1.0, 0.0, -1.0, 2.0]), erode_weight=1.0)
    rows = ((out[:, 0] > 0).sum(dim=1)).amax(dim=1).tolist()
    assert rows == [4, 2, 0, 6]  # the 2-row bar dilated once, kept, eroded, dilated twice


def test_the_same_seed_gives_the_same_batch_and_another_seed_does_not() -> None:
    images = torch.randn(8, 1, 28, 28)
    first = augment_batch(images, torch.Generator().manual_seed(3))
    again = augment_batch(images, torch.Generator().manual_seed(3))
    other = augment_batch(images, torch.Generator().manual_seed(4))
    assert torch.equal(first, again) and not torch.allclose(first, other)


def test_processes_holding_parts_of_a_batch_augment_it_as_one_process_would() -> None:
    images = torch.randn(10, 1, 28, 28)
    whole = augment_batch(images, torch.Generator().manual_seed(5))
    for positions in (torch.tensor([0, 3, 4, 9]), torch.tensor([1, 2, 5, 6, 7, 8])):
        part = augment_batch(
            images[positions], torch.Generator().manual_seed(5), positions=positions, batch_size=10
        )
        assert torch.allclose(part, whole[positions], atol=1e-6)
    empty = augment_batch(
        images[:0],
        torch.Generator().manual_seed(5),
        positions=torch.tensor([], dtype=torch.long),
        batch_size=10,
    )
    assert empty.shape == (0, 1, 28, 28)


@pytest.mark.slow
def test_training_with_augmentation_still_learns_digits() -> None:
    config = RunConfig().with_changes(
        dataset="mnist-5k", limit=1200, epochs=3, device="cpu", augment=True, mode="multi-class"
    )
    split = load_dataset(config.data)
    result = fit(config, split)
    assert result.history[-1]["val_accuracy"] >= 0.85
    plain = fit(config.with_changes(augment=False), split)
    assert not torch.equal(result.valid_logits, plain.valid_logits)  # augment did change training
