"""Datasets: every source comes back as uint8 image tensors, targets and class names, with a
seeded, stratified train/validation split. Label modes, models and training live elsewhere.

Sources (`DataConfig.dataset`):
- `mnist-5k`: 5,000 MNIST digits shipped in `engine/assets/mnist_5k.npz` (provenance in
  `engine/assets/README.md`), always split 4,000 train / 1,000 validation, 400 / 100 per
  digit, with a fixed seed no config changes, so results compare across runs and tools.
- `two-digits`: genuinely multi-label pairs of digits built from mnist-5k (see
  `make_two_digits`); train pairs from mnist-5k's train part, validation pairs from its
  validation part, so no digit image appears on both sides.
- `mnist`: the full MNIST, shipped in `engine/assets/mnist/` as its four gzipped IDX files
  and read by torchvision's own `MNIST` class: on first use they are extracted (sha256
  checked, atomically) into `<root>/MNIST/raw/`, so no network is ever needed. Training is
  MNIST's 60,000 training digits and validation its official 10,000 test digits, so every
  analysis of an `mnist` run stands on the standard test set (`valid_fraction` and
  `split_seed` do not apply).
- `fashion-mnist`, `kmnist`, `cifar10`: torchvision's own classes reading their
  official files under `DataConfig.root` (default `default_data_root()`). The official
  training set is the pool, split stratified by `valid_fraction` and `split_seed`; the
  official test set is left alone (kept for a final check, never tuned on).
- `folder:PATH`: one sub-folder per class, class names are the sorted sub-folder names; or
  images with a label table, a CSV `fname,labels[,is_valid]` with space-separated labels as
  fastbook's PASCAL `train.csv` (read by `engine.label_table`), which gives float multi-hot
  targets (N, K) like `two-digits`: a genuinely multi-label dataset.
- `zip:PATH`: either layout inside a .zip, extracted safely by `engine.archives.extract_zip`.

Folder and zip images are decoded by `engine.images.decode_image` (as uploads are), become
grayscale when every image is grayscale and RGB otherwise, and are brought to 28x28 when no
image is larger than 32 pixels, else to 64x64, by `engine.images.preprocess(..., "resize")`
(centre crop to a square, then resize), so training images and later uploads are prepared
alike. Files that do not decode are skipped and listed in `DatasetSplit.warnings`.

`DataConfig.limit` keeps a stratified subset of each part (in proportion), and
`DataConfig.none_examples` appends generated non-digits with all-zero targets to the
training part, which turns its targets into float multi-hot (N, K).
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from engine.config import DataConfig
from engine.errors import DatasetError, EngineError
from engine.label_table import LabelTable, find_label_table, read_label_table
from engine.labels import is_multi_hot, to_multi_label
from engine.nondigits import NON_DIGIT_KINDS, make_non_digits

Progress = Callable[[str, float], None]

MNIST_5K_PATH = Path(__file__).resolve().parent / "assets" / "mnist_5k.npz"
# The full MNIST as torchvision names its files, and the sha256 of each uncompressed file.
MNIST_ASSETS = Path(__file__).resolve().parent / "assets" / "mnist"
MNIST_FILES: dict[str, str] = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
MNIST_5K_SPLIT_SEED = 5000  # fixed for good: changing it changes every mnist-5k result
MNIST_5K_VALID_SIZE = 1000
TWO_DIGITS_SEED = 2  # fixed: the pairs must be the same in every run
# Seeds the non-digits added to training. Evaluation sets of unseen non-digits must use
# another seed (make_non_digits' default 0 is fine): the images then differ.
NON_DIGIT_TRAIN_SEED = 1_000_003
DIGIT_CLASSES: tuple[str, ...] = tuple("0123456789")
FIXED_SPLITS = {  # datasets whose split ships with them: valid_fraction does not apply
    "mnist-5k": "4,000 training and 1,000 validation images",
    "two-digits": "4,000 training and 1,000 validation images",
}
MAX_DATASET_PIXELS = 1_000_000_000  # decoded pixels of all images of a folder or zip
MAX_CLASSES = 100  # classes in a dataset (and a run): more make every pair analysis crawl
SMALL_IMAGE_SIDE = 32  # folder images up to this size become 28x28, larger ones 64x64


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images as uint8 (N, C, H, W), targets as int64 indices (N,) or float multi-hot (N, K)."""

    images: torch.Tensor
    targets: torch.Tensor
    class_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def subset(self, indices: torch.Tensor) -> ImageDataset:
        return ImageDataset(self.images[indices], self.targets[indices], self.class_names)


