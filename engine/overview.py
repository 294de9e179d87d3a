"""What the dashboard shows before any training: class counts, sample images, one target in
both label modes, and a model's head before and after it is reset for a dataset.

Plain data (DataFrames, numpy arrays, dataclasses) built from the engine's datasets and
models, so the dashboard's pages only draw. Loading data lives in engine/datasets/, heads in
engine/models.py; this module only reads them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.config import ModelConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.images.display import to_display
from engine.labels import is_multi_hot, to_multi_label
from engine.model_names import BUILT_IN_MODELS

PUBLISHED_CLASSES = 1000  # ImageNet: the head every torchvision classifier is published with


def class_counts(split: DatasetSplit) -> pd.DataFrame:
    """One row per (class, part) with the number of images carrying that label.

    Multi-hot targets count an image once for every label it carries.
    """
    rows = []
    for part, dataset in (("train", split.train), ("valid", split.valid)):
        counts = _label_counts(dataset)
        for index, name in enumerate(dataset.class_names):
            rows.append({"class": name, "part": part, "count": int(counts[index])})
    return pd.DataFrame(rows, columns=["class", "part", "count"])


def labels_per_image(split: DatasetSplit) -> pd.DataFrame:
    """How many labels each image carries: one row per (labels, part) with the image count.

    A single-label dataset has every image at 1; a multi-label one spreads over 0 ("none"),
    1, 2, ... as fastbook's PASCAL does.
    """
    rows = []
    for part, dataset in (("train", split.train), ("valid", split.valid)):
        if is_multi_hot(dataset.targets):
            per_image = (dataset.targets > 0.5).sum(dim=1)
        else:
            per_image = torch.ones(len(dataset), dtype=torch.int64)
        counts = torch.bincount(per_image.long(), minlength=1)
        for labels, count in enumerate(counts.tolist()):
            if count:
                rows.append({"labels": labels, "part": part, "images": int(count)})
    return pd.DataFrame(rows, columns=["labels", "part", "images"])


def _label_counts(dataset: ImageDataset) -> torch.Tensor:
    if is_multi_hot(dataset.targets):
        return (dataset.targets > 0.5).sum(dim=0)
    return torch.bincount(dataset.targets.long(), minlength=dataset.num_classes)


def sample_images(
    dataset: ImageDataset, per_class: int = 2, seed: int = 0
) -> list[tuple[np.ndarray, str]]:
    """A few images per class as displayable arrays (H, W) or (H, W, C), with their label.

    Multi-hot data is sampled per label set ("cat + dog", "none", ...), one more group than
    there are classes, so images of no class and of several show too.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(dataset), generator=generator)
    multi_hot = is_multi_hot(dataset.targets)
    wanted = per_class * (dataset.num_classes + (1 if multi_hot else 0))
    taken: dict[object, int] = {}
    samples = []
    for index in order.tolist():
        labels = _labels_of(dataset, index)
        group = tuple(labels) if multi_hot else (labels[0] if labels else -1)
        if taken.get(group, 0) >= per_class:
            continue
        taken[group] = taken.get(group, 0) + 1
        caption = " + ".join(dataset.class_names[i] for i in labels) or "none"
        samples.append((to_display(dataset.images[index]), caption))
        if len(samples) >= wanted:
            break
    return sorted(samples, key=lambda sample: sample[1])


def _labels_of(dataset: ImageDataset, index: int) -> list[int]:
    target = dataset.targets[index]
    if target.ndim == 1:
        return torch.nonzero(target > 0.5).flatten().tolist()
    return [int(target)]


@dataclass(frozen=True)
class TargetExample:
    """One image's target as multi-class training sees it and as multi-label training sees it."""

    index: int  # position in the dataset
    image: np.ndarray
    class_index: int | None  # None for images that carry several labels or none
    class_name: str
    multi_label: tuple[int, ...]  # the one-hot (or multi-hot) vector, 0/1 per class

    @property
    def multi_label_text(self) -> str:
        return "[" + ",".join(str(value) for value in self.multi_label) + "]"


def target_example(dataset: ImageDataset, prefer_class: int = 7) -> TargetExample:
    """The first image of `prefer_class` (7: the classic 1-or-7 digit), else the first image."""
    index = 0
    if not is_multi_hot(dataset.targets):
        matches = torch.nonzero(dataset.targets == prefer_class).flatten()
        if len(matches):
            index = int(matches[0])
    target = dataset.targets[index : index + 1]
    vector = to_multi_label(target, dataset.num_classes)[0]
    labels = torch.nonzero(vector > 0.5).flatten().tolist()
    return TargetExample(
        index=index,
        image=to_display(dataset.images[index]),
        class_index=labels[0] if len(labels) == 1 else None,
        class_name=" + ".join(dataset.class_names[i] for i in labels) or "none",
        multi_label=tuple(int(value) for value in vector.round().tolist()),
    )


@dataclass(frozen=True)
class HeadChange:
    """A model's head as published and after `reset_classifier` for the chosen dataset."""

    before: object  # engine.models.HeadDescription
    after: object  # engine.models.HeadDescription
    num_classes: int
    before_origin: str = ""  # where the "before" head comes from, in words


def head_change(
    config: ModelConfig, num_classes: int, image_shape: tuple[int, int, int]
) -> HeadChange:
    """Build the architecture as it comes, then reset its head to `num_classes` outputs and
    apply `config.freeze_body`, describing the head each time. A torchvision model comes with
    the 1000-class ImageNet head it is published with; a built-in net (cnn, mlp) has no
    published head and is built for the dataset, so its own head already has the dataset's
    outputs and the reset puts a fresh one of the same shape in its place.
    """
    from engine import models  # imported here: models pull in torchvision, slow to import

    built_in = config.name in BUILT_IN_MODELS
    classes = num_classes if built_in else PUBLISHED_CLASSES
    model = models.build_model(
        ModelConfig(name=config.name, pretrained=False, freeze_body=False), classes, image_shape
    )
    before = models.describe_head(model)
    models.reset_classifier(model, num_classes)
    models.freeze_body(model, config.freeze_body)
    after = models.describe_head(model)
    origin = (
        f"As built: {config.name} is built for the dataset, with its own {num_classes}-output "
        "head (it has no published head)."
        if built_in
        else f"As published, with the standard {PUBLISHED_CLASSES}-class (ImageNet) head."
    )
    return HeadChange(before=before, after=after, num_classes=num_classes, before_origin=origin)
