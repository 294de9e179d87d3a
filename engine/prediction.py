"""Prediction: uploaded image bytes in, per-class sigmoid and softmax probabilities out.

Owns the step from a loaded run (engine/runs/) to a `Prediction` per file: decode and
preprocess (engine/images/), normalise exactly as training did ((x / 255 - mean) / std), one
batched forward pass, and a verdict at a threshold. A file that cannot be read does not sink
the batch: its `Prediction` carries `error` and no probabilities.

The verdict follows the run's label mode, and says which reading it is (`reading`):
- a multi-class (softmax-trained) run answers with its softmax winner, always one class ("7");
- a multi-label (sigmoid-trained) run answers with every class whose sigmoid fires
  (`engine.labels.fires`: sigmoid >= threshold). Two firing classes read "1 and 7" when the
  run's images carry several labels each (two-digits, multi-hot CSV sets) and "1 or 7 —
  ambiguous" when they carry one; no firing class reads "none of the classes".
The other reading stays available, labelled: `fired` is always the sigmoid reading, and
`other_reading_text` says what it gives for a softmax run ("read with sigmoids, which this
model was not trained for: ...") or what the softmax winner is for a sigmoid run. Classes
within NEAR_MISS_MARGIN below the threshold are near misses ("3 nearly fired: 0.49").

JSON form (`Prediction.to_dict`, used by `python -m engine predict --json`): `file`, `classes`,
`sigmoid`, `softmax`, `reading` ("softmax" or "sigmoid"), `verdict` (the class names of the
run's own reading), `fired` (the classes whose sigmoid fires, whatever the reading),
`near_misses`, `verdict_text` and `error` (null when the file was predicted; else the message,
with `sigmoid`, `softmax`, `verdict`, `fired` and `near_misses` null, since an empty verdict
means "none of the classes").
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine.errors import EngineError
from engine.images.decode import decode_image
from engine.images.display import to_display
from engine.images.prepare import preprocess
from engine.labels import fires, nearly_fires

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
    verdict: list[str]  # the run's own reading: its softmax winner, or the classes that fire
    model_input: np.ndarray | None  # uint8 (H, W) or (H, W, C): the image as the model sees it
    error: str | None = None
    reading: str = "sigmoid"  # "softmax" (multi-class run) or "sigmoid" (multi-label run)
    fired: list[str] = field(default_factory=list)  # classes whose sigmoid fires, class order
    near_misses: list[str] = field(default_factory=list)  # within the margin below threshold
    several_labels: bool = False  # the run's images carry several labels each

    def to_dict(self) -> dict[str, Any]:
        failed = self.error is not None
        return {
            "file": self.file,
            "classes": list(self.classes),
            "sigmoid": None if failed else [float(value) for value in self.sigmoid],
            "softmax": None if failed else [float(value) for value in self.softmax],
            "reading": self.reading,
            "verdict": None if failed else list(self.verdict),
            "fired": None if failed else list(self.fired),
            "near_misses": None if failed else list(self.near_misses),
            "verdict_text": verdict_text(self),
            "error": self.error,
        }


READING_NAMES = {"softmax": "softmax (its winner)", "sigmoid": "sigmoids (each class that fires)"}


def verdict_text(prediction: Prediction) -> str:
    """The run's own reading in words: the softmax winner ("7") for a softmax run; for a
    sigmoid run the classes that fire: "7", "1 and 7" on data with several labels per image,
    "1 or 7 — ambiguous" (most probable first) on data with one, or "none of the classes".
    For an unreadable file, "error: <message>"."""
    if prediction.error is not None:
        return f"error: {prediction.error}"
    if prediction.reading == "softmax":
        return prediction.verdict[0] if prediction.verdict else "none of the classes"
    return sigmoid_text(prediction, prediction.verdict)


def sigmoid_text(prediction: Prediction, names: Sequence[str]) -> str:
    """Classes read with sigmoids, in words (see verdict_text)."""
    if not names:
        return "none of the classes"
    if len(names) == 1:
        return names[0]
    if prediction.several_labels:
        ordered = [name for name in prediction.classes if name in set(names)]
        return f"{', '.join(ordered[:-1])} and {ordered[-1]}"
    probability = dict(zip(prediction.classes, prediction.sigmoid, strict=True))
    ordered = sorted(names, key=lambda name: -probability[name])
    return f"{', '.join(ordered[:-1])} or {ordered[-1]} — ambiguous"


def other_reading_text(prediction: Prediction) -> str:
    """The reading the run was not trained for, labelled as such."""
    if prediction.error is not None:
        return ""
    if prediction.reading == "softmax":
        return (
            "read with sigmoids, which this model was not trained for: "
            f"{sigmoid_text(prediction, prediction.fired)}"
        )
    winner = max(zip(prediction.softmax, prediction.classes, strict=True))[1]
    return f"read with softmax, which this model was not trained for: {winner}"


def near_miss_text(prediction: Prediction) -> str:
    """ "3 nearly fired: 0.49" for each class just below the threshold, or ""."""
    probability = dict(zip(prediction.classes, prediction.sigmoid, strict=True))
    return "; ".join(
        f"{name} nearly fired: {probability[name]:.2f}" for name in prediction.near_misses
    )


def pairs_between(
    prediction: Prediction,
    pairs: Sequence[tuple[str, str]],
    threshold: float | Sequence[float],
):
    """The confused pairs (a, b) an image falls between: both sigmoids fire or nearly fire
    (each at least its threshold - NEAR_MISS_MARGIN; one threshold, or one per class), with
    min(sigmoid a, sigmoid b), strongest first. A blank page, whose sigmoids are all low,
    falls between none."""
    names = [str(name) for name in prediction.classes]
    cutoffs = _per_class(threshold, len(names))
    close = nearly_fires(torch.tensor(prediction.sigmoid), torch.tensor(cutoffs))
    high = fires(torch.tensor(prediction.sigmoid), torch.tensor(cutoffs)) | close
    meaningful = {name for name, on in zip(names, high.tolist(), strict=True) if on}
    probability = dict(zip(names, prediction.sigmoid, strict=True))
    found = [
        (a, b, min(probability[a], probability[b]))
        for a, b in pairs
        if a in meaningful and b in meaningful
    ]
    return sorted(found, key=lambda item: -item[2])


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
        predictions.append(Prediction(name, classes, [], [], [], to_display(tensor)))
    if not prepared:
        return predictions
    read = predict_prepared(run, torch.stack(prepared), torch.tensor(cutoffs))
    for row, slot in enumerate(slots):
        read[row].file, read[row].model_input = (
            predictions[slot].file,
            predictions[slot].model_input,
        )
        predictions[slot] = read[row]
    return predictions


def predict_prepared(
    run: LoadedRun, images: torch.Tensor, threshold: float | torch.Tensor = 0.5
) -> list[Prediction]:
    """Predictions for images already prepared as the run's training images were (uint8
    (N, C, H, W)), read the run's way; `file` is the row number, `model_input` None."""
    return read_logits(run, predict_tensor(run.model, images, run.normalization), threshold)


