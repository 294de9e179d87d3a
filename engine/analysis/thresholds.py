"""Thresholds and the metrics read at them: fastai's accuracy_multi, per-class precision,
recall and F1, macro F1, per-class average precision, and per-class thresholds tuned to
maximise F1 on the validation outputs.

Choosing a threshold is fastbook's lesson: plot accuracy_multi (and exact match, macro F1)
against the threshold on validation (`threshold_curve`), and when thresholds are tuned per
class, score them on images they were not tuned on (`held_out_tuning`: each half of the
validation images is decided by thresholds tuned on the other half), since thresholds tuned
and scored on the same images always look better than they will be.

All functions take probabilities (sigmoids, already applied) and targets as class indices or
multi-hot rows. Everything is vectorised over classes: one sort of the (N, K) matrix answers
every class at once, so a slider can recompute it on every move.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import torch

from engine.analysis.outputs import (
    ArrayLike,
    Thresholds,
    checked_pair,
    fired,
    threshold_for_json,
    threshold_vector,
)
from engine.json_values import plain_json


@dataclass(frozen=True)
class ThresholdMetrics:
    """How a sigmoid reading scores at one threshold (global or per class)."""

    threshold: float | list[float]
    accuracy_multi: float  # fastai: share of all N*K (image, class) decisions that are right
    exact_match: float  # share of images whose set of fired classes is exactly the truth
    macro_f1: float  # unweighted mean of per-class F1
    mean_average_precision: float  # unweighted mean of per-class AP (threshold-free)
    per_class: pd.DataFrame  # index: class name; precision, recall, f1, average_precision, ...

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: scalars plus one record per class."""
        return {
            "threshold": self.threshold,
            "accuracy_multi": self.accuracy_multi,
            "exact_match": self.exact_match,
            "macro_f1": self.macro_f1,
            "mean_average_precision": self.mean_average_precision,
            "per_class": [
                {"class": str(name), **plain_json(row.to_dict())}
                for name, row in self.per_class.iterrows()
            ],
        }


def accuracy_multi(
    probabilities: ArrayLike, targets: ArrayLike, threshold: Thresholds = 0.5
) -> float:
    """fastai's accuracy_multi, `((sigmoid >= threshold) == target).float().mean()`, with
    the engine's one rule for firing (fastai itself compares with `>`).

    Over every (image, class) cell, so with 10 classes a model that fires nothing still
    scores 90%: read it beside exact_match and F1.
    """
    scores, truth = checked_pair(probabilities, targets)
    return float((fired(scores, threshold) == truth).float().mean())


def average_precision(probabilities: ArrayLike, targets: ArrayLike) -> np.ndarray:
    """Per-class average precision, (K,), as sklearn defines it: sum over thresholds of
    (recall gained) * precision, tied scores taken together. NaN for a class with no positives.
    """
    scores, truth = checked_pair(probabilities, targets)
    ranked = _ranked(scores, truth)
    # Only the last position of each run of tied scores is a real threshold; at such an end,
    # recall gained = positives since the previous end. tp is non-decreasing, so a running max
    # of "tp at ends, 0 elsewhere" gives the tp at the latest end.
    tp_at_ends = ranked.true_positives * ranked.ends
    previous_end_tp = torch.cat(
        [torch.zeros(1, scores.shape[1]), tp_at_ends.cummax(dim=0).values[:-1]]
    )
    gained = (ranked.true_positives - previous_end_tp) * ranked.ends
    precision = ranked.true_positives / ranked.predicted
    positives = truth.sum(dim=0).float()
    result = (gained * precision).sum(dim=0) / positives
    result[positives == 0] = float("nan")
    return result.numpy().astype(np.float64)


