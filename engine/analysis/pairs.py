"""Where sigmoids fire together: the co-activation matrix, the classic confusion matrix, the
ranked confused pairs with their most ambiguous images, and the "both" / "neither" sets.

A pair (i, j) co-activates on an image when sigmoid(i) and sigmoid(j) both fire (reach the
threshold, `engine.labels.fires`). Its threshold-free strength is the mean of
min(sigmoid(i), sigmoid(j)) over the images whose true class is i or j: "how ambiguous between
these two are the images of these two classes", from 0 to 1. Averaging over all images instead
lets one class whose sigmoid is high everywhere head every pair it is in: on mnist-5k read
through a softmax-trained model's sigmoids, the all-images mean ranks 8/9, 2/8, 3/8 first,
the pair-images mean 7/9, 2/3, 3/5, 0/6.
Images that truly hold both (multi-label data such as two-digits) are left out of the strength
and the examples: both sigmoids firing there is right, not a confusion; `true_both` counts them.

Functions take probabilities (N, K) and targets (indices or multi-hot) and return numpy arrays,
DataFrames and dataclasses; drawing is the dashboard's job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from engine.analysis.outputs import ArrayLike, Thresholds, check_scores, checked_pair, fired

# Bound on the (images x pairs) block of minimums held at once (4M floats = 16 MB).
_BLOCK_ELEMENTS = 4_000_000


@dataclass(frozen=True)
class CoActivation:
    """Pairwise co-activation of one reading at one threshold; matrices are (K, K), symmetric."""

    class_names: tuple[str, ...]
    counts: np.ndarray  # int: images where both classes fire (diagonal: one)
    strength: np.ndarray  # float: mean min(p_i, p_j) over images truly i or j, not both
    mean_minimum: np.ndarray  # float: mean of min(p_i, p_j) over all images (diagonal: 0)

    def to_frame(self) -> pd.DataFrame:
        """Long form, one row per ordered pair (a != b): a, b, count, strength, mean_minimum.

        The shape an Altair heatmap wants.
        """
        size = len(self.class_names)
        rows, columns = np.nonzero(~np.eye(size, dtype=bool))
        names = np.array(self.class_names, dtype=object)
        return pd.DataFrame(
            {
                "a": names[rows],
                "b": names[columns],
                "a_index": rows,
                "b_index": columns,
                "count": self.counts[rows, columns],
                "strength": self.strength[rows, columns],
                "mean_minimum": self.mean_minimum[rows, columns],
            }
        )


@dataclass(frozen=True)
class FiringSets:
    """The images a sigmoid reading cannot give exactly one class at a threshold."""

    both: np.ndarray  # int64 indices of images where two or more classes fire
    neither: np.ndarray  # int64 indices of images where no class fires
    fired_count: np.ndarray  # int64 (N,): how many classes fire on each image
    per_class: pd.DataFrame  # index class (the true class): images, both, neither

    @property
    def both_count(self) -> int:
        return int(len(self.both))

    @property
    def neither_count(self) -> int:
        return int(len(self.neither))


def coactivation(
    probabilities: ArrayLike,
    targets: ArrayLike | None,
    class_names: Sequence[str],
    threshold: Thresholds = 0.5,
) -> CoActivation:
    """The co-activation matrices. Without targets (unlabelled images) strength falls back to
    the mean minimum over all images."""
    scores = check_scores(probabilities)
    count, size = scores.shape
    decided = fired(scores, threshold).float()
    counts = (decided.T @ decided).round().long().numpy()
    rows, columns = torch.triu_indices(size, size, offset=1)
    truth = None if targets is None else checked_pair(scores, targets)[1]
    all_sums, pair_sums = _pair_minimum_sums(scores, truth, rows, columns)
    mean_minimum = _symmetric(size, rows, columns, all_sums / max(count, 1))
    if truth is None:
        strength = mean_minimum
    else:
        pair_images = _pair_image_counts(truth, rows, columns)
        strength = _symmetric(size, rows, columns, pair_sums / pair_images.clamp(min=1))
    return CoActivation(
        class_names=tuple(str(name) for name in class_names),
        counts=counts,
        strength=strength.numpy(),
        mean_minimum=mean_minimum.numpy(),
    )


def confusion_matrix(
    scores: ArrayLike, targets: ArrayLike, class_names: Sequence[str]
) -> pd.DataFrame:
    """The classic confusion matrix from the argmax: rows true class, columns predicted.

    Argmax is the same for logits, softmax and sigmoids, so any of them will do. Multi-hot
    targets count the image once under each of its true classes.
    """
    score_tensor, truth = checked_pair(scores, targets)
    size = score_tensor.shape[1]
    predicted = torch.nn.functional.one_hot(score_tensor.argmax(dim=1), size).float()
    matrix = (truth.float().T @ predicted).round().long().numpy()
    names = pd.Index([str(name) for name in class_names])
    return pd.DataFrame(matrix, index=names.rename("true"), columns=names.rename("predicted"))


def confused_pairs(
    probabilities: ArrayLike,
    targets: ArrayLike,
    class_names: Sequence[str],
    threshold: Thresholds = 0.5,
    top: int | None = None,
    examples: int = 8,
) -> pd.DataFrame:
    """Class pairs ranked by co-activation strength, strongest first, one row per pair.

    Columns: a, b (names), a_index, b_index, strength, both_count (images where both fire),
    true_a / true_b / true_both / true_other (those images by what they truly hold: only a,
    only b, both, neither), share_true_a (true_a over true_a + true_b), confused_a_as_b /
    confused_b_as_a (argmax confusions), and examples: indices of the images truly a or b
    (not both) with the highest min(p_a, p_b), most ambiguous first.
    """
    scores, truth = checked_pair(probabilities, targets)
    count, size = scores.shape
    matrices = coactivation(scores, truth, class_names, threshold)
    confusion = confusion_matrix(scores, truth, class_names).to_numpy()
    rows, columns = torch.triu_indices(size, size, offset=1)
    # numpy arrays are indexed with numpy indices: a one-element tensor would index as a scalar
    strengths = matrices.strength[rows.numpy(), columns.numpy()]
    order = torch.as_tensor(strengths).argsort(descending=True, stable=True)
    if top is not None:
        order = order[:top]
    rows, columns = rows[order], columns[order]
    decided = fired(scores, threshold)
    both = decided[:, rows] & decided[:, columns]  # (N, pairs)
    truth_a, truth_b = truth[:, rows], truth[:, columns]
    true_a = (both & truth_a & ~truth_b).sum(dim=0)
    true_b = (both & truth_b & ~truth_a).sum(dim=0)
    true_both = (both & truth_a & truth_b).sum(dim=0)
    true_other = (both & ~truth_a & ~truth_b).sum(dim=0)
    example_lists = _top_examples(scores, truth, rows, columns, min(examples, count))
    names = [str(name) for name in class_names]
    a_index, b_index = rows.numpy(), columns.numpy()
    labelled = (true_a + true_b).double()
    return pd.DataFrame(
        {
            "a": [names[i] for i in a_index],
            "b": [names[j] for j in b_index],
            "a_index": a_index,
            "b_index": b_index,
            "strength": matrices.strength[a_index, b_index],
            "both_count": both.sum(dim=0).numpy(),
            "true_a": true_a.numpy(),
            "true_b": true_b.numpy(),
            "true_both": true_both.numpy(),
            "true_other": true_other.numpy(),
            "share_true_a": torch.where(
                labelled > 0, true_a / labelled.clamp(min=1), float("nan")
            ).numpy(),
            "confused_a_as_b": confusion[a_index, b_index],
            "confused_b_as_a": confusion[b_index, a_index],
            "examples": example_lists,
        }
    )


def firing_sets(
    probabilities: ArrayLike,
    targets: ArrayLike | None,
    class_names: Sequence[str],
    threshold: Thresholds = 0.5,
) -> FiringSets:
    """Images where two or more sigmoids fire ("both") and where none does ("neither"),
    with counts per true class (an image with several true classes counts under each; NaN
    without targets)."""
    scores = check_scores(probabilities)
    fired_count = fired(scores, threshold).sum(dim=1)
    both = fired_count >= 2
    neither = fired_count == 0
    names = pd.Index([str(name) for name in class_names], name="class")
    if targets is None:
        per_class = pd.DataFrame(index=names, columns=["images", "both", "neither"], dtype=float)
    else:
        _, truth = checked_pair(scores, targets)
        truth_float = truth.float()
        per_class = pd.DataFrame(
            {
                "images": truth.sum(dim=0).numpy(),
                "both": (both.float() @ truth_float).round().long().numpy(),
                "neither": (neither.float() @ truth_float).round().long().numpy(),
            },
            index=names,
        )
    return FiringSets(
        both=torch.nonzero(both).flatten().numpy(),
        neither=torch.nonzero(neither).flatten().numpy(),
        fired_count=fired_count.numpy(),
        per_class=per_class,
    )


@dataclass(frozen=True)
class WrongLabelSets:
    """Where a sigmoid reading of multi-label data gets an image's set of labels wrong: the
    galleries multi-label data needs instead of "both" (two labels firing is right there)."""

    missed: np.ndarray  # int64 indices of images where a true label did not fire
    extra: np.ndarray  # int64 indices of images where a label fired that is not there
    per_class: pd.DataFrame  # index class: images (support), missed, extra

    @property
    def wrong_count(self) -> int:
        return int(len(np.union1d(self.missed, self.extra)))


def wrong_label_sets(
    probabilities: ArrayLike,
    targets: ArrayLike,
    class_names: Sequence[str],
    threshold: Thresholds = 0.5,
) -> WrongLabelSets:
    """Images with a missed label and images with an extra label, and per class how often
    it was missed (a true label that did not fire) or extra (fired where it is not)."""
    scores, truth = checked_pair(probabilities, targets)
    decided = fired(scores, threshold)
    missed = truth & ~decided
    extra = decided & ~truth
    return WrongLabelSets(
        missed=torch.nonzero(missed.any(dim=1)).flatten().numpy(),
        extra=torch.nonzero(extra.any(dim=1)).flatten().numpy(),
        per_class=pd.DataFrame(
            {
                "images": truth.sum(dim=0).numpy(),
                "missed": missed.sum(dim=0).numpy(),
                "extra": extra.sum(dim=0).numpy(),
            },
            index=pd.Index([str(name) for name in class_names], name="class"),
        ),
    )


def _pair_minimum_sums(
    scores: torch.Tensor, truth: torch.Tensor | None, rows: torch.Tensor, columns: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per listed pair, the sum of min(p_a, p_b) over all images and over the images truly a
    or b but not both (zeros without truth), in blocks of bounded memory."""
    all_sums = torch.zeros(len(rows), dtype=torch.float64)
    pair_sums = torch.zeros(len(rows), dtype=torch.float64)
    for block, minimum in _pair_minimum_blocks(scores, rows, columns):
        all_sums[block] = minimum.sum(dim=0, dtype=torch.float64)
        if truth is not None:
            own = truth[:, rows[block]] ^ truth[:, columns[block]]
            pair_sums[block] = (minimum * own).sum(dim=0, dtype=torch.float64)
    return all_sums, pair_sums


