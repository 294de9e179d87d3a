"""The built-in datasets, one row each: what the dashboard and `python -m engine datasets`
list, and what `engine.datasets.loading` reads to load one. Torch-free, so listing is instant.

`folder:PATH` and `zip:PATH` come on top of these rows (engine/datasets/folders.py).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

DIGIT_CLASSES: tuple[str, ...] = tuple("0123456789")
MAX_CLASSES = 100  # classes in a dataset (and a run): more make every pair analysis crawl
# The fields a listing shows (`datasets --json`, the dashboard); the others say how to load.
LISTED_FIELDS = ("name", "title", "description", "offline", "preprocess")


@dataclass(frozen=True)
class DatasetInfo:
    """One built-in dataset: how it is listed, and how `load_dataset` reads it."""

    name: str
    title: str
    description: str
    offline: bool  # ships with the engine: no download ever needed
    preprocess: str  # how uploads are prepared: "digit", "digit-pair" or "resize"
    # Which loader reads it: "mnist-5k", "two-digits", "mnist" (shipped, read by torchvision)
    # or "torchvision" (the official files under the data root).
    source: str = field(repr=False)
    torchvision_class: str | None = field(default=None, repr=False)  # also its folder
    download_size: str | None = field(default=None, repr=False)
    fixed_split: str | None = field(default=None, repr=False)  # valid_fraction does not apply

    def listing(self) -> dict[str, object]:
        """The row as listed: name, title, description, offline, preprocess."""
        return {name: getattr(self, name) for name in LISTED_FIELDS}


_DATASETS = (
    DatasetInfo(
        "mnist-5k",
        "MNIST 5k (built in)",
        "5,000 handwritten digits shipped with the engine; a fixed, stratified split of "
        "4,000 training and 1,000 validation images.",
        offline=True,
        preprocess="digit",
        source="mnist-5k",
        fixed_split="4,000 training and 1,000 validation images",
    ),
    DatasetInfo(
        "two-digits",
        "Two digits (multi-label)",
        "Pairs of different mnist-5k digits side by side, both labels set: 4,000 training "
        "and 1,000 validation images. Trains in multi-label mode only.",
        offline=True,
        preprocess="digit-pair",
        source="two-digits",
        fixed_split="4,000 training and 1,000 validation images",
    ),
    DatasetInfo(
        "mnist",
        "MNIST (full, built in)",
        "All 70,000 MNIST digits, shipped with the engine and read by torchvision: the 60,000 "
        "training digits for training, MNIST's official 10,000 test digits for validation.",
        offline=True,
        preprocess="digit",
        source="mnist",
        torchvision_class="MNIST",
        download_size="about 12 MB",
    ),
    DatasetInfo(
        "fashion-mnist",
        "Fashion-MNIST (torchvision)",
        "Zalando's 28x28 grayscale clothing images in 10 classes. Downloads about 30 MB.",
        offline=False,
        preprocess="digit",
        source="torchvision",
        torchvision_class="FashionMNIST",
        download_size="about 30 MB",
    ),
    DatasetInfo(
        "kmnist",
        "Kuzushiji-MNIST (torchvision)",
        "Ten cursive Japanese (hiragana) characters, 28x28 grayscale. Downloads about 20 MB.",
        offline=False,
        preprocess="digit",
        source="torchvision",
        torchvision_class="KMNIST",
        download_size="about 20 MB",
    ),
    DatasetInfo(
        "cifar10",
        "CIFAR-10 (torchvision)",
        "32x32 colour photos of 10 kinds of objects and animals. Downloads about 170 MB.",
        offline=False,
        preprocess="resize",
        source="torchvision",
        torchvision_class="CIFAR10",
        download_size="about 170 MB",
    ),
)


def available_datasets() -> list[DatasetInfo]:
    """Built-in datasets, the offline default (`mnist-5k`) first. `folder:`/`zip:` come on top."""
    return list(_DATASETS)


def find_dataset(name: str) -> DatasetInfo | None:
    """The built-in dataset called `name`, or None."""
    return next((info for info in _DATASETS if info.name == name), None)


def default_data_root() -> Path:
    """Where downloadable datasets live: $LME_DATA_DIR, else ~/.cache/label-mode-explorer."""
    configured = os.environ.get("LME_DATA_DIR")
    return (
        Path(configured).expanduser()
        if configured
        else Path.home() / ".cache" / "label-mode-explorer"
    )