def tune_thresholds(
    probabilities: ArrayLike, targets: ArrayLike, default: float = 0.5
) -> np.ndarray:
    """Per-class thresholds (K,) that maximise each class's F1 on these outputs.

    Each threshold lies halfway between the lowest score kept and the highest score dropped,
    so the same outputs reproduce the best F1 exactly; between equal F1s the higher threshold
    wins. Classes without a positive example keep `default`.
    """
    scores, truth = checked_pair(probabilities, targets)
    count, num_classes = scores.shape
    positives = truth.sum(dim=0).float()
    thresholds = torch.full((num_classes,), float(default))
    if count == 0:
        return thresholds.numpy().astype(np.float64)
    ranked = _ranked(scores, truth)
    f1 = 2 * ranked.true_positives / (ranked.predicted + positives)
    f1 = torch.where(ranked.ends, f1, torch.full_like(f1, -1.0))
    best = f1.argmax(dim=0)  # first maximum: the fewest images kept, the highest threshold
    columns = torch.arange(num_classes)
    kept_lowest = ranked.scores[best, columns]
    dropped_highest = torch.where(
        best + 1 < count,
        ranked.scores[(best + 1).clamp(max=count - 1), columns],
        torch.zeros(num_classes),
    )
    tuned = ((kept_lowest + dropped_highest) / 2).clamp(1e-6, 1 - 1e-6)
    has_positive = positives > 0
    thresholds[has_positive] = tuned[has_positive]
    return thresholds.numpy().astype(np.float64)


def threshold_metrics(
    probabilities: ArrayLike,
    targets: ArrayLike,
    class_names: Sequence[str],
    threshold: Thresholds = 0.5,
) -> ThresholdMetrics:
    """Every threshold metric at once; per-class rows in class order.

    Precision of a class that never fires, and F1 of a class with nothing to find, are 0
    (sklearn's zero_division=0), so macro F1 stays defined.
    """
    scores, truth = checked_pair(probabilities, targets)
    decided = fired(scores, threshold)
    true_positive = (decided & truth).sum(dim=0).double()
    predicted = decided.sum(dim=0).double()
    support = truth.sum(dim=0).double()
    precision = _safe_divide(true_positive, predicted)
    recall = _safe_divide(true_positive, support)
    f1 = _safe_divide(2 * true_positive, predicted + support)
    ap = average_precision(scores, truth)
    per_class = pd.DataFrame(
        {
            "precision": precision.numpy(),
            "recall": recall.numpy(),
            "f1": f1.numpy(),
            "average_precision": ap,
            "threshold": threshold_vector(threshold, scores.shape[1]).double().numpy(),
            "support": support.long().numpy(),
            "predicted": predicted.long().numpy(),
        },
        index=pd.Index([str(name) for name in class_names], name="class"),
    )
    return ThresholdMetrics(
        threshold=threshold_for_json(threshold),
        accuracy_multi=float((decided == truth).float().mean()),
        exact_match=float((decided == truth).all(dim=1).float().mean()),
        macro_f1=float(f1.mean()),
        mean_average_precision=float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan"),
        per_class=per_class,
    )


# fastbook plots 0.05..0.95; steps of 0.01 so every slider value lies on the curve.
CURVE_THRESHOLDS = tuple(round(0.05 + 0.01 * step, 2) for step in range(91))


def threshold_curve(
    probabilities: ArrayLike, targets: ArrayLike, thresholds: Sequence[float] = CURVE_THRESHOLDS
) -> pd.DataFrame:
    """accuracy_multi, exact_match and macro_f1 at each global threshold, one row each
    (columns: threshold, accuracy_multi, exact_match, macro_f1), as fastbook's plot of
    accuracy_multi against the threshold."""
    scores, truth = checked_pair(probabilities, targets)
    grid = torch.tensor([float(t) for t in thresholds], dtype=torch.float32)
    if bool(((grid <= 0) | (grid >= 1)).any()):
        raise ValueError("thresholds must lie strictly between 0 and 1")
    rows = []
    for threshold in grid.tolist():  # one (N, K) decision at a time: memory stays bounded
        summary = _decision_summary(fired(scores, threshold), truth)
        rows.append({"threshold": round(threshold, 4), **summary})
    return pd.DataFrame(rows, columns=["threshold", "accuracy_multi", "exact_match", "macro_f1"])


