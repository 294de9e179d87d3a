"""One training loop for both label modes: fit() -> train_one_epoch() / evaluate().

The mode only picks the targets' form, the loss and the metrics (engine/labels.py); the model
and the loop are the same. Targets are checked against the model's outputs once, before any
batch, so a mismatch gives a message that says what to change rather than PyTorch's raw
`Target size ... must be the same as input size ...`.

Fast path: both splits are normalised once into float tensors on the device (channels_last);
each epoch slices batches out of a seeded permutation, with no DataLoader and no per-image
Python. Small random shifts, done on the whole batch at once, are the default augmentation;
`TrainConfig.augment` swaps them for per-sample random affine transforms and stroke-width
jitter (engine/augment.py), still on the device, batch by batch.
AdamW with a one-cycle schedule; fixed seeds, so two fits on the CPU give identical weights;
autocast (bf16, or fp16 with a gradient scaler) on CUDA only. Saving runs is engine/runs/'s
job; progress and stopping go through engine/callbacks.py.

Under torchrun the same loop runs in every process (engine/distributed.py holds the
collectives): each keeps its shard of both splits on its device, all draw the same order, so
global batch k is the same everywhere and each trains on its members of it under
DistributedDataParallel; validation logits are gathered so every process computes the same
metrics. Callbacks run in rank 0, whose StopTraining stops every process at the same step.
With the "mlp" (no batch norm) two Gloo processes save the weights one process does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from types import MappingProxyType

import torch
import torch.nn.functional as F
from torch import nn

from engine.augment import augment_batch
from engine.callbacks import Callback, StopTraining, TrainState
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.device import resolve_device
from engine.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    Shard,
    distributed_session,
    shard_loss,
)
from engine.errors import TrainingError
from engine.labels import check_targets, fires, loss_function, targets_for_mode
from engine.models import build_model, check_offered

MAX_SHIFT = 2  # pixels: random translations of up to this much help digits at no real cost
EVAL_BATCH_SIZE = 1000
RECALIBRATION_IMAGES = 2048  # training images that re-estimate batch-norm statistics


@dataclass
class FitResult:
    """What fit() hands back: the trained model and what it said about the validation set."""

    model: nn.Module  # eval mode, on the CPU
    history: list[dict[str, float]]  # one dict of metrics per finished epoch
    valid_logits: torch.Tensor  # (N, K) float32, CPU, from the returned model
    valid_targets: torch.Tensor  # as the dataset gives them
    stopped_early: bool
    device: str
    normalization: tuple[list[float], list[float]]  # per-channel mean and std, 0..1 units
    world_size: int = 1  # processes that trained it together (torchrun)
    backend: str | None = None  # their process group's backend: "nccl" or "gloo"


@dataclass
class Optimization:
    """Everything that updates the weights, bundled so train_one_epoch stays short."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    loss_function: nn.Module
    autocast_dtype: torch.dtype | None = None  # None: full precision
    scaler: torch.amp.GradScaler | None = None  # fp16 only


def fit(
    config: RunConfig,
    split: DatasetSplit,
    callbacks: Sequence[Callback] = (),
    model: nn.Module | None = None,
) -> FitResult:
    """Train a model (built from `config.model` unless one is given) on `split`.

    Started by torchrun, each process trains on its shard and the gradients are averaged
    (engine/distributed.py); the callbacks run in rank 0 only, and every process returns the
    same weights.
    """
    device = resolve_device(config.train.device)
    with distributed_session(device) as context:
        device = context.device(device)
        with _cpu_threads(config.train.cpu_threads if device.type == "cpu" else 0):
            return _fit(config, split, callbacks, model, device, context)


