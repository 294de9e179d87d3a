"""The datasets shipped in engine/assets, so no network is ever needed:

- `mnist-5k`: 5,000 MNIST digits in `engine/assets/mnist_5k.npz` (provenance in
  `engine/assets/README.md`), always split 4,000 train / 1,000 validation, 400 / 100 per
  digit, with a fixed seed no config changes, so results compare across runs and tools.
- `mnist`: the full MNIST, shipped in `engine/assets/mnist/` as its four gzipped IDX files and
  read by torchvision's own `MNIST` class: on first use they are extracted (sha256 checked,
  fsynced, renamed into place) into `<root>/MNIST/raw/`. Training is MNIST's 60,000 training
  digits and validation its official 10,000 test digits, so every analysis of an `mnist` run
  stands on the standard test set (`valid_fraction` and `split_seed` do not apply).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import shutil
from pathlib import Path

import numpy as np
import torch

from engine.atomic_files import atomic_open
from engine.datasets.dataset import DatasetSplit, ImageDataset, Progress
from engine.datasets.registry import DIGIT_CLASSES
from engine.datasets.splitting import stratified_split
from engine.datasets.torchvision_sets import as_tensors
from engine.errors import DatasetError

ASSETS = Path(__file__).resolve().parent.parent / "assets"
MNIST_5K_PATH = ASSETS / "mnist_5k.npz"
# The full MNIST as torchvision names its files, and the sha256 of each uncompressed file.
MNIST_ASSETS = ASSETS / "mnist"
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_5K_SPLIT_SEED = 5000  # fixed for good: changing it changes every mnist-5k result
MNIST_5K_VALID_SIZE = 1000


@functools.lru_cache(maxsize=1)
def mnist_5k_arrays() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Decoded once per process: images (5000, 1, 28, 28), labels, train and valid indices.

    Never hand these out: callers get copies made by indexing.
    """
    if not MNIST_5K_PATH.is_file():
        raise DatasetError(
            f"the built-in dataset file {MNIST_5K_PATH} is missing: reinstall the package, or "
            "rebuild it with tools/convert_mnist_5k.py"
        )
    with np.load(MNIST_5K_PATH, allow_pickle=False) as archive:
        images = torch.from_numpy(archive["images"]).unsqueeze(1).contiguous()
        labels = torch.from_numpy(archive["labels"].astype(np.int64))
    fraction = MNIST_5K_VALID_SIZE / len(labels)
    train, valid = stratified_split(labels, fraction, MNIST_5K_SPLIT_SEED)
    return images, labels, train, valid


def load_mnist_5k() -> DatasetSplit:
    images, labels, train, valid = mnist_5k_arrays()
    return DatasetSplit(
        "mnist-5k",
        ImageDataset(images[train], labels[train], DIGIT_CLASSES),
        ImageDataset(images[valid], labels[valid], DIGIT_CLASSES),
        preprocess="digit",
    )


def load_shipped_mnist(root: Path, report: Progress) -> DatasetSplit:
    """The full MNIST through torchvision's class: 60,000 training, 10,000 test digits."""
    from torchvision.datasets import MNIST  # slow to import, and only needed here

    report(f"reading MNIST from {root}", 0.0)
    install_shipped_mnist(root)
    parts = []
    for train in (True, False):
        try:
            dataset = MNIST(root=str(root), train=train, download=False)
        except (RuntimeError, OSError) as error:
            raise DatasetError(
                f"MNIST in {root / 'MNIST' / 'raw'} is unreadable ({error}): delete that folder "
                "and it is extracted again from the copy shipped with the engine"
            ) from None
        parts.append(ImageDataset(*as_tensors(dataset.data, dataset.targets), DIGIT_CLASSES))
        report("converting MNIST", 0.5)
    return DatasetSplit("mnist", parts[0], parts[1], preprocess="digit")


def install_shipped_mnist(root: Path) -> Path:
    """Extract the shipped MNIST files missing from `<root>/MNIST/raw/`; return that folder.

    Each file's sha256 is checked, then it is decompressed into a temporary file beside its
    destination, fsynced and renamed into place, so a crash or two processes at once never
    leave a half-written file. Files already there (a user's own copy) are left alone.
    """
    raw = root / "MNIST" / "raw"
    missing = [name for name in MNIST_FILES if not (raw / name).is_file()]
    if not missing:
        return raw
    try:
        raw.mkdir(parents=True, exist_ok=True)
        for name in missing:
            _extract_checked(MNIST_ASSETS / f"{name}.gz", raw / name, MNIST_FILES[name])
    except OSError as error:
        raise DatasetError(
            f"could not extract MNIST into {raw} ({error.strerror or error}): point root / "
            "$LME_DATA_DIR at a writable folder"
        ) from None
    return raw


def _extract_checked(source: Path, destination: Path, sha256: str) -> None:
    """Decompress `source` to `destination` atomically, refusing a damaged file before any
    byte is written (decompressing twice costs a fraction of a second, once per data root)."""
    if not source.is_file():
        raise DatasetError(
            f"the built-in MNIST file {source.name} is missing from the engine: reinstall it"
        )
    with gzip.open(source, "rb") as packed:
        digest = hashlib.file_digest(packed, "sha256").hexdigest()
    if digest != sha256:
        raise DatasetError(
            f"the built-in MNIST file {source.name} is damaged (sha256 mismatch): reinstall "
            "the engine"
        )
    with atomic_open(destination) as handle, gzip.open(source, "rb") as packed:
        shutil.copyfileobj(packed, handle, 1 << 20)
