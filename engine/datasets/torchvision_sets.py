"""`fashion-mnist`, `kmnist`, `cifar10`: torchvision's own classes reading their official files
under `DataConfig.root` (default `default_data_root()`). The official training set is the
pool, split stratified by `valid_fraction` and `split_seed`; the official test set is left
alone (kept for a final check, never tuned on). Also `as_tensors`, torchvision's arrays in the
engine's layout, which the shipped MNIST uses too."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from engine.config import DataConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset, Progress
from engine.datasets.registry import DatasetInfo
from engine.datasets.splitting import stratified_split
from engine.errors import DatasetError


def load_torchvision(
    info: DatasetInfo, config: DataConfig, root: Path, report: Progress
) -> DatasetSplit:
    """The official training set of `info`'s torchvision class under `root`, split stratified
    by the config's `valid_fraction` and `split_seed`."""
    import torchvision.datasets  # imported here: it is slow to import and only needed here

    download = config.download
    class_name = str(info.torchvision_class)
    dataset_class = getattr(torchvision.datasets, class_name)
    if download:
        report(f"downloading {class_name} ({info.download_size}) into {root}", 0.0)
    else:
        report(f"reading {class_name} from {root}", 0.0)
    try:
        dataset = dataset_class(root=str(root), train=True, download=download)
    except (RuntimeError, OSError) as error:
        raise DatasetError(
            _missing_files_message(info.name, class_name, root, download, error),
            for_visitor=(
                f"{info.name} could not be downloaded here: try again later, or choose "
                "mnist-5k, which ships with the app"
                if download
                else f"{info.name} is not on this server yet: turn on download (it needs the "
                "internet), or choose mnist-5k, which ships with the app"
            ),
        ) from None
    report(f"converting {class_name}", 0.5)
    images, targets = as_tensors(dataset.data, dataset.targets)
    class_names = tuple(str(label) for label in dataset.classes)
    train, valid = stratified_split(targets, config.valid_fraction, config.split_seed)
    return DatasetSplit(
        info.name,
        ImageDataset(images[train], targets[train], class_names),
        ImageDataset(images[valid], targets[valid], class_names),
        preprocess=info.preprocess,
    )


def as_tensors(data: object, targets: object) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's `.data` (N, H, W) tensor or (N, H, W, C) array -> uint8 (N, C, H, W)."""
    images = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    return images.to(torch.uint8).contiguous(), labels


def _missing_files_message(
    name: str, class_name: str, root: Path, download: bool, error: Exception
) -> str:
    if download:
        return (
            f"could not download {name} into {root} ({error}): check the internet connection, "
            f"or put the files there by hand as described for download=False"
        )
    if class_name == "CIFAR10":
        return (
            f"{name} is not in {root}: download cifar-10-python.tar.gz from "
            "https://www.cs.toronto.edu/~kriz/cifar.html and unpack it so that "
            f"{root / 'cifar-10-batches-py'} holds data_batch_1 ... data_batch_5, test_batch and "
            "batches.meta; or turn on download (DataConfig(download=True), needs the internet); "
            "or point root / $LME_DATA_DIR at a folder that has them"
        )
    files = ", ".join(
        f"{part}-{kind}-idx{dims}-ubyte"
        for part in ("train", "t10k")
        for kind, dims in (("images", 3), ("labels", 1))
    )
    return (
        f"{name} is not in {root}: put the four unzipped files {files} into "
        f"{root / class_name / 'raw'} (gunzip the .gz files from the {name} website); "
        "or turn on download (DataConfig(download=True), needs the internet); or point root / "
        "$LME_DATA_DIR at a folder that has them"
    )