def _fit(
    config: RunConfig,
    split: DatasetSplit,
    callbacks: Sequence[Callback],
    model: nn.Module | None,
    device: torch.device,
    context: DistributedContext,
) -> FitResult:
    train = config.train
    mode, num_classes = train.mode, split.num_classes
    start = time.perf_counter()
    torch.manual_seed(train.seed)
    generator = torch.Generator().manual_seed(train.seed)
    callbacks = callbacks if context.is_main_process else ()

    if len(split.train) < 2:
        raise TrainingError(
            f"training needs at least 2 training images, this split has {len(split.train)}: "
            "batch norm learns from batches of 2 or more (raise the limit)"
        )
    train_targets = targets_for_mode(split.train.targets, mode, num_classes)
    valid_targets = targets_for_mode(split.valid.targets, mode, num_classes)
    if model is None:
        check_offered(config.model.name)
        model = build_model(config.model, num_classes, split.image_shape)
    _check_outputs(model, split, train_targets, valid_targets, mode)

    # Statistics of the whole training set, then each process keeps its shard on its device.
    mean, std = channel_statistics(split.train.images)
    train_shard, valid_shard = context.shard(len(split.train)), context.shard(len(split.valid))
    train_images = normalize_images(train_shard.take(split.train.images), mean, std, device)
    valid_images = normalize_images(valid_shard.take(split.valid.images), mean, std, device)
    train_targets = train_shard.take(train_targets).to(device)
    model = model.to(device, memory_format=torch.channels_last)
    trainer = context.wrap_model(model, device)  # DDP when distributed; same weights as model
    if isinstance(trainer, nn.parallel.DistributedDataParallel):
        model = trainer.module  # SyncBatchNorm layers on CUDA; they act as BatchNorm alone

    steps_per_epoch = math.ceil(len(split.train) / train.batch_size)
    optimization = _make_optimization(model, config, steps_per_epoch, device)
    history: list[dict[str, float]] = []

    def state(epoch: int, step: int, loss: float | None = None, metrics=None) -> TrainState:
        return TrainState(
            epoch=epoch,
            epochs=train.epochs,
            step=step,
            steps_per_epoch=steps_per_epoch,
            loss=loss,
            metrics=MappingProxyType(dict(metrics or {})),
            history=tuple(MappingProxyType(dict(h)) for h in history),
            elapsed=time.perf_counter() - start,
            device=device.type,
        )

    def notify(event: str, snapshot: TrainState) -> None:
        _notify(callbacks, event, snapshot, context)

    def validation_logits() -> torch.Tensor:
        """Every process predicts its shard; all get the logits of the whole set, in order."""
        dtype = optimization.autocast_dtype
        if context.world_size == 1:
            recalibrate_batch_norm(model, train_images, train.batch_size, dtype)
        logits = predict_logits(model, valid_images, dtype).reshape(-1, num_classes)
        return context.gather_rows(logits, valid_shard)

    stopped_early = False
    logits: torch.Tensor | None = None  # the validation logits of the current weights
    try:
        notify("before_fit", state(0, 0))
        for epoch in range(1, train.epochs + 1):
            epoch_start = time.perf_counter()
            logits = None
            notify("before_epoch", state(epoch, 0))
            train_loss = train_one_epoch(
                trainer,
                train_images,
                train_targets,
                optimization,
                train.batch_size,
                generator,
                max_shift=MAX_SHIFT,
                augment=train.augment,
                strokes=split.preprocess in ("digit", "digit-pair"),
                on_batch=lambda step, loss, e=epoch: notify("after_batch", state(e, step, loss)),
                shard=train_shard,
                context=context,
            )
            logits = validation_logits()
            _check_finite(epoch, train_loss, logits, train.lr)
            metrics = epoch_metrics(logits, split.valid.targets, mode, train.threshold)
            row = {"epoch": float(epoch), "train_loss": train_loss, **metrics}
            row["seconds"] = time.perf_counter() - epoch_start
            history.append(row)
            notify("after_epoch", state(epoch, steps_per_epoch, None, row))
    except StopTraining:
        stopped_early = True
    if logits is None:
        logits = validation_logits()

    done = len(history)
    try:
        notify("after_fit", state(done, steps_per_epoch if done else 0))
    except StopTraining:
        pass
    model = model.to("cpu", memory_format=torch.contiguous_format).eval()
    return FitResult(
        model=model,
        history=history,
        valid_logits=logits,
        valid_targets=split.valid.targets,
        stopped_early=stopped_early,
        device=device.type,
        normalization=(mean.tolist(), std.tolist()),
        world_size=context.world_size,
        backend=context.backend,
    )


