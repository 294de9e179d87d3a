"""The baseline: the training pipeline the PyTorch and torchvision tutorials teach.

Images sit in MNIST's own IDX files and are read by `torchvision.datasets.MNIST(root,
download=False)`, one PIL image per item, through `transforms.ToTensor()` and `Normalize` with
MNIST's well-known mean and std, batched by a `DataLoader` with `num_workers=2` (the value the
torchvision tutorials use) and `shuffle=True`. The network, batch size, optimiser (AdamW with a
one-cycle schedule), loss and number of images are the engine's, so the only difference left
is the data path and the loop around it.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from torchvision import datasets, transforms

from bench.measure import synchronize
from engine.config import TrainConfig
from engine.datasets.dataset import DatasetSplit
from engine.labels import loss_function

NUM_WORKERS = 2  # what the torchvision tutorials pass; the machine the bench targets has 2 cores
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081  # the constants every MNIST tutorial normalises with
TEST_BATCH_SIZE = 1000  # pytorch/examples mnist's default


def _write_idx_images(path: Path, images: torch.Tensor) -> None:
    """IDX3: magic 0x00000803, count, rows, columns (big-endian int32), then raw uint8 pixels."""
    count, rows, columns = images.shape
    header = struct.pack(">iiii", 0x00000803, count, rows, columns)
    path.write_bytes(header + images.contiguous().numpy().tobytes())


def _write_idx_labels(path: Path, labels: torch.Tensor) -> None:
    """IDX1: magic 0x00000801, count (big-endian int32), then one uint8 label per image."""
    header = struct.pack(">ii", 0x00000801, len(labels))
    path.write_bytes(header + labels.to(torch.uint8).numpy().tobytes())


def write_mnist_folder(split: DatasetSplit, root: Path) -> Path:
    """Write a 1-channel, class-index split as MNIST's raw IDX files under `root`/MNIST/raw.

    The training part becomes `train-*`, the validation part `t10k-*`, so that
    `datasets.MNIST(root, train=..., download=False)` finds exactly these images.
    """
    if split.image_shape[0] != 1 or split.train.targets.ndim != 1:
        raise ValueError("the MNIST baseline needs grayscale images with class-index targets")
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for prefix, part in (("train", split.train), ("t10k", split.valid)):
        _write_idx_images(raw / f"{prefix}-images-idx3-ubyte", part.images[:, 0])
        _write_idx_labels(raw / f"{prefix}-labels-idx1-ubyte", part.targets)
    return Path(root)


def tutorial_loaders(
    root: Path, batch_size: int, num_workers: int = NUM_WORKERS, pin_memory: bool = False
) -> tuple[DataLoader, DataLoader]:
    """The training and test loaders exactly as the tutorials build them."""
    transform = transforms.Compose(
        [transforms.ToTensor(), transforms.Normalize((MNIST_MEAN,), (MNIST_STD,))]
    )
    train_set = datasets.MNIST(root, train=True, download=False, transform=transform)
    test_set = datasets.MNIST(root, train=False, download=False, transform=transform)
    train_loader = DataLoader(
        train_set,
        batch_size=batch_size,
        shuffle=True,
        num_workers=num_workers,
        pin_memory=pin_memory,
    )
    test_loader = DataLoader(
        test_set, batch_size=TEST_BATCH_SIZE, num_workers=num_workers, pin_memory=pin_memory
    )
    return train_loader, test_loader


@dataclass
class BaselineResult:
    """Per epoch: seconds spent training (loader start-up included), validation accuracy, and
    seconds since the start (building loaders and model included) when that epoch was scored."""

    images_per_epoch: int
    threads: int = 0  # torch's intra-op threads in the training process while it trained
    epoch_seconds: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    elapsed_at_epoch_end: list[float] = field(default_factory=list)

    @property
    def images_per_second(self) -> float:
        return self.images_per_epoch * len(self.epoch_seconds) / sum(self.epoch_seconds)


def _train_epoch(model, loader, optimizer, scheduler, loss_fn, mode, num_classes, device, dtype):
    model.train()
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        targets = F.one_hot(labels, num_classes).float() if mode == "multi-label" else labels
        optimizer.zero_grad()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = loss_fn(model(images), targets)
        loss.backward()
        optimizer.step()
        scheduler.step()


@torch.no_grad()
def _test(model, loader, device) -> float:
    model.eval()
    correct = total = 0
    for images, labels in loader:
        images, labels = images.to(device), labels.to(device)
        correct += int((model(images).argmax(dim=1) == labels).sum())
        total += len(labels)
    return correct / total


def baseline_epochs(
    model_factory: Callable[[], nn.Module],
    root: Path,
    train_config: TrainConfig,
    num_classes: int,
    device: torch.device | str = "cpu",
    epochs: int | None = None,
    num_workers: int = NUM_WORKERS,
    evaluate: bool = True,
    autocast_dtype: torch.dtype | None = None,
) -> Iterator[BaselineResult]:
    """Train the tutorial way on the MNIST folder at `root`, yielding after every epoch.

    Yielding lets the bench run the engine's epochs in between, so both sides see the same
    machine load; the time spent away from this generator is not counted in its elapsed time.
    `model_factory` builds the same network the engine trains (seeded as the engine seeds).
    `autocast_dtype` (bf16 on GPUs, as the engine uses) runs the baseline at the engine's
    precision, so that only the data path and the loop differ.
    """
    device = torch.device(device)
    epochs = epochs or train_config.epochs
    active, resumed = 0.0, time.perf_counter()
    torch.manual_seed(train_config.seed)
    train_loader, test_loader = tutorial_loaders(
        root, train_config.batch_size, num_workers, pin_memory=device.type == "cuda"
    )
    model = model_factory().to(device)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=train_config.lr, weight_decay=train_config.weight_decay
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=train_config.lr, epochs=epochs, steps_per_epoch=len(train_loader)
    )
    loss_fn = loss_function(train_config.mode)
    result = BaselineResult(images_per_epoch=len(train_loader.dataset))
    for _ in range(epochs):
        result.threads = torch.get_num_threads()
        epoch_start = time.perf_counter()
        _train_epoch(
            model,
            train_loader,
            optimizer,
            scheduler,
            loss_fn,
            train_config.mode,
            num_classes,
            device,
            autocast_dtype,
        )
        synchronize(device)
        result.epoch_seconds.append(time.perf_counter() - epoch_start)
        if evaluate:
            result.val_accuracy.append(_test(model, test_loader, device))
            result.elapsed_at_epoch_end.append(active + time.perf_counter() - resumed)
        active += time.perf_counter() - resumed
        yield result
        resumed = time.perf_counter()
