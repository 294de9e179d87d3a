"""The fastai forum's error, reproduced live on one real batch, with the numbers of the user's
own dataset and batch size.

A user trained MNIST with `BCEWithLogitsLossFlat` on class-index targets and got
`ValueError: Target size (torch.Size([64])) must be the same as input size
(torch.Size([640]))`. The cause is the targets, not the head: the head already gives one
logit per class, (64, 10) = 640 values once flattened, and binary cross-entropy needs one
float target per logit, (64, 10) one-hot rows, where class indices give 64 integers.
`reproduce_forum_error` runs the wrong loss on a real batch, catches PyTorch's message and
the engine's (engine.labels.check_targets, which names `to_multi_label`), then runs the fixed
targets through the same loss. Plain data only: the dashboard draws it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from engine.config import ModelConfig
from engine.datasets.dataset import DatasetSplit
from engine.errors import LabelShapeError
from engine.labels import check_targets, is_multi_hot, to_multi_label


@dataclass(frozen=True)
class ForumError:
    """What happens when class indices meet BCEWithLogitsLoss, on one real batch."""

    dataset: str
    batch_size: int  # images in the batch (the user's batch size, or all there are)
    num_classes: int
    logits_shape: tuple[int, int]  # what the head gives: (batch, classes)
    index_targets_shape: tuple[int, ...]  # class indices: (batch,)
    flattened_logits: int  # batch * classes, what fastai's *Flat losses compare
    flat_message: str  # PyTorch's error with both flattened (fastai's BCEWithLogitsLossFlat)
    plain_message: str  # PyTorch's error for nn.BCEWithLogitsLoss()(logits, indices)
    engine_message: str  # engine.labels.check_targets: names the fix
    first_index: int  # the first image's class index ...
    first_one_hot: tuple[int, ...]  # ... and its one-hot row
    fixed_targets_shape: tuple[int, int]
    fixed_loss: float  # BCEWithLogitsLoss on the same logits with one-hot targets
    cross_entropy_loss: float  # CrossEntropyLoss on the same logits with the class indices
    multi_hot_data: bool  # the dataset is multi-label already: its first labels were used


def reproduce_forum_error(
    split: DatasetSplit, batch_size: int = 64, model: str = "cnn", seed: int = 0
) -> ForumError:
    """Run BCEWithLogitsLoss on one batch of `split`'s training images with class-index
    targets (the forum's mistake), catch the errors, and run it again with one-hot targets."""
    from engine.models import build_model  # models pull in torchvision: import when needed

    count = max(1, min(int(batch_size), len(split.train)))
    images = split.train.images[:count]
    targets = split.train.targets[:count]
    multi_hot = is_multi_hot(targets)
    indices = targets.argmax(dim=1) if multi_hot else targets.long()
    torch.manual_seed(seed)
    network = build_model(ModelConfig(name=model), split.num_classes, split.image_shape).eval()
    with torch.no_grad():
        logits = network(images.float() / 255.0)
    classes = logits.shape[1]
    flat_message = _error_of(
        lambda: F.binary_cross_entropy_with_logits(logits.reshape(-1), indices.reshape(-1).float())
    )
    plain_message = _error_of(lambda: F.binary_cross_entropy_with_logits(logits, indices.float()))
    try:
        check_targets(logits, indices, "multi-label")
        engine_message = ""
    except LabelShapeError as error:
        engine_message = str(error)
    one_hot = to_multi_label(indices, classes)
    return ForumError(
        dataset=split.name,
        batch_size=count,
        num_classes=classes,
        logits_shape=(int(logits.shape[0]), int(classes)),
        index_targets_shape=tuple(int(n) for n in indices.shape),
        flattened_logits=int(logits.numel()),
        flat_message=flat_message,
        plain_message=plain_message,
        engine_message=engine_message,
        first_index=int(indices[0]),
        first_one_hot=tuple(int(v) for v in one_hot[0].tolist()),
        fixed_targets_shape=(int(one_hot.shape[0]), int(one_hot.shape[1])),
        fixed_loss=float(F.binary_cross_entropy_with_logits(logits, one_hot)),
        cross_entropy_loss=float(F.cross_entropy(logits, indices)),
        multi_hot_data=multi_hot,
    )


def _error_of(call) -> str:
    """The message of the ValueError / RuntimeError `call` raises ('' if it does not)."""
    try:
        call()
    except (ValueError, RuntimeError) as error:
        return str(error)
    return ""
