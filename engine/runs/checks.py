"""Checks on everything the run store reads from a run folder, before it is used.

A run folder may be damaged, hand-edited or crafted by someone hostile, so nothing in it is
trusted: each file is opened only when it is a regular file (a FIFO named run.json would
otherwise hang every listing), only up to a size bound, and every value is checked against
sane bounds (class count, image shape, preprocessing style, finite normalization, finite
metrics and logits, array shapes and dtypes) before the store builds a model or allocates
memory from it. Each check returns a problem in words, or raises `RunError` with it, so a bad
run lists as damaged with the reason and `predict` / `analyze` on it end in one message.

Limits (stated in the README):
- MAX_RUN_FILE_BYTES: run.json; MAX_METRICS_BYTES: metrics.json.
- MAX_WEIGHTS_BYTES: weights.pt (resnet50's are about 95 MB).
- MAX_VALIDATION_BYTES: validation.npz's arrays once decompressed, read from the arrays'
  headers before any of them is decompressed (a 3 MB file can claim gigabytes).
- MAX_IMAGE_SIDE, channels 1 or 3; MAX_CLASSES (engine.datasets.registry) classes;
  MAX_CLASS_NAME_CHARS per class name.
"""

from __future__ import annotations

import json
import math
import os
import stat
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

import numpy as np

from engine.datasets.registry import MAX_CLASSES
from engine.errors import RunError
from engine.runs.layout import METRICS_FILE, RUN_FILE

MAX_RUN_FILE_BYTES = 1024 * 1024  # 1 MB: a run.json is about 2 KB
MAX_METRICS_BYTES = 8 * 1024 * 1024  # 8 MB: about 20,000 epochs of metrics
MAX_WEIGHTS_BYTES = 1024 * 1024 * 1024  # 1 GB
MAX_VALIDATION_BYTES = 256 * 1024 * 1024  # 256 MB of arrays once decompressed
MAX_IMAGE_SIDE = 256  # pixels; the built-in datasets are 28-64
MAX_CLASS_NAME_CHARS = 200
MAX_HISTORY_ROWS = 10_000
IMAGE_CHANNELS = (1, 3)
VALIDATION_ARRAYS = ("logits", "targets", "images")


# ---------------------------------------------------------------------------------------------
# Reading files