@dataclass(frozen=True, eq=False)
class DatasetSplit:
    """A dataset's training and validation parts, and how uploads should be prepared for it."""

    name: str
    train: ImageDataset
    valid: ImageDataset
    preprocess: str = "digit"  # "digit" (MNIST-like centring) or "resize"
    warnings: tuple[str, ...] = ()  # e.g. files skipped because they did not decode

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names

    @property
    def num_classes(self) -> int:
        return self.train.num_classes

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.train.images.shape[1:])  # type: ignore[return-value]


@dataclass(frozen=True)
class DatasetInfo:
    """One built-in dataset, as the dashboard and the CLI list it."""

    name: str
    title: str
    description: str
    offline: bool  # ships with the engine: no download ever needed
    preprocess: str


@dataclass(frozen=True)
class _TorchvisionSource:
    class_name: str  # torchvision.datasets.<class_name>, also its folder under the root
    size_note: str
    class_names: tuple[str, ...] | None  # None: take the dataset's own `classes`


_TORCHVISION = {
    "mnist": _TorchvisionSource("MNIST", "about 12 MB", DIGIT_CLASSES),
    "fashion-mnist": _TorchvisionSource("FashionMNIST", "about 30 MB", None),
    "kmnist": _TorchvisionSource("KMNIST", "about 20 MB", None),
    "cifar10": _TorchvisionSource("CIFAR10", "about 170 MB", None),
}

_DATASETS = (
    DatasetInfo(
        "mnist-5k",
        "MNIST 5k (built in)",
        "5,000 handwritten digits shipped with the engine; a fixed, stratified split of "
        "4,000 training and 1,000 validation images.",
        True,
        "digit",
    ),
    DatasetInfo(
        "two-digits",
        "Two digits (multi-label)",
        "Pairs of different mnist-5k digits side by side, both labels set: 4,000 training "
        "and 1,000 validation images. Trains in multi-label mode only.",
        True,
        "digit-pair",
    ),
    DatasetInfo(
        "mnist",
        "MNIST (full, built in)",
        "All 70,000 MNIST digits, shipped with the engine and read by torchvision: the 60,000 "
        "training digits for training, MNIST's official 10,000 test digits for validation.",
        True,
        "digit",
    ),
    DatasetInfo(
        "fashion-mnist",
        "Fashion-MNIST (torchvision)",
        "Zalando's 28x28 grayscale clothing images in 10 classes. Downloads about 30 MB.",
        False,
        "digit",
    ),
    DatasetInfo(
        "kmnist",
        "Kuzushiji-MNIST (torchvision)",
        "Ten cursive Japanese (hiragana) characters, 28x28 grayscale. Downloads about 20 MB.",
        False,
        "digit",
    ),
    DatasetInfo(
        "cifar10",
        "CIFAR-10 (torchvision)",
        "32x32 colour photos of 10 kinds of objects and animals. Downloads about 170 MB.",
        False,
        "resize",
    ),
)


def available_datasets() -> list[DatasetInfo]:
    """Built-in datasets, the offline default (`mnist-5k`) first. `folder:`/`zip:` come on top."""
    return list(_DATASETS)


def default_data_root() -> Path:
    """Where downloadable datasets live: $LME_DATA_DIR, else ~/.cache/label-mode-explorer."""
    configured = os.environ.get("LME_DATA_DIR")
    return (
        Path(configured).expanduser()
        if configured
        else Path.home() / ".cache" / "label-mode-explorer"
    )