def _check_finite(epoch: int, train_loss: float, logits: torch.Tensor, lr: float) -> None:
    """Stop with a message, rather than save a diverged model, when the loss or the
    validation outputs are no longer finite numbers (the same in every process)."""
    if math.isfinite(train_loss) and bool(torch.isfinite(logits).all()):
        return
    raise TrainingError(
        f"training diverged in epoch {epoch}: the loss or the model's outputs became NaN or "
        f"infinite (learning rate {lr:g}); lower the learning rate and train again"
    )


def train_one_epoch(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    optimization: Optimization,
    batch_size: int,
    generator: torch.Generator,
    max_shift: int = MAX_SHIFT,
    on_batch: Callable[[int, float | None], None] | None = None,
    shard: Shard | None = None,
    context: DistributedContext = SINGLE_PROCESS,
    augment: bool = False,
    strokes: bool = True,
) -> float:
    """One pass over the data in a seeded random order; returns the mean training loss.

    `images` and `targets` are the rows of `shard` (default: all of them). Every process draws
    the same order of all rows, so global batch k is the same everywhere; each process trains
    on its members of it. `on_batch` gets this process's share of the batch loss. `augment`
    swaps the random shifts for engine.augment.augment_batch (with stroke-width jitter when
    `strokes`).
    """
    model.train()
    shard = shard or Shard(len(images), 0, len(images))
    order = torch.randperm(shard.total, generator=generator)
    total, seen = 0.0, 0
    for step, batch in enumerate(shard.batches(order, batch_size, images.device), start=1):
        if batch.global_size < 2 and shard.total > 1:
            continue  # batch norm cannot train on a single image; it rejoins next epoch
        if augment:
            inputs = augment_batch(
                images[batch.indices],
                generator,
                strokes=strokes,
                positions=batch.positions,
                batch_size=batch.global_size,
            )
        else:
            inputs = random_shift(
                images[batch.indices],
                max_shift,
                generator,
                positions=batch.positions,
                batch_size=batch.global_size,
            )
        with _autocast(images.device, optimization.autocast_dtype):
            outputs = model(inputs).float()
        loss, mean = shard_loss(optimization.loss_function, outputs, targets[batch.indices], batch)
        optimization.optimizer.zero_grad(set_to_none=True)
        if optimization.scaler is not None:
            optimization.scaler.scale(loss).backward()
            optimization.scaler.step(optimization.optimizer)
            optimization.scaler.update()
        else:
            loss.backward()
            optimization.optimizer.step()
        optimization.scheduler.step()
        value = float(mean.detach()) if mean is not None else None
        if value is not None:
            total += value * len(batch)
            seen += len(batch)
        if on_batch is not None:
            on_batch(step, value)
    total, seen = context.sum([total, seen])
    return total / max(seen, 1)