@dataclass(frozen=True)
class HeldOutTuning:
    """Per-class thresholds tuned on validation, and an honest score for them.

    The validation images are split in two halves (seeded); each half is decided by the
    thresholds tuned on the other half, so every image is scored by thresholds that never saw
    it (two-fold cross-fitting). `in_sample` tunes and scores on the same images: shown only
    to say how much better that looks than it is.
    """

    default_threshold: float
    thresholds: np.ndarray  # (K,) tuned on every validation image: the ones to keep
    half_thresholds: tuple[np.ndarray, np.ndarray]  # tuned on half 1, on half 2
    half_sizes: tuple[int, int]
    before: dict[str, float]  # the global threshold, every image
    held_out: dict[str, float]  # each half with the other half's tuned thresholds
    in_sample: dict[str, float]  # tuned and scored on the same images (optimistic)
    per_class: pd.DataFrame  # index class: threshold, f1_before, f1_held_out

    def to_dict(self) -> dict[str, Any]:
        return {
            "default_threshold": self.default_threshold,
            "thresholds": [float(value) for value in self.thresholds],
            "half_sizes": list(self.half_sizes),
            "before": dict(self.before),
            "held_out": dict(self.held_out),
            "in_sample": dict(self.in_sample),
        }


def held_out_tuning(
    probabilities: ArrayLike,
    targets: ArrayLike,
    class_names: Sequence[str],
    threshold: float = 0.5,
    seed: int = 0,
) -> HeldOutTuning:
    """Tune per-class F1 thresholds and score them on images they were not tuned on."""
    scores, truth = checked_pair(probabilities, targets)
    count = scores.shape[0]
    if count < 4:
        raise ValueError("held-out tuning needs at least 4 validation images")
    order = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    halves = (order[: count // 2].sort().values, order[count // 2 :].sort().values)
    half_thresholds = tuple(
        tune_thresholds(scores[half], truth[half], default=threshold) for half in halves
    )
    decided = torch.zeros_like(truth)
    for half, other in ((halves[0], half_thresholds[1]), (halves[1], half_thresholds[0])):
        decided[half] = fired(scores[half], other)
    tuned = tune_thresholds(scores, truth, default=threshold)
    before = fired(scores, threshold)
    per_class = pd.DataFrame(
        {
            "threshold": tuned,
            "f1_before": _f1_per_class(before, truth),
            "f1_held_out": _f1_per_class(decided, truth),
        },
        index=pd.Index([str(name) for name in class_names], name="class"),
    )
    return HeldOutTuning(
        default_threshold=float(threshold),
        thresholds=tuned,
        half_thresholds=half_thresholds,  # type: ignore[arg-type]
        half_sizes=(len(halves[0]), len(halves[1])),
        before=_decision_summary(before, truth),
        held_out=_decision_summary(decided, truth),
        in_sample=_decision_summary(fired(scores, tuned), truth),
        per_class=per_class,
    )


def _f1_per_class(decided: torch.Tensor, truth: torch.Tensor) -> np.ndarray:
    true_positive = (decided & truth).sum(dim=0).double()
    return _safe_divide(2 * true_positive, (decided.sum(dim=0) + truth.sum(dim=0)).double()).numpy()


def _decision_summary(decided: torch.Tensor, truth: torch.Tensor) -> dict[str, float]:
    return {
        "accuracy_multi": float((decided == truth).float().mean()),
        "exact_match": float((decided == truth).all(dim=1).float().mean()),
        "macro_f1": float(_f1_per_class(decided, truth).mean()),
    }


@dataclass(frozen=True)
class _Ranking:
    scores: torch.Tensor  # (N, K) each column sorted high to low
    true_positives: torch.Tensor  # (N, K) positives among the top k+1
    predicted: torch.Tensor  # (N, 1) k+1: images kept when cutting below row k
    ends: torch.Tensor  # (N, K) bool: row k is the last of its run of tied scores


def _ranked(scores: torch.Tensor, truth: torch.Tensor) -> _Ranking:
    ordered, order = scores.sort(dim=0, descending=True, stable=True)
    true_positives = truth.gather(0, order).float().cumsum(dim=0)
    ends = torch.ones_like(ordered, dtype=torch.bool)
    ends[:-1] = ordered[:-1] != ordered[1:]
    predicted = torch.arange(1, scores.shape[0] + 1, dtype=torch.float32).unsqueeze(1)
    return _Ranking(ordered, true_positives, predicted, ends)


def _safe_divide(numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.where(denominator > 0, numerator / denominator.clamp(min=1), 0.0)