def load_dataset(config: DataConfig, progress: Progress | None = None) -> DatasetSplit:
    """Load the dataset `config` names, split, limited and with non-digits added as asked.

    `progress(message, fraction)` hears about the slow steps (download, decoding) so a page
    can draw a bar. Every call returns fresh tensors: callers may change them freely.
    """
    report = progress or _quiet
    name = config.dataset.strip()
    if config.limit is not None and config.limit < 2:
        raise DatasetError("limit must be at least 2 (one training and one validation image)")
    if config.none_examples < 0:
        raise DatasetError("none_examples cannot be negative")
    if name == "mnist-5k":
        split = _load_mnist_5k()
    elif name == "two-digits":
        split = _load_two_digits()
    elif name in _TORCHVISION:
        split = _load_torchvision(name, config, report)
    elif name.startswith("folder:"):
        split = _load_folder(Path(name.removeprefix("folder:")).expanduser(), name, config, report)
    elif name.startswith("zip:"):
        split = _load_zip(Path(name.removeprefix("zip:")).expanduser(), name, config, report)
    else:
        known = ", ".join(info.name for info in _DATASETS)
        raise DatasetError(
            f"unknown dataset {name!r}: use one of {known}, folder:PATH (one sub-folder per "
            "class, or images with a CSV of labels) or zip:PATH.zip"
        )
    if config.limit is not None and len(split.train) + len(split.valid) > config.limit:
        split = _limit(split, config.limit, config.split_seed)
    if name in FIXED_SPLITS and config.valid_fraction != DataConfig.valid_fraction:
        ignored = (
            f"{name} has a fixed split ({FIXED_SPLITS[name]}): the validation fraction "
            f"{config.valid_fraction:g} was ignored"
        )
        split = replace(split, warnings=(*split.warnings, ignored))
    if config.none_examples:
        split = add_non_digits(split, config.none_examples)
    report("dataset ready", 1.0)
    return split


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
    valid = _stratified_pick(targets, valid_size, seed)
    keep = torch.ones(count, dtype=torch.bool)
    keep[valid] = False
    return torch.nonzero(keep).flatten(), valid


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


