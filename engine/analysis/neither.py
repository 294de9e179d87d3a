"""Honesty about "neither": how often each reading calls an image that is no digit at all
"none of the classes".

One sigmoid per class makes "none" possible, but nothing in BCE training promises it for inputs
unlike the training data: a sigmoid model may still call a letter "7" with confidence. So the
engine measures it instead of promising it, on generated non-digits (engine.nondigits: blank,
noise, letters, shapes, strokes) the model has never seen. Softmax argmax always names a class;
its rate is 0 by construction, and the table says so. Also owns running a model on uint8 images
with its run's normalisation (`model_logits`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from engine.analysis.outputs import Thresholds, check_scores, fired, threshold_for_json
from engine.analysis.readings import READINGS
from engine.labels import fires
from engine.modes import ReadingKey

if TYPE_CHECKING:
    from engine.runs import LoadedRun

# Seeds the unseen non-digits; kept apart from the seed that makes training "none" examples.
UNSEEN_NON_DIGIT_SEED = 9_001


@dataclass(frozen=True)
class NeitherCheck:
    """What each reading says about images that are no digit."""

    count: int  # non-digit images shown
    threshold: float | list[float]
    readings: pd.DataFrame  # index reading key: title, neither_rate, low_confidence_rate, ...
    per_kind: pd.DataFrame  # index kind, one column per reading key: its "neither" rate
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "threshold": self.threshold,
            "readings": [
                {"key": key, **row} for key, row in self.readings.to_dict(orient="index").items()
            ],
            "per_kind": {
                kind: {key: float(value) for key, value in row.items()}
                for kind, row in self.per_kind.to_dict(orient="index").items()
            },
            "explanation": self.explanation,
        }


def model_logits(
    model: nn.Module,
    images: torch.Tensor,
    normalization: tuple[Sequence[float], Sequence[float]] | Mapping[str, Sequence[float]],
    batch_size: int = 1024,
) -> torch.Tensor:
    """Logits (N, K) of an evaluation-mode model for uint8 images (N, C, H, W), normalised the
    way the model was trained (mean and std per channel in 0..1 units), on the CPU."""
    if isinstance(normalization, Mapping):
        mean_values, std_values = normalization["mean"], normalization["std"]
    else:
        mean_values, std_values = normalization
    mean = torch.tensor(list(mean_values), dtype=torch.float32).view(1, -1, 1, 1)
    std = torch.tensor(list(std_values), dtype=torch.float32).view(1, -1, 1, 1)
    parameter = next(model.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    model.eval()
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(images), batch_size):
            batch = images[start : start + batch_size].float().div(255)
            batch = ((batch - mean) / std).to(device)
            outputs.append(model(batch).float().cpu())
    if not outputs:
        return torch.zeros(0, 0)
    return torch.cat(outputs)


def fit_images_to_shape(images: torch.Tensor, image_shape: Sequence[int]) -> torch.Tensor:
    """Generated 1-channel images resized and channel-repeated to a run's (C, H, W)."""
    channels, height, width = image_shape
    if tuple(images.shape[2:]) != (height, width):
        resized = F.interpolate(images.float(), size=(height, width), mode="bilinear")
        images = resized.round().clamp(0, 255).to(torch.uint8)
    if images.shape[1] != channels:
        images = images[:, :1].expand(-1, channels, -1, -1).contiguous()
    return images


