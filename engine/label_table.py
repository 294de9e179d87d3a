"""Label tables: a CSV that names each image's labels, the way fastbook's PASCAL `train.csv`
gives a multi-label dataset.

The table has a header row with the columns `fname` and `labels`, and optionally `is_valid`:

    fname,labels,is_valid
    000005.jpg,chair,True
    000007.jpg,car,True
    000009.jpg,horse person,True

`labels` holds the image's class names separated by spaces; an empty `labels` means the image
shows none of the classes (an all-zero target, allowed). `is_valid` (true/false, 1/0, yes/no)
puts the image in the validation part; without it the split is drawn like any other dataset's.
`fname` is a path relative to the folder holding the CSV, or a bare file name found once
anywhere below it (PASCAL's `train/000005.jpg` is listed as `000005.jpg`).

This module only reads and checks the table; decoding the images and building tensors is
engine/datasets/folders.py's job. Every problem is a `DatasetError` that names the CSV by its
own file name, the row and the fix, never a server path.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from engine.errors import DatasetError

FILE_COLUMN = "fname"
LABELS_COLUMN = "labels"
VALID_COLUMN = "is_valid"
PREFERRED_NAMES = ("train.csv", "labels.csv")  # chosen when a folder holds several CSVs
MAX_TABLE_ROWS = 50_000  # images listed; more would not fit a zip upload's member limit either
MAX_TABLE_BYTES = 20 * 1024 * 1024
_TRUE = {"true", "1", "yes", "y", "t", "valid"}
_FALSE = {"false", "0", "no", "n", "f", "train", ""}
_SHOWN = 5  # examples named in a message


@dataclass(frozen=True)
class LabelTable:
    """A checked label table: one row per image, in the CSV's order."""

    name: str  # the CSV's file name, as messages show it
    files: tuple[Path, ...]  # each image's file
    shown_files: tuple[str, ...]  # the names the CSV gives them
    targets: torch.Tensor  # float32 multi-hot (N, K); an all-zero row is "none"
    class_names: tuple[str, ...]  # sorted
    is_valid: torch.Tensor | None  # bool (N,) when the CSV has an is_valid column
    unlisted: int  # image files in the folder that the CSV does not name (ignored)


def find_label_table(folder: Path) -> Path | None:
    """The CSV at the top of `folder` that labels its images, or None for a folder of class
    sub-folders. Several CSVs: `train.csv` or `labels.csv`, else a DatasetError."""
    if not folder.is_dir():
        return None
    tables = sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() == ".csv" and not p.name.startswith(".")
    )
    if len(tables) <= 1:
        return tables[0] if tables else None
    for preferred in PREFERRED_NAMES:
        for table in tables:
            if table.name.lower() == preferred:
                return table
    names = ", ".join(table.name for table in tables)
    raise DatasetError(
        f"the dataset holds several CSV files ({names}): keep one, or name the label table "
        "train.csv"
    )


def read_label_table(path: Path) -> LabelTable:
    """Read and check the label table at `path`; image files are looked up beside it."""
    name = path.name
    size = path.stat().st_size
    if size > MAX_TABLE_BYTES:
        raise DatasetError(
            f"{name} is {size / 2**20:,.0f} MB, more than the {MAX_TABLE_BYTES // 2**20} MB a "
            "label table may have: list fewer images"
        )
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8-sig")  # Excel's "CSV UTF-8" starts with a byte-order mark
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise DatasetError(
            f"{name} is not UTF-8 text (byte 0x{raw[error.start]:02x} on line {line}): save it "
            "as UTF-8 (in Excel: 'CSV UTF-8'), then upload it again"
        ) from None
    rows = list(csv.reader(io.StringIO(text, newline="")))
    while rows and not any(cell.strip() for cell in rows[-1]):
        rows.pop()  # trailing blank lines
    if not rows:
        raise DatasetError(
            f"{name} is empty: give a header row 'fname,labels' and one row per image"
        )
    header = [cell.strip().lower() for cell in rows[0]]
    _check_header(name, header)
    body = rows[1:]
    if len(body) > MAX_TABLE_ROWS:
        raise DatasetError(
            f"{name} lists {len(body):,} images, more than the {MAX_TABLE_ROWS:,} this app "
            "reads: keep a subset of the rows (and of the images)"
        )
    if not body:
        raise DatasetError(f"{name} has a header but no rows: add one row per image")
    file_at, labels_at = header.index(FILE_COLUMN), header.index(LABELS_COLUMN)
    valid_at = header.index(VALID_COLUMN) if VALID_COLUMN in header else None
    names: list[str] = []
    label_sets: list[list[str]] = []
    valid_flags: list[bool] = []
    first_row: dict[str, int] = {}
    for number, row in enumerate(body, start=2):  # line numbers as a spreadsheet shows them
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            hint = (
                ": separate the labels with spaces, not commas (e.g. 'dog person')"
                if len(row) > len(header)
                else ""
            )
            raise DatasetError(
                f"{name} row {number} has {len(row)} fields but the header has {len(header)}{hint}"
            )
        file_name = row[file_at].strip()
        if not file_name:
            raise DatasetError(f"{name} row {number} has an empty fname: name the image file")
        key = file_name.replace("\\", "/")
        if key in first_row:
            raise DatasetError(
                f"{name} lists {file_name!r} twice (rows {first_row[key]} and {number}): give "
                "each image one row, with all its labels separated by spaces"
            )
        first_row[key] = number
        labels = row[labels_at].split()
        bad = [label for label in labels if "," in label or ";" in label]
        if bad:
            raise DatasetError(
                f"{name} row {number}: the labels {row[labels_at].strip()!r} contain a comma or "
                "semicolon: separate labels with spaces (e.g. 'dog person')"
            )
        names.append(key)
        label_sets.append(sorted(set(labels)))
        if valid_at is not None:
            valid_flags.append(_flag(name, number, row[valid_at]))
    class_names = tuple(sorted({label for labels in label_sets for label in labels}))
    if len(class_names) < 2:
        found = f"only {class_names[0]!r}" if class_names else "no labels at all"
        raise DatasetError(
            f"{name} names {found}: a classifier needs at least 2 classes in the labels column"
        )
    files, unlisted = _resolve_files(name, path.parent, names, first_row)
    index = {label: position for position, label in enumerate(class_names)}
    targets = torch.zeros((len(names), len(class_names)), dtype=torch.float32)
    for row_index, labels in enumerate(label_sets):
        for label in labels:
            targets[row_index, index[label]] = 1.0
    is_valid = None
    if valid_at is not None:
        is_valid = torch.tensor(valid_flags, dtype=torch.bool)
        if bool(is_valid.all()) or not bool(is_valid.any()):
            part = "validation" if bool(is_valid.all()) else "training"
            raise DatasetError(
                f"{name}'s is_valid column puts every image in the {part} part: mark some rows "
                "True (validation) and some False (training), or drop the column"
            )
    return LabelTable(
        name=name,
        files=tuple(files),
        shown_files=tuple(names),
        targets=targets,
        class_names=class_names,
        is_valid=is_valid,
        unlisted=unlisted,
    )


