"""The forum question's three readings of one validation set, side by side.

(a) a softmax-trained (multi-class) model read with softmax argmax: always exactly one class;
(b) the same model read with a sigmoid per logit: cross-entropy never trained those sigmoids,
    so they may fire on several classes or none;
(c) a sigmoid-trained (multi-label, BCE) model read with sigmoids at the threshold.

For each: accuracy of its decision, how many images get two or more classes ("both") or none
("neither"), how well its maximum probability flags its own mistakes (AUROC), and calibration.
`explain_readings` writes the one-sentence verdict from those numbers, so it changes when they
do. Also the rank-based AUROC the comparison uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from engine.analysis.calibration import Reliability, classwise_reliability, top_label_reliability
from engine.analysis.outputs import ArrayLike, Thresholds, as_float_tensor, checked_pair, fired
from engine.errors import RunError
from engine.json_values import plain_json
from engine.modes import ReadingKey

if TYPE_CHECKING:
    from engine.runs import LoadedRun

# key -> (trained with, read with, title)
READINGS: dict[ReadingKey, tuple[str, str, str]] = {
    ReadingKey.SOFTMAX_ARGMAX: (
        "multi-class",
        "softmax",
        "softmax-trained, read with softmax argmax",
    ),
    ReadingKey.SOFTMAX_AS_SIGMOIDS: (
        "multi-class",
        "sigmoid",
        "softmax-trained, read with a sigmoid per logit",
    ),
    ReadingKey.SIGMOID: ("multi-label", "sigmoid", "sigmoid-trained (BCE), read with sigmoids"),
}


@dataclass(frozen=True)
class Reading:
    """One way of turning logits into a decision, scored on the validation set."""

    key: ReadingKey  # "a", "b" or "c"
    title: str
    trained_mode: str  # "multi-class" or "multi-label"
    activation: str  # "softmax" (decide by argmax) or "sigmoid" (decide by threshold)
    count: int  # validation images
    accuracy: float  # exact match: the decided set == truth (for softmax: its one class)
    argmax_accuracy: float  # the top class is a true class (the same for (a) and (b))
    both_count: int  # images where the decision holds two or more classes
    neither_count: int  # images where it holds none
    error_auroc: float  # max probability separating right from wrong decisions (0.5 = chance)
    calibration: Reliability  # top-label
    classwise_calibration: Reliability  # every probability against its own target

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "trained_mode": self.trained_mode,
            "activation": self.activation,
            "count": self.count,
            "accuracy": self.accuracy,  # kept for scripts: the same as exact_match
            "exact_match": self.accuracy,
            "argmax_accuracy": self.argmax_accuracy,
            "both_count": self.both_count,
            "neither_count": self.neither_count,
            "error_auroc": plain_json(self.error_auroc),
            "expected_calibration_error": self.calibration.expected_calibration_error,
            "classwise_calibration_error": self.classwise_calibration.expected_calibration_error,
        }


def auroc(scores: ArrayLike, labels: ArrayLike) -> float:
    """Area under the ROC curve from ranks (Mann-Whitney U), ties counted half.

    The chance that a random positive scores above a random negative; NaN when either
    group is empty.
    """
    score = as_float_tensor(scores).flatten().double()
    positive = as_float_tensor(labels).flatten() > 0.5
    positives, negatives = int(positive.sum()), int((~positive).sum())
    if positives == 0 or negatives == 0:
        return float("nan")
    ranks = _average_ranks(score)
    rank_sum = float(ranks[positive].sum())
    return (rank_sum - positives * (positives + 1) / 2) / (positives * negatives)


def read_outputs(
    logits: ArrayLike,
    targets: ArrayLike,
    key: ReadingKey | str,
    threshold: Thresholds = 0.5,
    bins: int = 10,
) -> Reading:
    """Score one reading (key "a", "b" or "c" of READINGS) of a model's validation logits."""
    if key not in READINGS:
        raise ValueError(f"unknown reading {key!r}: use one of {', '.join(READINGS)}")
    key = ReadingKey(key)
    trained_mode, activation, title = READINGS[key]
    scores, truth = checked_pair(logits, targets)
    probabilities = scores.softmax(dim=1) if activation == "softmax" else scores.sigmoid()
    confidence, top = probabilities.max(dim=1)
    if activation == "softmax":
        decided = torch.zeros_like(truth)
        decided[torch.arange(len(top)), top] = True
    else:
        decided = fired(probabilities, threshold)
    correct = (decided == truth).all(dim=1)
    classes_decided = decided.sum(dim=1)
    return Reading(
        key=key,
        title=title,
        trained_mode=trained_mode,
        activation=activation,
        count=int(len(scores)),
        accuracy=float(correct.float().mean()),
        argmax_accuracy=float(truth.gather(1, top.unsqueeze(1)).float().mean()),
        both_count=int((classes_decided >= 2).sum()),
        neither_count=int((classes_decided == 0).sum()),
        error_auroc=auroc(confidence, correct),
        calibration=top_label_reliability(probabilities, truth, bins),
        classwise_calibration=classwise_reliability(probabilities, truth, bins),
    )


def three_readings(
    softmax_trained_logits: ArrayLike,
    sigmoid_trained_logits: ArrayLike,
    targets: ArrayLike,
    threshold: Thresholds = 0.5,
) -> list[Reading]:
    """Readings (a), (b) and (c) of two models' logits on the same validation images."""
    return [
        read_outputs(softmax_trained_logits, targets, ReadingKey.SOFTMAX_ARGMAX, threshold),
        read_outputs(softmax_trained_logits, targets, ReadingKey.SOFTMAX_AS_SIGMOIDS, threshold),
        read_outputs(sigmoid_trained_logits, targets, ReadingKey.SIGMOID, threshold),
    ]


