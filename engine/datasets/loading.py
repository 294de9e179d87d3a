"""`load_dataset`: the one entry point. It finds the loader a dataset name asks for (a row of
engine/datasets/registry.py, or `folder:`/`zip:`), then applies the config's `limit` (a
stratified subset of each part, in proportion) and `none_examples` (generated non-digits with
all-zero targets appended to training, which turns its targets into float multi-hot (N, K))."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from engine.config import DataConfig
from engine.datasets.dataset import DatasetSplit, Progress, quiet
from engine.datasets.folders import load_folder, load_zip
from engine.datasets.none_examples import add_non_digits
from engine.datasets.registry import (
    DatasetInfo,
    available_datasets,
    default_data_root,
    find_dataset,
)
from engine.datasets.shipped import load_mnist_5k, load_shipped_mnist
from engine.datasets.splitting import limit_split
from engine.datasets.torchvision_sets import load_torchvision
from engine.datasets.two_digits import load_two_digits
from engine.errors import DatasetError


def load_dataset(config: DataConfig, progress: Progress | None = None) -> DatasetSplit:
    """Load the dataset `config` names, split, limited and with non-digits added as asked.

    `progress(message, fraction)` hears about the slow steps (download, decoding) so a page
    can draw a bar. Every call returns fresh tensors: callers may change them freely.
    """
    report = progress or quiet
    name = config.dataset.strip()
    if config.limit is not None and config.limit < 2:
        raise DatasetError("limit must be at least 2 (one training and one validation image)")
    if config.none_examples < 0:
        raise DatasetError("none_examples cannot be negative")
    info = find_dataset(name)
    if info is not None:
        split = _load_built_in(info, config, report)
    elif name.startswith("folder:"):
        split = load_folder(Path(name.removeprefix("folder:")).expanduser(), name, config, report)
    elif name.startswith("zip:"):
        split = load_zip(Path(name.removeprefix("zip:")).expanduser(), name, config, report)
    else:
        known = ", ".join(row.name for row in available_datasets())
        raise DatasetError(
            f"unknown dataset {name!r}: use one of {known}, folder:PATH (one sub-folder per "
            "class, or images with a CSV of labels) or zip:PATH.zip"
        )
    if config.limit is not None and len(split.train) + len(split.valid) > config.limit:
        split = limit_split(split, config.limit, config.split_seed)
    if info is not None and info.fixed_split and config.valid_fraction != DataConfig.valid_fraction:
        ignored = (
            f"{name} has a fixed split ({info.fixed_split}): the validation fraction "
            f"{config.valid_fraction:g} was ignored"
        )
        split = replace(split, warnings=(*split.warnings, ignored))
    if config.none_examples:
        split = add_non_digits(split, config.none_examples)
    report("dataset ready", 1.0)
    return split


def _load_built_in(info: DatasetInfo, config: DataConfig, report: Progress) -> DatasetSplit:
    """The loader the row's `source` names."""
    if info.source == "mnist-5k":
        return load_mnist_5k()
    if info.source == "two-digits":
        return load_two_digits()
    root = Path(config.root).expanduser() if config.root else default_data_root()
    if info.source == "mnist":
        return load_shipped_mnist(root, report)
    return load_torchvision(info, config, root, report)