def label_set_text(target: torch.Tensor, class_names: Sequence[str]) -> str:
    """A multi-hot row as the CSV would write it: 'dog person', or 'none'."""
    labels = [class_names[i] for i in torch.nonzero(target > 0.5).flatten().tolist()]
    return " ".join(labels) if labels else "none"


def _check_header(name: str, header: list[str]) -> None:
    missing = [column for column in (FILE_COLUMN, LABELS_COLUMN) if column not in header]
    if missing:
        found = ", ".join(repr(cell) for cell in header) or "nothing"
        raise DatasetError(
            f"{name} has no {' or '.join(repr(m) for m in missing)} column (its header row "
            f"holds {found}): the first row must name the columns fname,labels (and optionally "
            "is_valid), as fastbook's PASCAL train.csv does"
        )
    repeated = sorted({cell for cell in header if cell and header.count(cell) > 1})
    if repeated:
        raise DatasetError(f"{name}'s header names the column {repeated[0]!r} twice")


def _flag(name: str, number: int, value: str) -> bool:
    text = value.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise DatasetError(
        f"{name} row {number}: is_valid is {value.strip()!r}; write True or False (or 1 / 0)"
    )


def _resolve_files(
    name: str, root: Path, names: list[str], first_row: dict[str, int]
) -> tuple[list[Path], int]:
    """Each listed name as a file: the relative path, else a bare name found once below root."""
    present = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() != ".csv"
        and not any(
            part.startswith(".") or part == "__MACOSX" for part in p.relative_to(root).parts
        )
    ]
    by_path = {p.relative_to(root).as_posix(): p for p in present}
    by_name: dict[str, list[Path]] = {}
    for file in present:
        by_name.setdefault(file.name, []).append(file)
    files: list[Path] = []
    missing: list[str] = []
    for listed in names:
        file = by_path.get(listed.lstrip("./"))
        if file is None:
            candidates = by_name.get(Path(listed).name, [])
            if len(candidates) > 1:
                places = ", ".join(c.relative_to(root).as_posix() for c in candidates[:3])
                raise DatasetError(
                    f"{name} row {first_row[listed]} names {listed!r}, and several files have "
                    f"that name ({places}): write the path from the CSV's folder, e.g. "
                    f"{candidates[0].relative_to(root).as_posix()}"
                )
            file = candidates[0] if candidates else None
        if file is None:
            missing.append(listed)
        else:
            files.append(file)
    if missing:
        examples = ", ".join(f"{m!r} (row {first_row[m]})" for m in missing[:_SHOWN])
        more = f" and {len(missing) - _SHOWN:,} more" if len(missing) > _SHOWN else ""
        raise DatasetError(
            f"{name} names {len(missing):,} file(s) that are not in the dataset: {examples}"
            f"{more}. Put those images beside the CSV (or in a folder below it), or remove "
            "their rows"
        )
    used = set(files)
    return files, sum(1 for file in present if file not in used)
