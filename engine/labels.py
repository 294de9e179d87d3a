"""Label modes: how targets look, which loss trains them, which activation reads them.

`multi-class`: one class per image, targets are int64 class indices (N,), trained with
softmax + `CrossEntropyLoss`.
`multi-label`: any number of classes per image, targets are float one-hot / multi-hot
vectors (N, K), one sigmoid per class, trained with `BCEWithLogitsLoss`.

The model is the same in both modes (K logits); only the targets, the loss and the
activation change. Pure functions on tensors, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import nn

from engine.errors import LabelShapeError

# The names themselves live in engine/modes.py (torch-free, for the parser and the configs).
from engine.modes import LABEL_MODES as LABEL_MODES
from engine.modes import LabelMode as LabelMode
from engine.modes import check_mode as check_mode


def labels_per_image(*targets: torch.Tensor) -> str:
    """What the data says about its images, read from the targets: "several" when it is
    genuinely multi-label (multi-hot rows, some with two or more classes, as `two-digits` and
    multi-label CSV sets carry), else "one" (class indices, one-hot rows, and the all-zero rows
    of generated non-digits). This is the data's nature, apart from the label mode a run is
    trained in: a sigmoid run on MNIST still has one digit per image."""
    for part in targets:
        if is_multi_hot(part) and len(part) and bool(((part > 0.5).sum(dim=1) >= 2).any()):
            return "several"
    return "one"


def chance_accuracy(targets: torch.Tensor) -> float:
    """The argmax accuracy of always answering the commonest class (1/K on balanced data)."""
    counts = targets.sum(dim=0) if is_multi_hot(targets) else torch.bincount(targets.long())
    labelled = int((targets > 0.5).any(dim=1).sum()) if is_multi_hot(targets) else len(targets)
    return float(counts.max()) / labelled if labelled and len(counts) else 0.0


CHANCE_WARNING = "validation accuracy is at chance: the model did not learn"
CHANCE_MARGIN = 0.1  # of the way from chance to 100%: below that, the model learned nothing


def chance_warning(metrics: Mapping[str, float], chance: float) -> str | None:
    """CHANCE_WARNING (with the numbers) when the argmax validation accuracy is within
    CHANCE_MARGIN of chance, else None. A dead 10-class model reads 90% accuracy_multi, so the
    check is on argmax accuracy."""
    accuracy = metrics.get("val_accuracy")
    if not isinstance(accuracy, int | float) or not 0 < chance < 1:
        return None
    if accuracy >= chance + CHANCE_MARGIN * (1 - chance):
        return None
    return (
        f"{CHANCE_WARNING} ({accuracy:.0%} argmax accuracy, where always answering the "
        f"commonest class scores {chance:.0%})"
    )


def is_multi_hot(targets: torch.Tensor) -> bool:
    """True when targets are (N, K) vectors rather than (N,) class indices."""
    return targets.ndim == 2


def to_multi_label(targets: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Class indices (N,) -> float one-hot (N, K). Multi-hot input is returned as float."""
    if is_multi_hot(targets):
        if targets.shape[1] != num_classes:
            raise LabelShapeError(
                f"multi-hot targets have {targets.shape[1]} columns but there are {num_classes} "
                "classes: build them with to_multi_label(class_indices, num_classes)"
            )
        return targets.float()
    if targets.ndim != 1:
        raise LabelShapeError(
            f"targets of shape {tuple(targets.shape)} are neither class indices (N,) nor "
            "one-hot vectors (N, K)"
        )
    if targets.is_floating_point():
        raise LabelShapeError(
            "class-index targets must be integers (int64), got floats: use targets.long()"
        )
    _check_index_range(targets, num_classes)
    return F.one_hot(targets.long(), num_classes).float()


def to_multi_class(targets: torch.Tensor) -> torch.Tensor:
    """One-hot (N, K) -> class indices (N,). Rows with zero or several labels are refused."""
    if not is_multi_hot(targets):
        if targets.is_floating_point():
            raise LabelShapeError(
                "class-index targets must be integers (int64), got floats: use targets.long()"
            )
        return targets.long()
    counts = (targets > 0.5).sum(dim=1)
    bad = torch.nonzero(counts != 1).flatten()
    if len(bad):
        first = int(bad[0])
        raise LabelShapeError(
            f"{len(bad)} target rows are not one-hot (row {first} has {int(counts[first])} "
            "labels): multi-class mode needs exactly one class per image; train these in "
            "'multi-label' mode instead"
        )
    return targets.argmax(dim=1)


