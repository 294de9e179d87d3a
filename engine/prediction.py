"""Prediction: uploaded image bytes in, per-class sigmoid and softmax probabilities out.

Owns the step from a loaded run (engine/runs.py) to a `Prediction` per file: decode and
preprocess (engine/images.py), normalise exactly as training did ((x / 255 - mean) / std), one
batched forward pass, and a verdict at a threshold. A file that cannot be read does not sink
the batch: its `Prediction` carries `error` and no probabilities.

JSON form (`Prediction.to_dict`, used by `python -m engine predict --json`): `file`, `classes`,
`sigmoid`, `softmax`, `verdict`, `verdict_text` and `error` (null when the file was predicted;
else the message, with `sigmoid`, `softmax` and `verdict` null, since an empty verdict means
"none of the classes").
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.errors import EngineError
from engine.images import decode_image, preprocess

if TYPE_CHECKING:
    from engine.runs import LoadedRun

Normalization = Mapping[str, Sequence[float]] | tuple[Sequence[float], Sequence[float]]


@dataclass
class Prediction:
    """What the model says about one file, or why it could not say anything (`error`)."""

    file: str
    classes: tuple[str, ...]
    sigmoid: list[float]  # one per class, in class order; empty when error is set
    softmax: list[float]
    verdict: list[str]  # classes whose sigmoid passes the threshold, in class order
    model_input: np.ndarray | None  # uint8 (H, W) or (H, W, C): the image as the model sees it
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        failed = self.error is not None
        return {
            "file": self.file,
            "classes": list(self.classes),
            "sigmoid": None if failed else [float(value) for value in self.sigmoid],
            "softmax": None if failed else [float(value) for value in self.softmax],
            "verdict": None if failed else list(self.verdict),
            "verdict_text": verdict_text(self),
            "error": self.error,
        }


def verdict_text(prediction: Prediction) -> str:
    """ "7", "1 or 7 — ambiguous", "1, 7 or 9 — ambiguous" (most probable first), or
    "none of the classes"; for an unreadable file, "error: <message>"."""
    if prediction.error is not None:
        return f"error: {prediction.error}"
    if not prediction.verdict:
        return "none of the classes"
    probability = dict(zip(prediction.classes, prediction.sigmoid, strict=True))
    names = sorted(prediction.verdict, key=lambda name: -probability[name])
    if len(names) == 1:
        return names[0]
    return f"{', '.join(names[:-1])} or {names[-1]} — ambiguous"


def predict_tensor(
    model: nn.Module, images: torch.Tensor, normalization: Normalization
) -> torch.Tensor:
    """Logits (N, K) as float32 on the CPU for uint8 images (N, C, H, W), normalised as in
    training."""
    mean, std = _mean_std(normalization)
    device = next(model.parameters(), torch.empty(0)).device

    def forward() -> torch.Tensor:
        with torch.inference_mode():
            batch = images.to(device=device, dtype=torch.float32).div_(255.0)
            shape = (1, -1, 1, 1)
            batch = (batch - mean.to(device).view(shape)) / std.to(device).view(shape)
            return model(batch).float().cpu()

    if device.type == "cpu" and images.shape[0] <= SINGLE_THREAD_BATCH:
        return _single_thread_executor().submit(forward).result()
    return forward()


# A few images gain nothing from torch's intra-op threads, and on a busy machine (a training in
# the background, other sessions) waiting for them dominated: one 28x28 image took 0.13 ms at
# the median but 280 ms at the 90th percentile with 2 threads, 0.3 ms with one. So small CPU
# batches run on one worker thread whose torch thread count is 1. torch.set_num_threads is
# per thread (OpenMP, MKL) but also sets the default for threads started later, so that default
# is restored at once; training threads keep their own count.
SINGLE_THREAD_BATCH = 16
_executor: ThreadPoolExecutor | None = None
_executor_lock = threading.Lock()


def _use_one_thread() -> None:
    torch.get_num_threads()  # torch initialises a thread's count lazily, from the default:
    torch.set_num_threads(1)  # do that first, so the default restored later cannot undo this


def _single_thread_executor() -> ThreadPoolExecutor:
    global _executor
    with _executor_lock:
        if _executor is None:
            previous = torch.get_num_threads()
            executor = ThreadPoolExecutor(
                1,
                thread_name_prefix="lme-predict",
                initializer=_use_one_thread,
            )
            executor.submit(int).result()  # start the worker now, running the initializer
            torch.set_num_threads(previous)
            _executor = executor
    return _executor


def _mean_std(normalization: Normalization) -> tuple[torch.Tensor, torch.Tensor]:
    """Accepts run.json's {"mean": [...], "std": [...]} and FitResult's (mean, std)."""
    if isinstance(normalization, Mapping):
        mean, std = normalization["mean"], normalization["std"]
    else:
        mean, std = normalization
    return torch.tensor(mean, dtype=torch.float32), torch.tensor(std, dtype=torch.float32)


def predict_images(
    run: LoadedRun,
    images: Sequence[tuple[str, bytes]],
    threshold: float | Sequence[float] = 0.5,
) -> list[Prediction]:
    """One `Prediction` per (file name, bytes), in order; unreadable files get `error` set.

    `threshold` is one number, or one per class (e.g. the run's tuned thresholds)."""
    classes = tuple(run.class_names)
    cutoffs = _per_class(threshold, len(classes))
    prepared: list[torch.Tensor] = []
    slots: list[int] = []
    predictions: list[Prediction] = []
    for slot, (name, data) in enumerate(images):
        try:
            tensor = preprocess(decode_image(data, name), run.preprocess, run.image_shape)
        except EngineError as error:
            predictions.append(Prediction(name, classes, [], [], [], None, error=str(error)))
            continue
        prepared.append(tensor)
        slots.append(slot)
        array = tensor.numpy()
        model_input = array[0] if array.shape[0] == 1 else array.transpose(1, 2, 0)
        predictions.append(Prediction(name, classes, [], [], [], model_input))
    if not prepared:
        return predictions
    logits = predict_tensor(run.model, torch.stack(prepared), run.normalization)
    if not bool(torch.isfinite(logits).all()):
        raise EngineError(
            f"run {run.id!r} gives NaN or infinite outputs (its weights or normalization are "
            "damaged): no verdict can be read from them; train the run again"
        )
    sigmoid = torch.sigmoid(logits).tolist()
    softmax = torch.softmax(logits, dim=1).tolist()
    for row, slot in enumerate(slots):
        prediction = predictions[slot]
        prediction.sigmoid = sigmoid[row]
        prediction.softmax = softmax[row]
        prediction.verdict = [
            name
            for name, value, cutoff in zip(classes, sigmoid[row], cutoffs, strict=True)
            if value >= cutoff
        ]
    return predictions


def _per_class(threshold: float | Sequence[float], count: int) -> list[float]:
    values = [float(threshold)] * count if isinstance(threshold, int | float) else list(threshold)
    if len(values) != count:
        raise EngineError(f"got {len(values)} thresholds for {count} classes: give one or one each")
    if not all(0.0 < value < 1.0 for value in values):
        raise EngineError("threshold must lie strictly between 0 and 1")
    return [float(value) for value in values]