@torch.no_grad()
def recalibrate_batch_norm(
    model: nn.Module,
    images: torch.Tensor,
    batch_size: int,
    autocast_dtype: torch.dtype | None = None,
    max_images: int = RECALIBRATION_IMAGES,
) -> None:
    """Re-estimate every batch norm's running statistics from training images.

    Batch norm layers keep an exponential average of the batch statistics for evaluation. With
    torchvision's MobileNets' momentum of 0.01 a short run (a few hundred steps) leaves that
    average far from the weights' real statistics, and the model sits at chance in eval mode
    while it learns fine in train mode. So the running statistics are reset and measured again
    as a plain average (momentum None) over up to `max_images` training images, with no
    gradient and no weight change: the technique known as BN recalibration (timm, SWA's
    update_bn). Models without batch norm are left untouched.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    norms = [m for m in norms if m.track_running_stats]
    if not norms or len(images) < 2:
        return
    momenta = [norm.momentum for norm in norms]
    for norm in norms:
        norm.reset_running_stats()
        norm.momentum = None  # a cumulative average over the batches below
    was_training = model.training
    model.train()
    # A fixed random sample: image folders come sorted by class, and a batch of one class
    # would skew the statistics.
    chosen = torch.randperm(len(images), generator=torch.Generator().manual_seed(0))
    chosen = chosen[:max_images].to(images.device)
    size = max(batch_size, 2)
    for begin in range(0, len(chosen), size):
        batch = images[chosen[begin : begin + size]]
        if len(batch) < 2:
            break
        with _autocast(images.device, autocast_dtype):
            model(batch)
    for norm, momentum in zip(norms, momenta, strict=True):
        norm.momentum = momentum
    model.train(was_training)


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: torch.Tensor,
    autocast_dtype: torch.dtype | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> torch.Tensor:
    """The model's logits for normalised `images`, float32 on the CPU, in evaluation mode."""
    model.eval()
    parts = []
    for begin in range(0, len(images), batch_size):
        with _autocast(images.device, autocast_dtype):
            parts.append(model(images[begin : begin + batch_size]).float())
    return torch.cat(parts).cpu() if parts else torch.empty(0, 0)


def evaluate(
    model: nn.Module,
    images: torch.Tensor,
    targets: torch.Tensor,
    mode: str,
    threshold: float = 0.5,
    optimization: Optimization | None = None,
    batch_size: int = EVAL_BATCH_SIZE,
) -> tuple[dict[str, float], torch.Tensor]:
    """Metrics of `model` on normalised `images`, and its logits (float32, CPU)."""
    dtype = optimization.autocast_dtype if optimization else None
    logits = predict_logits(model, images, dtype, batch_size)
    return epoch_metrics(logits, targets.cpu(), mode, threshold), logits


def epoch_metrics(
    logits: torch.Tensor, targets: torch.Tensor, mode: str, threshold: float = 0.5
) -> dict[str, float]:
    """Validation metrics from logits (N, K) and targets in either form.

    `val_accuracy` is argmax accuracy in both modes (with several true labels, the top logit
    must be one of them; rows with no label are left to the multi-label metrics).
    Multi-label mode adds `val_accuracy_multi` (fastai's accuracy_multi: the share of all N*K
    sigmoid-vs-threshold decisions that are right, a class firing at sigmoid >= threshold;
    it reads 0.9 for a dead 10-class model, so it is never shown alone), `val_exact_match`
    (rows with every class right) and
    `val_macro_f1` (mean F1 over the classes that occur in targets or predictions).
    """
    logits = logits.float()
    num_classes = logits.shape[1]
    targets = targets_for_mode(targets, mode, num_classes)
    check_targets(logits, targets, mode)
    metrics = {"val_loss": float(loss_function(mode)(logits, targets))}
    predicted = logits.argmax(dim=1)
    if mode == "multi-class":
        metrics["val_accuracy"] = float((predicted == targets).float().mean())
        return metrics

    truth = targets > 0.5
    labelled = truth.any(dim=1)
    hits = truth.gather(1, predicted[:, None]).squeeze(1)
    metrics["val_accuracy"] = float(hits[labelled].float().mean()) if labelled.any() else 0.0
    decided = fires(logits.sigmoid(), threshold)
    metrics["val_accuracy_multi"] = float((decided == truth).float().mean())
    metrics["val_exact_match"] = float((decided == truth).all(dim=1).float().mean())
    true_positive = (decided & truth).sum(dim=0).float()
    errors = (decided ^ truth).sum(dim=0).float()  # false positives + false negatives
    denominator = 2 * true_positive + errors
    present = denominator > 0
    f1 = 2 * true_positive[present] / denominator[present]
    metrics["val_macro_f1"] = float(f1.mean()) if present.any() else 1.0
    return metrics