def targets_for_mode(targets: torch.Tensor, mode: str, num_classes: int) -> torch.Tensor:
    """Convert targets of either form into the form `mode` trains on."""
    check_mode(mode)
    if mode == "multi-label":
        return to_multi_label(targets, num_classes)
    return to_multi_class(targets)


def loss_function(mode: str) -> nn.Module:
    """CrossEntropyLoss for multi-class, BCEWithLogitsLoss for multi-label."""
    check_mode(mode)
    return nn.CrossEntropyLoss() if mode == "multi-class" else nn.BCEWithLogitsLoss()


def activation(logits: torch.Tensor, mode: str) -> torch.Tensor:
    """Probabilities as the mode reads them: softmax over classes, or a sigmoid per class."""
    check_mode(mode)
    return logits.softmax(dim=-1) if mode == "multi-class" else logits.sigmoid()


def fires(sigmoids: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """THE rule for a sigmoid reading: a class fires when its sigmoid is at or above the
    threshold (`sigmoid >= threshold`). Training metrics, the analysis, prediction and every
    chart decide with this one function, so a sigmoid equal to the threshold fires everywhere.
    `threshold` is one number or one per class (broadcast over the last dimension)."""
    return sigmoids >= threshold


NEAR_MISS_MARGIN = 0.1  # a class this close below the threshold "nearly fired"


def nearly_fires(sigmoids: torch.Tensor, threshold: float | torch.Tensor) -> torch.Tensor:
    """Classes that did not fire but came within NEAR_MISS_MARGIN of the threshold."""
    return ~fires(sigmoids, threshold) & (sigmoids >= threshold - NEAR_MISS_MARGIN)


def check_targets(logits: torch.Tensor, targets: torch.Tensor, mode: str) -> None:
    """Refuse targets that do not fit `mode` and the logits, with the fix in the message.

    This is the check that turns PyTorch's raw
    `Target size (torch.Size([64])) must be the same as input size (torch.Size([640]))`
    into a message that says to convert the labels.
    """
    check_mode(mode)
    batch, num_classes = logits.shape[0], logits.shape[-1]
    if mode == "multi-label":
        if not is_multi_hot(targets):
            raise LabelShapeError(
                f"multi-label mode needs one-hot targets of shape ({batch}, {num_classes}) but "
                f"got class indices of shape {tuple(targets.shape)} (PyTorch would say: Target "
                f"size {tuple(targets.shape)} must be the same as input size "
                f"{tuple(logits.shape)}): convert them with "
                "engine.to_multi_label(targets, num_classes), or train in 'multi-class' mode"
            )
        if tuple(targets.shape) != tuple(logits.shape):
            raise LabelShapeError(
                f"targets of shape {tuple(targets.shape)} do not match the model's outputs "
                f"{tuple(logits.shape)}: the head has {num_classes} outputs; reset it with "
                "engine.reset_classifier(model, num_classes) or fix the targets' class count"
            )
        if not targets.is_floating_point():
            raise LabelShapeError(
                "multi-label targets must be floats for BCEWithLogitsLoss: use targets.float()"
            )
        return
    if is_multi_hot(targets):
        raise LabelShapeError(
            f"multi-class mode needs class indices of shape ({batch},) but got vectors of "
            f"shape {tuple(targets.shape)}: convert one-hot targets with "
            "engine.to_multi_class(targets), or train in 'multi-label' mode"
        )
    if targets.ndim != 1 or targets.shape[0] != batch:
        raise LabelShapeError(
            f"targets of shape {tuple(targets.shape)} do not match a batch of {batch} images"
        )
    if targets.is_floating_point():
        raise LabelShapeError(
            "class-index targets must be integers (int64), got floats: use targets.long()"
        )
    _check_index_range(targets, num_classes)


def _check_index_range(targets: torch.Tensor, num_classes: int) -> None:
    if len(targets) and (int(targets.min()) < 0 or int(targets.max()) >= num_classes):
        raise LabelShapeError(
            f"class indices must lie in 0..{num_classes - 1}, found {int(targets.min())}.."
            f"{int(targets.max())}: check the class list, or reset the head to the right "
            "number of classes with engine.reset_classifier(model, num_classes)"
        )
