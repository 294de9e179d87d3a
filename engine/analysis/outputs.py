"""Validation outputs as the analysis reads them: tensors in, probabilities and truth out.

Every analysis function accepts logits or probabilities as torch tensors or numpy arrays and
targets either as class indices (N,) or multi-hot vectors (N, K). This module turns them into
one form (float32 / bool torch tensors on the CPU), checks their shapes with a message that says
what to fix, and turns thresholds (one number or one per class) into something that broadcasts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from engine.errors import LabelShapeError
from engine.labels import fires

ArrayLike = torch.Tensor | np.ndarray | Sequence[float]
Thresholds = float | Sequence[float] | np.ndarray | torch.Tensor


def as_float_tensor(values: ArrayLike) -> torch.Tensor:
    """A float32 CPU tensor, without copying when it already is one."""
    tensor = values if isinstance(values, torch.Tensor) else torch.as_tensor(np.asarray(values))
    return tensor.detach().to("cpu", torch.float32)


def check_scores(scores: ArrayLike) -> torch.Tensor:
    """Logits or probabilities as a float (N, K) tensor."""
    tensor = as_float_tensor(scores)
    if tensor.ndim != 2:
        raise LabelShapeError(
            f"expected one row of class scores per image, shape (N, K), got {tuple(tensor.shape)}"
        )
    return tensor


def truth_matrix(targets: ArrayLike, num_classes: int) -> torch.Tensor:
    """Targets as a bool (N, K) matrix: True where the class is in the image.

    Class indices become one-hot rows; multi-hot rows are read at 0.5 so float targets work.
    A row of all False is an image of none of the classes (a generated non-digit).
    """
    tensor = targets if isinstance(targets, torch.Tensor) else torch.as_tensor(np.asarray(targets))
    tensor = tensor.detach().cpu()
    if tensor.ndim == 2:
        if tensor.shape[1] != num_classes:
            raise LabelShapeError(
                f"multi-hot targets have {tensor.shape[1]} columns but the outputs have "
                f"{num_classes} classes: analyse outputs and targets of the same run"
            )
        return tensor.float() > 0.5
    if tensor.ndim != 1 or tensor.is_floating_point():
        raise LabelShapeError(
            f"targets must be int64 class indices (N,) or multi-hot (N, K), got "
            f"{tuple(tensor.shape)} {tensor.dtype}"
        )
    if len(tensor) and (int(tensor.min()) < 0 or int(tensor.max()) >= num_classes):
        raise LabelShapeError(
            f"class indices must lie in 0..{num_classes - 1}, found {int(tensor.min())}.."
            f"{int(tensor.max())}: analyse outputs and targets of the same run"
        )
    truth = torch.zeros(len(tensor), num_classes, dtype=torch.bool)
    truth[torch.arange(len(tensor)), tensor.long()] = True
    return truth


def checked_pair(scores: ArrayLike, targets: ArrayLike) -> tuple[torch.Tensor, torch.Tensor]:
    """(scores (N, K) float, truth (N, K) bool) after checking they describe the same images."""
    score_tensor = check_scores(scores)
    truth = truth_matrix(targets, score_tensor.shape[1])
    if truth.shape[0] != score_tensor.shape[0]:
        raise LabelShapeError(
            f"{score_tensor.shape[0]} rows of outputs but {truth.shape[0]} targets: analyse "
            "outputs and targets of the same validation set"
        )
    return score_tensor, truth


def threshold_vector(threshold: Thresholds, num_classes: int) -> torch.Tensor:
    """A (K,) float tensor from one global threshold or one threshold per class."""
    tensor = as_float_tensor(threshold if not isinstance(threshold, float | int) else [threshold])
    tensor = tensor.flatten()
    if tensor.numel() == 1:
        tensor = tensor.expand(num_classes)
    if tensor.numel() != num_classes:
        raise LabelShapeError(
            f"got {tensor.numel()} thresholds for {num_classes} classes: give one number, or "
            "one per class"
        )
    if bool(((tensor <= 0) | (tensor >= 1)).any()):
        raise LabelShapeError("thresholds must lie strictly between 0 and 1")
    return tensor.contiguous()


def fired(probabilities: torch.Tensor, threshold: Thresholds) -> torch.Tensor:
    """Bool (N, K): which classes a sigmoid reading says are in each image, by the engine's
    one rule `engine.labels.fires` (sigmoid >= threshold)."""
    return fires(probabilities, threshold_vector(threshold, probabilities.shape[1]))


def threshold_for_json(threshold: Thresholds) -> float | list[float]:
    """One float, or a list of per-class floats, for reports."""
    tensor = as_float_tensor(threshold if not isinstance(threshold, float | int) else [threshold])
    values = [round(float(v), 6) for v in tensor.flatten()]
    return values[0] if len(values) == 1 else values