def _pair_minimum_blocks(scores: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor):
    """Yield (slice of pairs, min(p_a, p_b) as (N, pairs in slice)) for bounded memory."""
    step = max(1, _BLOCK_ELEMENTS // max(scores.shape[0], 1))
    for start in range(0, len(rows), step):
        block = slice(start, start + step)
        yield block, torch.minimum(scores[:, rows[block]], scores[:, columns[block]])


def _symmetric(
    size: int, rows: torch.Tensor, columns: torch.Tensor, values: torch.Tensor
) -> torch.Tensor:
    matrix = torch.zeros(size, size, dtype=torch.float64)
    matrix[rows, columns] = values
    return matrix + matrix.T


def _pair_image_counts(
    truth: torch.Tensor, rows: torch.Tensor, columns: torch.Tensor
) -> torch.Tensor:
    """Images that truly hold a or b but not both, per pair: |a| + |b| - 2 |a and b|."""
    truth_float = truth.float()
    per_class = truth_float.sum(dim=0)
    together = truth_float.T @ truth_float
    return (per_class[rows] + per_class[columns] - 2 * together[rows, columns]).double()


def _top_examples(
    scores: torch.Tensor,
    truth: torch.Tensor,
    rows: torch.Tensor,
    columns: torch.Tensor,
    examples: int,
) -> list[list[int]]:
    """Per pair, up to `examples` images truly a or b (not both) with the highest
    min(p_a, p_b)."""
    if examples <= 0:
        return [[] for _ in range(len(rows))]
    found: list[list[int]] = []
    for block, minimum in _pair_minimum_blocks(scores, rows, columns):
        own = truth[:, rows[block]] ^ truth[:, columns[block]]
        ranked = minimum.masked_fill(~own, -1.0).topk(examples, dim=0)
        for values, indices in zip(ranked.values.T, ranked.indices.T, strict=True):
            found.append(indices[values >= 0].tolist())
    return found
