"""Image folders and zips as datasets:

- `folder:PATH`: one sub-folder per class, class names are the sorted sub-folder names; or
  images with a label table, a CSV `fname,labels[,is_valid]` with space-separated labels as
  fastbook's PASCAL `train.csv` (read by `engine.label_table`), which gives float multi-hot
  targets (N, K) like `two-digits`: a genuinely multi-label dataset.
- `zip:PATH`: either layout inside a .zip, extracted safely by `engine.archives.extract_zip`.

Images are decoded by `engine.images.decode.decode_image` (as uploads are), become grayscale
when every image is grayscale and RGB otherwise, and are brought to 28x28 when no image is
larger than 32 pixels, else to 64x64, by `engine.images.prepare.preprocess(..., "resize")`
(centre crop to a square, then resize), so training images and later uploads are prepared
alike. Files that do
not decode are skipped and listed in `DatasetSplit.warnings`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from engine.archives import extract_zip
from engine.atomic_files import scratch_prefix
from engine.config import DataConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset, Progress
from engine.datasets.registry import MAX_CLASSES
from engine.datasets.splitting import stratified_pick, stratified_split
from engine.errors import DatasetError, EngineError
from engine.images.decode import decode_image, header_pixels
from engine.images.prepare import preprocess
from engine.label_table import LabelTable, find_label_table, read_label_table

MAX_DATASET_PIXELS = 1_000_000_000  # decoded pixels of all images of a folder or zip
SMALL_IMAGE_SIDE = 32  # folder images up to this size become 28x28, larger ones 64x64


def load_zip(path: Path, name: str, config: DataConfig, report: Progress) -> DatasetSplit:
    """A zip of either layout, extracted into a scratch folder that is gone on return."""
    if not path.is_file():
        raise DatasetError(
            f"zip file {path.name} not found: give the path of a .zip holding one folder per "
            "class, or images with a CSV of their labels"
        )
    report(f"extracting {path.name}", 0.0)
    # scratch_prefix names this process, for crash clean-up
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("lme-zip-")) as scratch:
        folder = extract_zip(path, Path(scratch))
        # Messages name the zip, never the temporary folder it was extracted into.
        return load_folder(Path(folder), name, config, report, shown=path.name)


def load_folder(
    path: Path, name: str, config: DataConfig, report: Progress, shown: str | None = None
) -> DatasetSplit:
    """A folder of class sub-folders, or of images named by a label table."""
    shown = shown or str(path)  # how messages name the data
    table = find_label_table(path)
    if table is not None:
        return _load_labelled(read_label_table(table), name, config, report)
    files, labels, class_names = _list_class_files(path, shown)
    if config.limit is not None and len(files) > config.limit:
        chosen = stratified_pick(torch.tensor(labels), config.limit, config.split_seed)
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
    order = torch.arange(len(table.files))
    if config.limit is not None and len(order) > config.limit:
        order = stratified_pick(table.targets, config.limit, config.split_seed)
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