@contextmanager
def open_regular(path: Path | str, limit: int) -> Iterator[IO[bytes]]:
    """Open `path` for reading only if it is a regular file of at most `limit` bytes.

    The file is opened without blocking (a FIFO would wait forever for a writer), then its
    type and size are checked on the open descriptor, so it cannot be swapped in between.
    """
    path = Path(path)
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise RunError(f"{path.name} is missing") from None
    except OSError as error:
        raise RunError(f"{path.name} is unreadable ({error.strerror or error})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise RunError(f"{path.name} is not a regular file")
        if info.st_size > limit:
            raise RunError(
                f"{path.name} is {info.st_size:,} bytes, over the {limit:,}-byte limit for it"
            )
        handle = os.fdopen(descriptor, "rb")
    except BaseException:
        os.close(descriptor)
        raise
    with handle:
        yield handle


def read_regular(path: Path | str, limit: int) -> bytes:
    """The bytes of a regular file of at most `limit` bytes; RunError otherwise."""
    with open_regular(path, limit) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:  # it grew after the check
        raise RunError(f"{Path(path).name} is over the {limit:,}-byte limit for it")
    return data


def read_json(path: Path | str, limit: int) -> Any:
    """A JSON file's value; RunError when it is missing, too big, not regular or not JSON."""
    data = read_regular(path, limit)
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise RunError(f"{Path(path).name} is unreadable ({error})") from None


def read_record(folder: Path) -> dict[str, Any]:
    """A run folder's run.json, when it is a bounded regular file of JSON with a config."""
    record = read_json(folder / RUN_FILE, MAX_RUN_FILE_BYTES)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise RunError(f"{RUN_FILE} does not describe a run (no config)")
    return record


def read_history(folder: Path) -> list[dict[str, float]]:
    """A run folder's metrics.json, checked by `history_problem`; [] before the first epoch."""
    if not (folder / METRICS_FILE).exists():
        return []
    history = read_json(folder / METRICS_FILE, MAX_METRICS_BYTES)
    problem = history_problem(history)
    if problem:
        raise RunError(problem)
    return history


# ---------------------------------------------------------------------------------------------
# run.json


def record_problem(record: Mapping[str, Any]) -> str | None:
    """What in a finished run's run.json cannot be used to rebuild it, if anything."""
    from engine.images.prepare import PREPROCESS_STYLES

    names, shape = record.get("class_names"), record.get("image_shape")
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        return "run.json lacks the class names"
    if not 2 <= len(names) <= MAX_CLASSES:
        return f"run.json lists {len(names):,} classes; a run has 2 to {MAX_CLASSES}"
    if any(not name or len(name) > MAX_CLASS_NAME_CHARS for name in names):
        return f"run.json has an empty class name or one over {MAX_CLASS_NAME_CHARS} characters"
    if len(set(names)) != len(names):
        return "run.json lists a class name twice"
    if not isinstance(shape, list) or len(shape) != 3 or not all(_is_int(v) for v in shape):
        return "run.json lacks a (channels, height, width) image shape"
    channels, height, width = shape
    if channels not in IMAGE_CHANNELS or not (
        1 <= height <= MAX_IMAGE_SIDE and 1 <= width <= MAX_IMAGE_SIDE
    ):
        return (
            f"run.json has an image shape of {channels} x {height} x {width}; runs have 1 or 3 "
            f"channels and sides of at most {MAX_IMAGE_SIDE} pixels"
        )
    preprocess = record.get("preprocess")
    if preprocess is not None and preprocess not in PREPROCESS_STYLES:
        return (
            f"run.json has an unknown preprocessing style {str(preprocess)[:40]!r} "
            f"(expected one of {', '.join(PREPROCESS_STYLES)})"
        )
    normalization = record.get("normalization")
    if normalization is not None:
        problem = normalization_problem(normalization, channels)
        if problem:
            return problem
    if record.get("weights") is not None and not isinstance(record.get("weights"), dict):
        return "run.json has an unusable weights entry"
    return None


def normalization_problem(normalization: Any, channels: int) -> str | None:
    """Mean and std must be finite numbers, one per channel, std above zero: a std of 0 or NaN
    turns every probability into NaN."""
    parts = (
        [normalization.get(k) for k in ("mean", "std")] if isinstance(normalization, dict) else []
    )
    if len(parts) != 2 or not all(
        isinstance(p, list) and len(p) == channels and all(_is_number(v) for v in p) for p in parts
    ):
        return "run.json has an unusable normalization (mean and std per channel)"
    mean, std = parts
    if not all(math.isfinite(v) for v in mean + std):
        return "run.json's normalization holds a value that is not a finite number"
    if not all(v > 0 for v in std):
        return "run.json's normalization has a standard deviation of 0 or less"
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# metrics.json


def history_problem(history: Any) -> str | None:
    """metrics.json must be a list of per-epoch dicts of finite numbers."""
    if not isinstance(history, list) or not all(isinstance(row, dict) for row in history):
        return "metrics.json is not a list of per-epoch metrics"
    if len(history) > MAX_HISTORY_ROWS:
        return f"metrics.json has {len(history):,} epochs, over {MAX_HISTORY_ROWS:,}"
    for row in history:
        for key, value in row.items():
            if not isinstance(key, str) or not _is_number(value):
                return "metrics.json holds a metric that is not a number"
            if not math.isfinite(value):
                return f"metrics.json holds a non-finite {key[:40]} ({value}): training diverged"
    return None


# ---------------------------------------------------------------------------------------------
# validation.npz


def npz_headers(handle: IO[bytes], name: str = "validation.npz") -> dict[str, tuple]:
    """{array name: (shape, dtype)} read from the .npy headers inside an open .npz, without
    decompressing any array; RunError when the file is not a plain .npz."""
    headers: dict[str, tuple] = {}
    try:
        with zipfile.ZipFile(handle) as archive:
            members = archive.infolist()
            if len(members) > 16:
                raise RunError(f"{name} holds {len(members)} entries, not a run's 3 arrays")
            for member in members:
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
                    else:
                        raise RunError(f"{name} has an array of unknown format {version}")
                headers[member.filename.removesuffix(".npy")] = (tuple(shape), np.dtype(dtype))
    except RunError:
        raise
    except Exception as error:  # zipfile and numpy raise many kinds
        raise RunError(f"{name} is unreadable ({type(error).__name__}: {error})") from None
    return headers


def validation_headers_problem(
    headers: Mapping[str, tuple], classes: int, image_shape: Sequence[int]
) -> str | None:
    """The arrays' shapes, dtypes and decompressed size, checked against run.json."""
    missing = [name for name in VALIDATION_ARRAYS if name not in headers]
    if missing:
        return f"validation.npz lacks the {', '.join(missing)} array(s)"
    total = 0
    for shape, dtype in headers.values():
        if dtype.hasobject or any(not isinstance(n, int) or n < 0 for n in shape):
            return "validation.npz holds an array of Python objects or of negative size"
        total += math.prod(shape) * dtype.itemsize
    if total > MAX_VALIDATION_BYTES:
        return (
            f"validation.npz would take {total / 2**20:,.0f} MB once decompressed, over the "
            f"{MAX_VALIDATION_BYTES / 2**20:,.0f} MB limit"
        )
    (logits, logits_type) = headers["logits"]
    (targets, targets_type) = headers["targets"]
    (images, images_type) = headers["images"]
    if logits_type.kind != "f" or len(logits) != 2 or logits[1] != classes:
        return f"validation.npz's logits are not floats of shape (images, {classes})"
    count = logits[0]
    if not (
        (targets_type.kind in "iu" and targets == (count,))
        or (targets_type.kind in "fb" and targets == (count, classes))
    ):
        return "validation.npz's targets do not match its logits (class indices or multi-hot)"
    if images_type != np.uint8 or images != (count, *image_shape):
        return (
            f"validation.npz's images are not uint8 of shape ({count}, "
            f"{', '.join(str(v) for v in image_shape)})"
        )
    return None


def validation_values_problem(logits: np.ndarray, targets: np.ndarray, classes: int) -> str | None:
    """Finite logits, and targets that are class indices or 0..1 multi-hot rows."""
    if not np.isfinite(logits).all():
        return "validation.npz's logits hold NaN or infinity: the model diverged"
    if targets.ndim == 1:
        if targets.size and (targets.min() < 0 or targets.max() >= classes):
            return f"validation.npz's targets hold a class index outside 0..{classes - 1}"
    elif targets.dtype.kind == "f" and not (
        np.isfinite(targets).all() and ((targets >= 0) & (targets <= 1)).all()
    ):
        return "validation.npz's multi-hot targets hold values outside 0..1"
    return None


def read_validation_arrays(
    path: Path, classes: int, image_shape: Sequence[int], only: Sequence[str] = VALIDATION_ARRAYS
) -> dict[str, np.ndarray]:
    """The arrays named in `only`, after their headers and (for logits and targets) their
    values were checked; RunError says what is wrong. Memory is bounded by
    MAX_VALIDATION_BYTES: nothing is decompressed before its header was checked."""
    with open_regular(path, MAX_VALIDATION_BYTES) as handle:
        problem = validation_headers_problem(npz_headers(handle, path.name), classes, image_shape)
        if problem:
            raise RunError(problem)
        handle.seek(0)
        try:
            with np.load(handle, allow_pickle=False) as arrays:
                loaded = {name: arrays[name] for name in {*only, "logits", "targets"}}
        except Exception as error:  # truncated or corrupt members
            raise RunError(f"{path.name} is unreadable ({type(error).__name__}: {error})") from None
    problem = validation_values_problem(loaded["logits"], loaded["targets"], classes)
    if problem:
        raise RunError(problem)
    return {name: loaded[name] for name in only}


# What each validation.npz version was found to hold: (path, inode, size, mtime) -> problem.
# A listing then checks each file once, not on every page view.
_VALIDATION_VERDICTS: dict[tuple, str | None] = {}
_MAX_VERDICTS = 4096


def validation_problem(path: Path, classes: int, image_shape: Sequence[int]) -> str | None:
    """The problem with a run's validation.npz, if any, remembered per file version."""
    try:
        info = path.stat()
        key = (str(path), info.st_ino, info.st_size, info.st_mtime_ns, classes, tuple(image_shape))
    except OSError as error:
        return f"{path.name} is unreadable ({error.strerror or error})"
    if key in _VALIDATION_VERDICTS:
        return _VALIDATION_VERDICTS[key]
    try:
        read_validation_arrays(path, classes, image_shape, only=())
        problem = None
    except RunError as error:
        problem = str(error)
    if len(_VALIDATION_VERDICTS) >= _MAX_VERDICTS:
        _VALIDATION_VERDICTS.clear()
    _VALIDATION_VERDICTS[key] = problem
    return problem