def channel_statistics(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std of uint8 images (N, C, H, W), in 0..1 units."""
    pixels = images.transpose(0, 1).reshape(images.shape[1], -1).double() / 255
    mean, std = pixels.mean(dim=1), pixels.std(dim=1)
    return mean.float(), std.clamp_min(1e-6).float()


def normalize_images(
    images: torch.Tensor, mean: torch.Tensor, std: torch.Tensor, device: torch.device
) -> torch.Tensor:
    """uint8 (N, C, H, W) -> normalised float32 on `device`, channels_last."""
    data = images.to(device).float().div_(255)
    data.sub_(mean.to(device)[None, :, None, None]).div_(std.to(device)[None, :, None, None])
    return data.contiguous(memory_format=torch.channels_last)


def random_shift(
    images: torch.Tensor,
    max_shift: int,
    generator: torch.Generator,
    groups: int = 8,
    positions: torch.Tensor | None = None,
    batch_size: int | None = None,
) -> torch.Tensor:
    """Move images by up to `max_shift` pixels in x and y, edges repeated.

    The batch is cut into `groups` runs of consecutive images, each run moved by its own random
    offset: a few slices of one padded tensor, far cheaper on a CPU than a gather per image,
    and the batch order (so the targets) stays as it was. A distributed process holds only
    part of each batch: `positions` (ascending) say where its images sit in the whole batch of
    `batch_size`, and an image's run follows from that position, so the processes together
    shift every image exactly as one process shifting the whole batch would.
    """
    if max_shift <= 0:
        return images
    total = len(images) if positions is None else int(batch_size or 0)
    size = -(-total // groups)
    offsets = torch.randint(0, 2 * max_shift + 1, (groups, 2), generator=generator).tolist()
    if len(images) == 0:
        return images  # the offsets are drawn all the same: every process draws alike
    if positions is None:
        cuts = [*range(0, len(images), size), len(images)]
    else:  # where each run of the whole batch begins among this process's images
        cuts = [*torch.searchsorted(positions, torch.arange(0, total, size)).tolist(), len(images)]
    height, width = images.shape[-2:]
    padded = F.pad(images, (max_shift,) * 4, mode="replicate")
    parts = [
        padded[begin:end, :, top : top + height, left : left + width]
        for begin, end, (top, left) in zip(cuts, cuts[1:], offsets, strict=False)
        if end > begin
    ]
    return torch.cat(parts).contiguous(memory_format=torch.channels_last)


def _check_outputs(
    model: nn.Module,
    split: DatasetSplit,
    train_targets: torch.Tensor,
    valid_targets: torch.Tensor,
    mode: str,
) -> None:
    """Run two images through the model and check every target against its output shape."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        sample = split.train.images[:2].float().to(next(model.parameters()).device)
        outputs = model(sample).shape[1]
    model.train(was_training)
    for targets in (train_targets, valid_targets):
        check_targets(torch.empty(len(targets), outputs), targets, mode)


def _make_optimization(
    model: nn.Module, config: RunConfig, steps_per_epoch: int, device: torch.device
) -> Optimization:
    train = config.train
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=train.lr, weight_decay=train.weight_decay)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=train.lr, total_steps=train.epochs * steps_per_epoch
    )
    dtype, scaler = None, None
    if train.mixed_precision and device.type == "cuda":
        dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        if dtype == torch.float16:
            scaler = torch.amp.GradScaler("cuda")
    return Optimization(optimizer, scheduler, loss_function(train.mode), dtype, scaler)


@contextmanager
def _cpu_threads(count: int) -> Iterator[None]:
    """Use `count` intra-op threads inside the block (0: leave PyTorch's setting)."""
    previous = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if count:
            torch.set_num_threads(previous)


def _autocast(device: torch.device, dtype: torch.dtype | None):
    if dtype is None:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def _notify(
    callbacks: Sequence[Callback],
    event: str,
    state: TrainState,
    context: DistributedContext = SINGLE_PROCESS,
) -> None:
    """Run the callbacks; a StopTraining from them stops every process after this event."""
    stop: StopTraining | None = None
    try:
        for callback in callbacks:
            getattr(callback, event)(state)
    except StopTraining as error:
        stop = error
    if context.agree_to_stop(stop is not None):
        raise stop or StopTraining("stopped by the main process")