def make_two_digits(
    images: torch.Tensor, labels: torch.Tensor, count: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of two different digits side by side, and float multi-hot targets (count, 10).

    Each digit is cropped to its ink, shrunk (aspect kept) to fit 20 rows by 12 columns and
    centred in its half of a 28x28 canvas, the pair's rows 4-23 like MNIST's 20-pixel box.
    `images` are uint8 (N, 1, 28, 28) white-on-black digits, `labels` their digit 0-9.
    """
    if len(torch.unique(labels)) < 2:
        raise DatasetError("two-digit images need digits of at least two classes")
    tiles = _digit_tiles(images)
    generator = torch.Generator().manual_seed(seed)
    left = torch.randint(len(images), (count,), generator=generator)
    right = torch.randint(len(images), (count,), generator=generator)
    same = labels[left] == labels[right]
    while bool(same.any()):  # redraw until the two digits differ
        right[same] = torch.randint(len(images), (int(same.sum()),), generator=generator)
        same = labels[left] == labels[right]
    canvas = torch.zeros((count, 1, 28, 28), dtype=torch.uint8)
    canvas[:, 0, 4:24, 0:14] = tiles[left]
    canvas[:, 0, 4:24, 14:28] = tiles[right]
    targets = torch.zeros((count, 10), dtype=torch.float32)
    rows = torch.arange(count)
    targets[rows, labels[left].long()] = 1.0
    targets[rows, labels[right].long()] = 1.0
    return canvas, targets


# --- mnist-5k and two-digits -------------------------------------------------------------


@functools.lru_cache(maxsize=1)
def _mnist_5k_arrays() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
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


def _load_mnist_5k() -> DatasetSplit:
    images, labels, train, valid = _mnist_5k_arrays()
    return DatasetSplit(
        "mnist-5k",
        ImageDataset(images[train], labels[train], DIGIT_CLASSES),
        ImageDataset(images[valid], labels[valid], DIGIT_CLASSES),
        preprocess="digit",
    )


@functools.lru_cache(maxsize=1)
def _two_digits_arrays() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    images, labels, train, valid = _mnist_5k_arrays()
    train_images, train_targets = make_two_digits(
        images[train], labels[train], len(train), TWO_DIGITS_SEED
    )
    valid_images, valid_targets = make_two_digits(
        images[valid], labels[valid], len(valid), TWO_DIGITS_SEED + 1
    )
    return train_images, train_targets, valid_images, valid_targets


def _load_two_digits() -> DatasetSplit:
    train_images, train_targets, valid_images, valid_targets = _two_digits_arrays()
    return DatasetSplit(
        "two-digits",
        ImageDataset(train_images.clone(), train_targets.clone(), DIGIT_CLASSES),
        ImageDataset(valid_images.clone(), valid_targets.clone(), DIGIT_CLASSES),
        preprocess="digit-pair",  # uploads are cut in two and laid out as the pairs were
    )


def _digit_tiles(images: torch.Tensor) -> torch.Tensor:
    """Each digit cropped to its ink and fitted, aspect kept, into a centred 20x14 tile."""
    tiles = np.zeros((len(images), 20, 14), dtype=np.uint8)
    for index, plane in enumerate(images[:, 0].numpy()):
        rows, cols = np.nonzero(plane > 0)
        if len(rows) == 0:
            continue
        crop = plane[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]
        scale = min(20 / crop.shape[0], 12 / crop.shape[1])
        height = max(1, round(crop.shape[0] * scale))
        width = max(1, round(crop.shape[1] * scale))
        small = Image.fromarray(crop).resize((width, height), Image.Resampling.BILINEAR)
        top, left = (20 - height) // 2, (14 - width) // 2
        tiles[index, top : top + height, left : left + width] = np.asarray(small)
    return torch.from_numpy(tiles)


# --- torchvision datasets ----------------------------------------------------------------


def _load_torchvision(name: str, config: DataConfig, report: Progress) -> DatasetSplit:
    import torchvision.datasets  # imported here: it is slow to import and only needed here

    source = _TORCHVISION[name]
    root = Path(config.root).expanduser() if config.root else default_data_root()
    dataset_class = getattr(torchvision.datasets, source.class_name)
    if name == "mnist":
        return _load_shipped_mnist(dataset_class, root, report)
    if config.download:
        report(f"downloading {source.class_name} ({source.size_note}) into {root}", 0.0)
    else:
        report(f"reading {source.class_name} from {root}", 0.0)
    try:
        dataset = dataset_class(root=str(root), train=True, download=config.download)
    except (RuntimeError, OSError) as error:
        raise DatasetError(
            _missing_files_message(name, source, root, config.download, error),
            for_visitor=(
                f"{name} could not be downloaded here: try again later, or choose mnist-5k, "
                "which ships with the app"
                if config.download
                else f"{name} is not on this server yet: turn on download (it needs the "
                "internet), or choose mnist-5k, which ships with the app"
            ),
        ) from None
    report(f"converting {source.class_name}", 0.5)
    images, targets = _as_tensors(dataset.data, dataset.targets)
    class_names = source.class_names or tuple(str(label) for label in dataset.classes)
    train, valid = stratified_split(targets, config.valid_fraction, config.split_seed)
    return DatasetSplit(
        name,
        ImageDataset(images[train], targets[train], class_names),
        ImageDataset(images[valid], targets[valid], class_names),
        preprocess=next(info.preprocess for info in _DATASETS if info.name == name),
    )


def _load_shipped_mnist(dataset_class: type, root: Path, report: Progress) -> DatasetSplit:
    """The full MNIST through torchvision's class: 60,000 training, 10,000 test digits."""
    report(f"reading MNIST from {root}", 0.0)
    install_shipped_mnist(root)
    parts = []
    for train in (True, False):
        try:
            dataset = dataset_class(root=str(root), train=train, download=False)
        except (RuntimeError, OSError) as error:
            raise DatasetError(
                f"MNIST in {root / 'MNIST' / 'raw'} is unreadable ({error}): delete that folder "
                "and it is extracted again from the copy shipped with the engine"
            ) from None
        parts.append(ImageDataset(*_as_tensors(dataset.data, dataset.targets), DIGIT_CLASSES))
        report("converting MNIST", 0.5)
    return DatasetSplit("mnist", parts[0], parts[1], preprocess="digit")


def install_shipped_mnist(root: Path) -> Path:
    """Extract the shipped MNIST files missing from `<root>/MNIST/raw/`; return that folder.

    Each file is decompressed into a temporary file beside its destination, its sha256
    checked, then renamed into place, so a crash or two processes at once never leave a
    half-written file. Files already there (a user's own copy) are left alone.
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
    if not source.is_file():
        raise DatasetError(
            f"the built-in MNIST file {source.name} is missing from the engine: reinstall it"
        )
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        dir=destination.parent, prefix=f".{destination.name}.", delete=False
    )
    temporary = Path(handle.name)
    try:
        digest = hashlib.sha256()
        with handle, gzip.open(source, "rb") as packed:
            while block := packed.read(1 << 20):
                digest.update(block)
                handle.write(block)
        if digest.hexdigest() != sha256:
            raise DatasetError(
                f"the built-in MNIST file {source.name} is damaged (sha256 mismatch): reinstall "
                "the engine"
            )
        temporary.chmod(0o644)
        os.replace(temporary, destination)
    finally:
        temporary.unlink(missing_ok=True)


def _as_tensors(data: object, targets: object) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's `.data` (N, H, W) tensor or (N, H, W, C) array -> uint8 (N, C, H, W)."""
    images = torch.as_tensor(np.asarray(data) if not isinstance(data, torch.Tensor) else data)
    images = images.unsqueeze(1) if images.ndim == 3 else images.permute(0, 3, 1, 2)
    labels = torch.as_tensor(np.asarray(targets), dtype=torch.int64)
    return images.to(torch.uint8).contiguous(), labels


def _missing_files_message(
    name: str, source: _TorchvisionSource, root: Path, download: bool, error: Exception
) -> str:
    if download:
        return (
            f"could not download {name} into {root} ({error}): check the internet connection, "
            f"or put the files there by hand as described for download=False"
        )
    if source.class_name == "CIFAR10":
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
        f"{root / source.class_name / 'raw'} (gunzip the .gz files from the {name} website); "
        "or turn on download (DataConfig(download=True), needs the internet); or point root / "
        "$LME_DATA_DIR at a folder that has them"
    )


