"""What the Data and Model pages show: class counts, samples, a target in both label modes,
and the head before and after it is reset."""

from __future__ import annotations

import torch

from engine import overview
from engine.config import ModelConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset


def _split() -> DatasetSplit:
    images = torch.arange(8 * 3 * 4 * 4, dtype=torch.int64).remainder(256).to(torch.uint8)
    train = ImageDataset(
        images.view(8, 3, 4, 4), torch.tensor([0, 1, 1, 2, 2, 2, 0, 1]), ("a", "b", "c")
    )
    valid = ImageDataset(images.view(8, 3, 4, 4)[:3], torch.tensor([2, 2, 0]), ("a", "b", "c"))
    return DatasetSplit("tiny", train, valid, "resize")


def test_class_counts_per_part() -> None:
    counts = overview.class_counts(_split())
    table = counts.pivot(index="class", columns="part", values="count")
    assert table["train"].to_dict() == {"a": 2, "b": 3, "c": 3}
    assert table["valid"].to_dict() == {"a": 1, "b": 0, "c": 2}


def test_multi_hot_images_count_once_per_label() -> None:
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    data = ImageDataset(torch.zeros(3, 1, 2, 2, dtype=torch.uint8), targets, ("a", "b", "c"))
    counts = overview.class_counts(DatasetSplit("pairs", data, data, "digit"))
    train = counts[counts["part"] == "train"].set_index("class")["count"].to_dict()
    assert train == {"a": 1, "b": 2, "c": 0}


def test_target_example_prefers_a_seven_and_shows_both_forms() -> None:
    targets = torch.tensor([3, 7, 7, 1])
    data = ImageDataset(torch.zeros(4, 1, 2, 2, dtype=torch.uint8), targets, tuple("0123456789"))
    example = overview.target_example(data)
    assert example.index == 1
    assert example.class_index == 7 and example.class_name == "7"
    assert example.multi_label == (0, 0, 0, 0, 0, 0, 0, 1, 0, 0)
    assert example.multi_label_text == "[0,0,0,0,0,0,0,1,0,0]"
    assert example.image.shape == (2, 2)


def test_target_example_of_a_multi_hot_image() -> None:
    targets = torch.tensor([[0.0, 1.0, 1.0]])
    data = ImageDataset(torch.zeros(1, 3, 2, 2, dtype=torch.uint8), targets, ("a", "b", "c"))
    example = overview.target_example(data)
    assert example.class_index is None
    assert example.class_name == "b + c"
    assert example.multi_label_text == "[0,1,1]"
    assert example.image.shape == (2, 2, 3)  # colour images come back channels-last


def test_sample_images_take_a_few_per_class() -> None:
    samples = overview.sample_images(_split().train, per_class=1)
    assert [label for _, label in samples] == ["a", "b", "c"]
    assert all(image.shape == (4, 4, 3) for image, _ in samples)


def test_head_change_of_a_built_in_net_starts_from_its_own_head() -> None:
    # cnn and mlp have no published ImageNet head: "before" is the head they are built with.
    change = overview.head_change(ModelConfig(name="mlp", freeze_body=True), 3, (1, 28, 28))
    assert change.before.out_features == 3
    assert "ImageNet" not in change.before_origin and "own 3-output head" in change.before_origin
    assert change.after.out_features == 3
    assert "out_features=3" in change.after.text
    assert change.after.trainable_params == change.after.head_params
    assert change.after.frozen_params > 0
    assert change.before.frozen_params == 0


def test_head_change_of_a_torchvision_model_starts_from_its_published_head() -> None:
    change = overview.head_change(ModelConfig(name="resnet18"), 3, (1, 28, 28))
    assert change.before.out_features == overview.PUBLISHED_CLASSES
    assert "ImageNet" in change.before_origin
    assert change.after.out_features == 3