def neither_rates(
    logits_by_reading: Mapping[str, torch.Tensor],
    kinds: Sequence[str],
    class_names: Sequence[str],
    threshold: Thresholds = 0.5,
) -> NeitherCheck:
    """Score readings ("a", "b", "c" of READINGS -> that model's logits on the non-digits).

    neither_rate: share of images the reading's decision leaves with no class (always 0 for
    softmax argmax). low_confidence_rate: share whose highest probability stays below the
    threshold, i.e. would not fire by the engine's one rule (what a softmax reading could
    refuse with a confidence cut-off).
    top_class / top_class_share: the class it names most often, and how often.
    """
    rows: dict[str, dict[str, Any]] = {}
    per_kind: dict[str, pd.Series] = {}
    kind_series = pd.Series(list(kinds))
    count = len(kind_series)
    for key, logits in logits_by_reading.items():
        _, activation, title = READINGS[key]
        scores = check_scores(logits)
        if activation == "softmax":
            probabilities = scores.softmax(dim=1)
            neither = torch.zeros(len(scores), dtype=torch.bool)
        else:
            probabilities = scores.sigmoid()
            neither = ~fired(probabilities, threshold).any(dim=1)
        confidence, top = probabilities.max(dim=1)
        named = top[~neither]
        if len(named):
            most = int(torch.bincount(named, minlength=len(class_names)).argmax())
            top_class, top_share = str(class_names[most]), float((named == most).sum() / count)
        else:
            top_class, top_share = None, 0.0
        low = ~fires(confidence, torch.as_tensor(threshold, dtype=torch.float32).min())
        rows[key] = {
            "title": title,
            "neither_rate": float(neither.float().mean()) if count else 0.0,
            "low_confidence_rate": float(low.float().mean()) if count else 0.0,
            "mean_max_probability": float(confidence.mean()) if count else 0.0,
            "top_class": top_class,
            "top_class_share": top_share,
        }
        per_kind[key] = pd.Series(neither.float().numpy()).groupby(kind_series).mean()
    readings = pd.DataFrame.from_dict(rows, orient="index")
    kind_table = pd.DataFrame(per_kind)
    kind_table.index.name = "kind"
    return NeitherCheck(
        count=count,
        threshold=threshold_for_json(threshold),
        readings=readings,
        per_kind=kind_table,
        explanation=_explain(readings, count),
    )


def check_non_digits(
    runs: Sequence[LoadedRun],
    threshold: Thresholds = 0.5,
    count: int = 500,
    seed: int = UNSEEN_NON_DIGIT_SEED,
) -> NeitherCheck:
    """Run each run's model on `count` generated non-digits and score its readings: a
    softmax-trained run gives readings (a) and (b), a sigmoid-trained run reading (c)."""
    images, kinds = _non_digits(count, seed)
    logits_by_reading: dict[str, torch.Tensor] = {}
    for run in runs:
        fitted = fit_images_to_shape(images, run.image_shape)
        logits = model_logits(run.model, fitted, run.normalization)
        keys = (
            (ReadingKey.SOFTMAX_ARGMAX, ReadingKey.SOFTMAX_AS_SIGMOIDS)
            if run.config.train.mode == "multi-class"
            else (ReadingKey.SIGMOID,)
        )
        for key in keys:
            logits_by_reading[key] = logits
    return neither_rates(logits_by_reading, kinds, runs[0].class_names, threshold)


@functools.lru_cache(maxsize=4)
def _non_digits(count: int, seed: int) -> tuple[torch.Tensor, tuple[str, ...]]:
    """The generated images, drawn once per (count, seed): they are deterministic, and drawing
    them costs more than showing them to a small model. Callers must not modify them."""
    from engine.nondigits import make_non_digits

    images, kinds = make_non_digits(count, seed=seed)
    return images, tuple(kinds)


def _explain(readings: pd.DataFrame, count: int) -> str:
    parts = []
    for key, row in readings.iterrows():
        if READINGS[str(key)][1] == "softmax":
            parts.append(
                f"softmax argmax ({key}) names a class for all {count} by construction, its top "
                f"probability staying below the threshold on "
                f"{row.low_confidence_rate * 100:.0f}%"
            )
            continue
        text = f'reading ({key}) says "neither" for {row.neither_rate * 100:.0f}%'
        if row.top_class is not None and row.top_class_share > 0:
            text += f' and calls {row.top_class_share * 100:.0f}% "{row.top_class}"'
        parts.append(text)
    return f"On {count} generated non-digits, " + "; ".join(parts) + "."