def compare_runs(first: LoadedRun, second: LoadedRun, threshold: Thresholds = 0.5) -> list[Reading]:
    """The three readings from a softmax-trained and a sigmoid-trained run, in either order.

    Both runs must hold outputs for the same validation images, or the comparison is void.
    """
    runs = {first.config.train.mode: first, second.config.train.mode: second}
    if set(runs) != {"multi-class", "multi-label"}:
        raise RunError(
            f"runs {first.id} and {second.id} were both trained as {first.config.train.mode}: "
            "compare one multi-class (softmax) run with one multi-label (sigmoid) run"
        )
    softmax_run, sigmoid_run = runs["multi-class"], runs["multi-label"]
    same_images = softmax_run.validation.logits.shape == sigmoid_run.validation.logits.shape
    if same_images:
        softmax_truth = _truth_of(softmax_run)
        same_images = torch.equal(softmax_truth, _truth_of(sigmoid_run))
    if not same_images:
        raise RunError(
            f"runs {softmax_run.id} and {sigmoid_run.id} were validated on different images: "
            "train both on the same dataset and split to compare them"
        )
    return three_readings(
        softmax_run.validation.logits,
        sigmoid_run.validation.logits,
        softmax_run.validation.targets,
        threshold,
    )


def readings_frame(readings: Sequence[Reading]) -> pd.DataFrame:
    """Side by side: one column per reading, one row per number, each row one metric for
    every column (`exact_match` and `argmax_accuracy`, never an "accuracy" that means one
    thing in one column and another in the next)."""
    rows = {
        reading.key: {
            key: value
            for key, value in reading.to_dict().items()
            if key not in ("key", "count", "accuracy")
        }
        for reading in readings
    }
    return pd.DataFrame(rows)


def explain_readings(readings: Sequence[Reading]) -> str:
    """What the numbers show, built from them (readings a, b, c in any order), comparing like
    with like and naming the metric: argmax accuracy of the two models, then exact match of
    the three readings."""
    by_key = {reading.key: reading for reading in readings}
    softmax = by_key[ReadingKey.SOFTMAX_ARGMAX]
    crossed = by_key[ReadingKey.SOFTMAX_AS_SIGMOIDS]
    sigmoid = by_key[ReadingKey.SIGMOID]
    argmax_gap = sigmoid.argmax_accuracy - softmax.argmax_accuracy
    if abs(argmax_gap) < 0.0005:
        argmax_verdict = "the same"
    else:
        argmax_verdict = (
            f"{abs(argmax_gap) * 100:.1f} points {'higher' if argmax_gap > 0 else 'lower'} "
            "for the sigmoid-trained model"
        )
    sentences = [
        f"Argmax accuracy (the top class is right): the softmax-trained model "
        f"{_percent(softmax.argmax_accuracy)}, the sigmoid-trained model "
        f"{_percent(sigmoid.argmax_accuracy)}, {argmax_verdict}."
    ]
    best = max(softmax.accuracy, crossed.accuracy)
    difference = sigmoid.accuracy - best
    if abs(difference) < 0.0005:
        comparison = "matching the better of (a) and (b)"
    else:
        direction = "above" if difference > 0 else "below"
        comparison = f"{abs(difference) * 100:.1f} points {direction} the better of (a) and (b)"
    sentences.append(
        "Exact match (the set of classes a reading decides is exactly the truth): (a) softmax "
        f"argmax {_percent(softmax.accuracy)}, always one class; (b) the softmax-trained "
        f"model read with sigmoids {_percent(crossed.accuracy)} ({_firing(crossed)}); (c) the "
        f"sigmoid-trained model {_percent(sigmoid.accuracy)} ({_firing(sigmoid)}), {comparison}."
    )
    ranked = [r for r in readings if not np.isnan(r.error_auroc)]
    if ranked:
        ranked.sort(key=lambda r: r.error_auroc, reverse=True)
        others = " and ".join(f"{r.error_auroc:.3f} for ({r.key})" for r in ranked[1:])
        sentences.append(
            f"A reading's maximum probability flags its own mistakes best in ({ranked[0].key}) "
            f"(AUROC {ranked[0].error_auroc:.3f}" + (f" against {others})." if others else ").")
        )
    return " ".join(sentences)


def _firing(reading: Reading) -> str:
    return (
        f"{reading.both_count} image{'s' if reading.both_count != 1 else ''} with two or more "
        f"classes, {reading.neither_count} with none"
    )


def _percent(value: float) -> str:
    return f"{value * 100:.1f}%"


def _truth_of(run: LoadedRun) -> torch.Tensor:
    return checked_pair(run.validation.logits, run.validation.targets)[1]


def _average_ranks(values: torch.Tensor) -> torch.Tensor:
    """Ranks 1..N, tied values sharing the mean of their ranks."""
    ordered, order = values.sort(stable=True)
    _, inverse, counts = torch.unique_consecutive(ordered, return_inverse=True, return_counts=True)
    ends = counts.cumsum(dim=0).double()
    group_rank = ends - (counts.double() - 1) / 2
    ranks = torch.empty_like(values)
    ranks[order] = group_rank[inverse]
    return ranks