# --- image folders and zips --------------------------------------------------------------


def _load_zip(path: Path, name: str, config: DataConfig, report: Progress) -> DatasetSplit:
    from engine.archives import extract_zip

    if not path.is_file():
        raise DatasetError(
            f"zip file {path.name} not found: give the path of a .zip holding one folder per "
            "class, or images with a CSV of their labels"
        )
    report(f"extracting {path.name}", 0.0)
    from engine.atomic_files import scratch_prefix  # names this process, for crash clean-up

    with tempfile.TemporaryDirectory(prefix=scratch_prefix("lme-zip-")) as scratch:
        folder = extract_zip(path, Path(scratch))
        # Messages name the zip, never the temporary folder it was extracted into.
        return _load_folder(Path(folder), name, config, report, shown=path.name)


def _load_folder(
    path: Path, name: str, config: DataConfig, report: Progress, shown: str | None = None
) -> DatasetSplit:
    from engine.images import preprocess

    shown = shown or str(path)  # how messages name the data
    table = find_label_table(path)
    if table is not None:
        return _load_labelled(read_label_table(table), name, config, report)
    files, labels, class_names = _list_class_files(path, shown)
    if config.limit is not None and len(files) > config.limit:
        chosen = _stratified_pick(torch.tensor(labels), config.limit, config.split_seed)
        files = [files[i] for i in chosen.tolist()]
        labels = [labels[i] for i in chosen.tolist()]
    _check_decode_budget(files, shown)
    pictures, read, skipped, largest = _read_pictures(
        files, [file.relative_to(path).as_posix() for file in files], report
    )
    kept = [labels[position] for position in read]
    _check_classes(kept, class_names, skipped, shown)
    side = 28 if largest <= SMALL_IMAGE_SIDE else 64
    channels = 1 if all(_is_grayscale(picture) for picture in pictures) else 3
    images = torch.stack([preprocess(p, "resize", (channels, side, side)) for p in pictures])
    targets = torch.tensor(kept, dtype=torch.int64)
    train, valid = stratified_split(targets, config.valid_fraction, config.split_seed)
    warnings: tuple[str, ...] = ()
    if skipped:
        listed = "; ".join(skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
        warnings = (f"skipped {len(skipped)} file(s) that are not readable images: {listed}",)
    return DatasetSplit(
        name,
        ImageDataset(images[train], targets[train], class_names),
        ImageDataset(images[valid], targets[valid], class_names),
        preprocess="resize",
        warnings=warnings,
    )


def _read_pictures(
    files: Sequence[Path], shown: Sequence[str], report: Progress
) -> tuple[list[Image.Image], list[int], list[str], int]:
    """Decode each file (named `shown` in messages), reporting progress every 64: (the
    pictures, each shrunk to 64 a side at most; the positions in `files` they came from; one
    "name (reason)" per file that could not be read; the largest side met)."""
    from engine.images import decode_image

    pictures: list[Image.Image] = []
    read: list[int] = []
    skipped: list[str] = []
    largest = 0
    for number, (file, name) in enumerate(zip(files, shown, strict=True)):
        if number % 64 == 0:
            report(f"reading images {number}/{len(files)}", number / max(len(files), 1))
        try:
            picture = decode_image(file.read_bytes(), name)
        except (EngineError, OSError) as error:
            skipped.append(f"{name} ({error})")
            continue
        largest = max(largest, *picture.size)
        if max(picture.size) > 64:  # the final size is then 64: shrink now, save memory
            picture = ImageOps.fit(picture, (64, 64), Image.Resampling.LANCZOS)
        pictures.append(picture)
        read.append(number)
    return pictures, read, skipped, largest


def _check_decode_budget(files: Sequence[Path], shown: str) -> None:
    """Refuse, before decoding any image, a dataset whose images add up to more than
    MAX_DATASET_PIXELS as decoded (a small zip of huge transparent PNGs would otherwise keep
    the server decoding for an hour); the headers are read, nothing else."""
    from engine.images import header_pixels

    total = 0
    for file in files:
        total += header_pixels(file)
        if total > MAX_DATASET_PIXELS:
            raise DatasetError(
                f"the images of {shown} add up to more than {MAX_DATASET_PIXELS / 1e6:,.0f} "
                "megapixels as decoded: use fewer or smaller images (a few hundred pixels a "
                "side is plenty; they are shrunk to 64 x 64 anyway)"
            )


def _load_labelled(
    table: LabelTable, name: str, config: DataConfig, report: Progress
) -> DatasetSplit:
    """Images named by a label table: float multi-hot targets (N, K), split by the table's
    is_valid column when it has one, else stratified like any other dataset."""
    from engine.images import preprocess

    order = torch.arange(len(table.files))
    if config.limit is not None and len(order) > config.limit:
        order = _stratified_pick(table.targets, config.limit, config.split_seed)
    if len(table.class_names) > MAX_CLASSES:
        raise DatasetError(
            f"{table.name} names {len(table.class_names):,} labels; the limit is {MAX_CLASSES}: "
            "merge or remove labels"
        )
    _check_decode_budget([table.files[row] for row in order.tolist()], table.name)
    chosen = order.tolist()
    pictures, read, skipped, largest = _read_pictures(
        [table.files[row] for row in chosen], [table.shown_files[row] for row in chosen], report
    )
    kept = [chosen[position] for position in read]
    if len(kept) < 2:
        detail = f", e.g. {skipped[0]}" if skipped else ""
        raise DatasetError(
            f"{table.name} names {len(kept)} readable image(s) ({len(skipped)} could not be read"
            f"{detail}): a dataset needs at least 2 PNG or JPEG images"
        )
    side = 28 if largest <= SMALL_IMAGE_SIDE else 64
    channels = 1 if all(_is_grayscale(picture) for picture in pictures) else 3
    images = torch.stack([preprocess(p, "resize", (channels, side, side)) for p in pictures])
    rows = torch.tensor(kept)
    targets = table.targets[rows]
    if table.is_valid is not None:
        valid_mask = table.is_valid[rows]
        if bool(valid_mask.all()) or not bool(valid_mask.any()):
            raise DatasetError(
                f"after skipping unreadable images, {table.name}'s is_valid column leaves no "
                f"{'training' if bool(valid_mask.all()) else 'validation'} image"
            )
        train = torch.nonzero(~valid_mask).flatten()
        valid = torch.nonzero(valid_mask).flatten()
    else:
        train, valid = stratified_split(targets, config.valid_fraction, config.split_seed)
    warnings: list[str] = []
    if skipped:
        listed = "; ".join(skipped[:5]) + ("; ..." if len(skipped) > 5 else "")
        warnings.append(f"skipped {len(skipped)} image(s) that are not readable: {listed}")
    if table.unlisted:
        warnings.append(f"{table.unlisted} file(s) not named in {table.name} were left out")
    return DatasetSplit(
        name,
        ImageDataset(images[train], targets[train].clone(), table.class_names),
        ImageDataset(images[valid], targets[valid].clone(), table.class_names),
        preprocess="resize",
        warnings=tuple(warnings),
    )


def _list_class_files(
    path: Path, shown: str | None = None
) -> tuple[list[Path], list[int], tuple[str, ...]]:
    """Files of each class sub-folder (nested folders included), class names sorted."""
    if not path.is_dir():
        raise DatasetError(
            f"folder {path} not found: give a folder holding one sub-folder per class, or "
            "images with a CSV of their labels"
        )
    folders = sorted(p for p in path.iterdir() if p.is_dir() and not _hidden(p.name))
    if len(folders) < 2:
        raise DatasetError(
            f"{shown or path} has {len(folders)} class sub-folder(s): put the images of each "
            "class in a sub-folder named after the class, at least 2 classes (e.g. cats/ and "
            "dogs/), or add a CSV with the columns fname,labels that names each image's labels"
        )
    if len(folders) > MAX_CLASSES:
        raise DatasetError(
            f"{shown or path} has {len(folders):,} class sub-folders; the limit is "
            f"{MAX_CLASSES}: merge or remove classes (each sub-folder is one class)"
        )
    files: list[Path] = []
    labels: list[int] = []
    for label, folder in enumerate(folders):
        for file in sorted(folder.rglob("*")):
            inside = file.relative_to(folder).parts
            if file.is_file() and not any(_hidden(part) for part in inside):
                files.append(file)
                labels.append(label)
    return files, labels, tuple(folder.name for folder in folders)


def _check_classes(
    kept: list[int], class_names: Sequence[str], skipped: list[str], path: Path | str
) -> None:
    if not kept:
        detail = (
            f" ({len(skipped)} file(s) could not be read, e.g. {skipped[0]})" if skipped else ""
        )
        raise DatasetError(
            f"no readable images in {path}{detail}: add PNG or JPEG images to the class sub-folders"
        )
    counts = np.bincount(kept, minlength=len(class_names))
    empty = [name for name, count in zip(class_names, counts, strict=True) if count == 0]
    if empty:
        raise DatasetError(
            f"class folder(s) {', '.join(empty)} in {path} hold no readable images: add images "
            "to them or remove them"
        )
    lonely = [name for name, count in zip(class_names, counts, strict=True) if count < 2]
    if lonely:
        raise DatasetError(
            f"class(es) {', '.join(lonely)} in {path} have a single image: each class needs at "
            "least 2 (one for training, one for validation)"
        )


def _hidden(name: str) -> bool:
    return name.startswith(".") or name == "__MACOSX"


def _is_grayscale(picture: Image.Image) -> bool:
    """decode_image gives "L" or "RGB"; RGB with three equal channels is gray too."""
    if picture.mode == "L":
        return True
    array = np.asarray(picture.convert("RGB"))
    return bool((array[..., 0] == array[..., 1]).all() and (array[..., 1] == array[..., 2]).all())


# --- shared steps ------------------------------------------------------------------------


def _strata(targets: torch.Tensor) -> torch.Tensor:
    """Class index per image; multi-hot rows by their first label, all-zero rows apart."""
    if not is_multi_hot(targets):
        return targets.long()
    labelled = targets.sum(dim=1) > 0
    return torch.where(labelled, targets.argmax(dim=1), targets.shape[1])


def _stratified_pick(targets: torch.Tensor, size: int, seed: int) -> torch.Tensor:
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


def _limit(split: DatasetSplit, limit: int, seed: int) -> DatasetSplit:
    """Keep `limit` images in all, each part in proportion and stratified."""
    total = len(split.train) + len(split.valid)
    train_size = min(max(round(limit * len(split.train) / total), 1), limit - 1)
    train = split.train.subset(_stratified_pick(split.train.targets, train_size, seed))
    valid = split.valid.subset(_stratified_pick(split.valid.targets, limit - train_size, seed))
    return replace(split, train=train, valid=valid)


def _quiet(message: str, fraction: float) -> None:
    """The progress callback used when nobody listens."""