def read_logits(
    run: LoadedRun, logits: torch.Tensor, threshold: float | torch.Tensor = 0.5
) -> list[Prediction]:
    """The run's model's logits (N, K) read the run's way at `threshold` (one number, or one
    per class as a (K,) tensor): every verdict, firing set and near miss Predict shows comes
    from here."""
    if not bool(torch.isfinite(logits).all()):
        raise EngineError(
            f"run {getattr(run, 'id', '')!r} gives NaN or infinite outputs (its weights or "
            "normalization are damaged): no verdict can be read from them; train the run again"
        )
    classes = tuple(run.class_names)
    reading = getattr(run, "reading", "sigmoid")  # LoadedRun.reading: from its label mode
    several = getattr(run, "labels_per_image", "one") == "several"
    sigmoid, softmax = torch.sigmoid(logits), torch.softmax(logits, dim=1)
    fired, near = fires(sigmoid, threshold), nearly_fires(sigmoid, threshold)
    winners = softmax.argmax(dim=1).tolist()
    predictions = []
    for row in range(len(logits)):
        fired_names = [name for name, on in zip(classes, fired[row].tolist(), strict=True) if on]
        predictions.append(
            Prediction(
                file=str(row),
                classes=classes,
                sigmoid=sigmoid[row].tolist(),
                softmax=softmax[row].tolist(),
                verdict=[classes[winners[row]]] if reading == "softmax" else fired_names,
                model_input=None,
                reading=reading,
                fired=fired_names,
                near_misses=[n for n, on in zip(classes, near[row].tolist(), strict=True) if on],
                several_labels=several,
            )
        )
    return predictions


def _per_class(threshold: float | Sequence[float], count: int) -> list[float]:
    values = [float(threshold)] * count if isinstance(threshold, int | float) else list(threshold)
    if len(values) != count:
        raise EngineError(f"got {len(values)} thresholds for {count} classes: give one or one each")
    if not all(0.0 < value < 1.0 for value in values):
        raise EngineError("threshold must lie strictly between 0 and 1")
    return [float(value) for value in values]
