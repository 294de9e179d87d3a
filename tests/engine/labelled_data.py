"""A tiny PASCAL-style multi-label dataset whose right answers are known: colour images with
a `train.csv` (`fname,labels,is_valid`, labels separated by spaces), as a folder or a zip.

Each class is a coloured block in its own corner (cat red, top left; dog green, top right;
person blue, bottom), so an image shows exactly the classes of its label set, and a row with
no labels is a plain grey image ("none"). Shared by the engine, dashboard and browser tests.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("cat", "dog", "person")
_PLACES = {"cat": (0, 0), "dog": (0, 10), "person": (10, 5)}
_COLOURS = {"cat": (230, 30, 30), "dog": (30, 200, 30), "person": (40, 40, 230)}
# Every label set, "none" included, in a fixed order; rows cycle through them.
LABEL_SETS = ((), ("cat",), ("dog",), ("person",), ("cat", "dog"), ("dog", "person"))


def image_bytes(labels: tuple[str, ...], seed: int, size: int = 20) -> bytes:
    """A PNG showing the blocks of `labels` on a grey, lightly noisy background."""
    generator = np.random.default_rng(seed)
    pixels = generator.integers(100, 140, (size, size, 3)).astype(np.uint8)
    for label in labels:
        top, left = _PLACES[label]
        pixels[top : top + 9, left : left + 9] = _COLOURS[label]
    buffer = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def rows(count: int) -> list[tuple[str, tuple[str, ...], bool]]:
    """(file name, label set, is_valid) for `count` images; every fourth is validation."""
    return [
        (f"{index:06d}.png", LABEL_SETS[index % len(LABEL_SETS)], index % 4 == 3)
        for index in range(count)
    ]


def csv_text(table: list[tuple[str, tuple[str, ...], bool]], with_valid: bool = True) -> str:
    header = "fname,labels,is_valid" if with_valid else "fname,labels"
    lines = [header]
    for name, labels, valid in table:
        cells = [name, " ".join(labels)] + ([str(valid)] if with_valid else [])
        lines.append(",".join(cells))
    return "\n".join(lines) + "\n"


def write_folder(root: Path, count: int = 48, with_valid: bool = True) -> Path:
    """fastbook's layout: root/train.csv and root/train/<fname>; returns root."""
    table = rows(count)
    (root / "train").mkdir(parents=True, exist_ok=True)
    for index, (name, labels, _) in enumerate(table):
        (root / "train" / name).write_bytes(image_bytes(labels, index))
    (root / "train.csv").write_text(csv_text(table, with_valid))
    return root


def zip_bytes(
    count: int = 48, csv: str | bytes | None = None, top: str = "pascal", with_valid: bool = True
) -> bytes:
    """The same layout zipped under one top folder; `csv` replaces the generated table."""
    table = rows(count)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index, (name, labels, _) in enumerate(table):
            archive.writestr(f"{top}/train/{name}", image_bytes(labels, index))
        archive.writestr(
            f"{top}/train.csv", csv if csv is not None else csv_text(table, with_valid)
        )
    return buffer.getvalue()
