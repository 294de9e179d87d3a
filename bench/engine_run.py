"""The engine's side: one `engine.training.fit` with the run's config, timed through the
engine's own callback events, so the bench measures exactly what users of the engine get.

An epoch's training time runs from `before_epoch` to its last `after_batch` (the validation
pass that follows is left out, as it is for the baseline); time to accuracy counts everything
from the call to `fit` to the end of the epoch that reached it, validation included.

`between_epochs` runs other work after each epoch (the baseline's next epoch, a sample of the
matrix-multiply rate): interleaving lets both sides share the same machine load on a busy
machine. Its time is taken out of the engine's elapsed time.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

from bench.measure import synchronize
from engine.callbacks import Callback, TrainState
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.device import resolve_device
from engine.training import FitResult, fit


class EpochClock(Callback):
    """Times each epoch's training part and notes when each epoch's score was known."""

    def __init__(
        self,
        device: torch.device,
        start: float,
        between_epochs: Callable[[], object] | None = None,
    ) -> None:
        self.device = device
        self.start = start
        self.between_epochs = between_epochs
        self.paused = 0.0  # seconds spent in between_epochs, not the engine's
        self.epoch_seconds: list[float] = []
        self.val_accuracy: list[float] = []
        self.elapsed_at_epoch_end: list[float] = []
        self._epoch_start = 0.0
        self._training_end: float | None = None

    def before_epoch(self, state: TrainState) -> None:
        synchronize(self.device)
        self._epoch_start = time.perf_counter()
        self._training_end = None

    def after_batch(self, state: TrainState) -> None:
        # Only the last batch waits for the device: waiting every batch would slow a GPU.
        if state.step >= state.steps_per_epoch:
            synchronize(self.device)
            self._training_end = time.perf_counter()

    def after_epoch(self, state: TrainState) -> None:
        now = time.perf_counter()
        end = self._training_end if self._training_end is not None else now
        self.epoch_seconds.append(end - self._epoch_start)
        self.val_accuracy.append(float(state.metrics.get("val_accuracy", float("nan"))))
        self.elapsed_at_epoch_end.append(now - self.start - self.paused)
        if self.between_epochs is not None:
            self.between_epochs()
            self.paused += time.perf_counter() - now


@dataclass
class EngineRun:
    """A timed fit: per-epoch training seconds, validation accuracy and elapsed time."""

    images_per_epoch: int
    epoch_seconds: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    elapsed_at_epoch_end: list[float] = field(default_factory=list)
    total_seconds: float = 0.0  # the whole call, without the time between epochs
    result: FitResult | None = None


def run_engine(
    config: RunConfig,
    split: DatasetSplit,
    callbacks: Sequence[Callback] = (),
    between_epochs: Callable[[], object] | None = None,
) -> EngineRun:
    """`fit(config, split)` with a clock attached; the FitResult is kept for later sections."""
    device = resolve_device(config.train.device)
    start = time.perf_counter()
    clock = EpochClock(device, start, between_epochs)
    result = fit(config, split, [clock, *callbacks])
    return EngineRun(
        images_per_epoch=len(split.train),
        epoch_seconds=clock.epoch_seconds,
        val_accuracy=clock.val_accuracy,
        elapsed_at_epoch_end=clock.elapsed_at_epoch_end,
        total_seconds=time.perf_counter() - start - clock.paused,
        result=result,
    )
