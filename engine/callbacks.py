"""Training events and the callbacks that listen to them.

`fit()` calls each callback at a fixed list of events (fastai's names): before_fit,
before_epoch, after_batch, after_epoch, after_fit. Every event gets a `TrainState`, a frozen
snapshot, never the trainer itself, so a callback can read progress but not change the loop.
To stop early a callback raises `StopTraining`; fit() catches it and returns what it has.
The progress bar is just a callback (`ProgressPrinter`, for the command line); the dashboard's
callback lives in engine/training_jobs.py and dashboard/.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TextIO


def _frozen_mapping(values: Mapping[str, float] | None = None) -> Mapping[str, float]:
    return MappingProxyType(dict(values or {}))


@dataclass(frozen=True)
class TrainState:
    """Where training stands when an event fires. Epochs and steps count from 1."""

    epoch: int  # the epoch in progress (after_epoch: the one just finished); 0 before any
    epochs: int  # planned epochs
    step: int  # batches finished in this epoch
    steps_per_epoch: int
    loss: float | None = None  # last batch's training loss
    metrics: Mapping[str, float] = field(default_factory=_frozen_mapping)  # this epoch's
    history: tuple[Mapping[str, float], ...] = ()  # every finished epoch's metrics
    elapsed: float = 0.0  # seconds since fit started
    device: str = "cpu"

    @property
    def fraction_done(self) -> float:
        """0..1 over the whole fit, for progress bars."""
        total = self.epochs * self.steps_per_epoch
        done = max(self.epoch - 1, 0) * self.steps_per_epoch + self.step
        return min(done / total, 1.0) if total else 0.0


class StopTraining(Exception):
    """Raise from any callback to end the fit cleanly after what has been done so far."""


class Callback:
    """Override the events you need; each receives a frozen TrainState."""

    def before_fit(self, state: TrainState) -> None:
        pass

    def before_epoch(self, state: TrainState) -> None:
        pass

    def after_batch(self, state: TrainState) -> None:
        pass

    def after_epoch(self, state: TrainState) -> None:
        pass

    def after_fit(self, state: TrainState) -> None:
        pass


def format_metrics(metrics: Mapping[str, float], epochs: int | None = None) -> str:
    """One line such as `epoch 2/8  train_loss 0.1234  val_accuracy 0.9810  1.4s`."""
    parts = []
    for name, value in metrics.items():
        if name == "epoch":
            total = f"/{epochs}" if epochs else ""
            parts.append(f"epoch {int(value)}{total}")
        elif name == "seconds":
            parts.append(f"{value:.1f}s")
        else:
            parts.append(f"{name} {value:.4f}")
    return "  ".join(parts)


class ProgressPrinter(Callback):
    """Command-line progress: a `\\r`-updated bar on stderr, one metrics line per epoch on
    stdout (so scripts can keep stdout and drop the bar)."""

    def __init__(
        self,
        progress_stream: TextIO | None = None,
        metrics_stream: TextIO | None = None,
        width: int = 30,
        min_interval: float = 0.1,
    ) -> None:
        self.progress_stream = progress_stream
        self.metrics_stream = metrics_stream
        self.width = width
        self.min_interval = min_interval  # seconds between bar redraws, so printing stays cheap
        self._last_draw = 0.0
        self._bar_shown = False

    # Streams are looked up when used, so pytest's capsys and redirected sys.stdout work.
    def _progress(self) -> TextIO:
        return self.progress_stream or sys.stderr

    def _metrics(self) -> TextIO:
        return self.metrics_stream or sys.stdout

    def before_fit(self, state: TrainState) -> None:
        print(f"training on {state.device}: {state.epochs} epochs", file=self._progress())

    def after_batch(self, state: TrainState) -> None:
        now = time.monotonic()
        if now - self._last_draw < self.min_interval and state.step < state.steps_per_epoch:
            return
        self._last_draw = now
        filled = int(round(self.width * state.step / max(state.steps_per_epoch, 1)))
        bar = "#" * filled + "-" * (self.width - filled)
        loss = f"  loss {state.loss:.4f}" if state.loss is not None else ""
        stream = self._progress()
        stream.write(
            f"\repoch {state.epoch}/{state.epochs} [{bar}] "
            f"{state.step}/{state.steps_per_epoch}{loss}"
        )
        stream.flush()
        self._bar_shown = True

    def after_epoch(self, state: TrainState) -> None:
        self._end_bar()
        print(format_metrics(state.metrics, state.epochs), file=self._metrics(), flush=True)

    def after_fit(self, state: TrainState) -> None:
        self._end_bar()

    def _end_bar(self) -> None:
        if self._bar_shown:
            stream = self._progress()
            stream.write("\n")
            stream.flush()
            self._bar_shown = False
