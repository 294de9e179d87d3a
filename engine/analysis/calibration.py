"""Calibration: does a stated probability of 0.8 come true 80% of the time?

Expected calibration error (ECE) and the data of a reliability chart, with equal-width bins
over 0..1. Two views of the same outputs: top-label (the highest probability against whether
that class is right; how softmax calibration is usually reported) and classwise (every one of
the N*K probabilities against its own target; what a sigmoid per class claims). Drawing the
chart is the dashboard's job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from engine.analysis.outputs import ArrayLike, as_float_tensor, checked_pair
from engine.json_values import plain_json


@dataclass(frozen=True)
class Reliability:
    """Reliability-chart data and the expected calibration error it sums to."""

    bins: pd.DataFrame  # one row per bin: lower, upper, count, confidence, accuracy, gap
    expected_calibration_error: float  # sum over bins of (count / total) * |accuracy - confidence|
    count: int  # predictions binned

    def to_dict(self) -> dict[str, Any]:
        return {
            "expected_calibration_error": self.expected_calibration_error,
            "count": self.count,
            "bins": [plain_json(row) for row in self.bins.to_dict(orient="records")],
        }


def reliability(confidences: ArrayLike, outcomes: ArrayLike, bins: int = 10) -> Reliability:
    """Bin predictions by stated confidence; compare each bin's mean confidence to how often
    the predictions came true. Bins are (lower, upper], the first also takes 0. Empty bins
    keep a row with count 0 and NaN confidence / accuracy, so a chart has fixed columns."""
    confidence = as_float_tensor(confidences).flatten().double()
    outcome = as_float_tensor(outcomes).flatten().double()
    if bins < 1:
        raise ValueError("reliability needs at least one bin")
    index = (confidence * bins).ceil().long().sub(1).clamp(0, bins - 1)
    counts = torch.bincount(index, minlength=bins).double()
    confidence_sums = torch.bincount(index, weights=confidence, minlength=bins)
    outcome_sums = torch.bincount(index, weights=outcome, minlength=bins)
    mean_confidence = confidence_sums / counts  # NaN where a bin is empty, as documented
    accuracy = outcome_sums / counts
    total = int(confidence.numel())
    gaps = (accuracy - mean_confidence).abs()
    ece = float((counts * gaps.nan_to_num(0.0)).sum() / total) if total else float("nan")
    edges = torch.linspace(0, 1, bins + 1, dtype=torch.float64)
    frame = pd.DataFrame(
        {
            "lower": edges[:-1].numpy(),
            "upper": edges[1:].numpy(),
            "count": counts.long().numpy(),
            "confidence": mean_confidence.numpy(),
            "accuracy": accuracy.numpy(),
            "gap": (accuracy - mean_confidence).numpy(),
        }
    )
    return Reliability(bins=frame, expected_calibration_error=ece, count=total)


def top_label_reliability(
    probabilities: ArrayLike, targets: ArrayLike, bins: int = 10
) -> Reliability:
    """The highest probability of each image against whether its class is a true one."""
    scores, truth = checked_pair(probabilities, targets)
    confidence, predicted = scores.max(dim=1)
    hit = truth.gather(1, predicted.unsqueeze(1)).squeeze(1)
    return reliability(confidence, hit, bins)


def classwise_reliability(
    probabilities: ArrayLike, targets: ArrayLike, bins: int = 10
) -> Reliability:
    """Every probability (N*K of them) against whether its class is in the image."""
    scores, truth = checked_pair(probabilities, targets)
    return reliability(scores, truth, bins)
