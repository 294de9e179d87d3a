"""Training into the run store: load the data, fit, and save the run, as one call.

`train_run` is what the command line's `train`, the dashboard's background trainings
(engine.training_jobs) and scripts call. It sits above both the run store (engine.runs) and
training (engine.training), so neither has to know about the other.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from engine import distributed, training
from engine.callbacks import Callback
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.datasets.loading import load_dataset
from engine.errors import EngineError
from engine.runs import RunStore, RunWriter
from engine.states import RunState


def metrics_saver(writer: RunWriter) -> Callback:
    """A callback that rewrites metrics.json after every epoch."""

    class SaveMetrics(Callback):
        def after_epoch(self, state: Any) -> None:
            writer.save_epoch(state.history)

    return SaveMetrics()


def train_run(
    config: RunConfig,
    store: RunStore,
    callbacks: Sequence[Callback] = (),
    split: DatasetSplit | None = None,
    on_created: Callable[[str], None] | None = None,
    owner: str | None = None,
) -> str | None:
    """Load the data, train, and save a run; return its id.

    A run stopped by a callback (StopTraining) keeps its weights and lists as "stopped".
    Any exception (Ctrl-C included) marks the run failed or stopped before it propagates.
    `on_created` gets the id as soon as the folder exists, before training starts; `owner`
    is recorded in run.json (a hosted server's visitor, engine.hosting).
    Under torchrun only rank 0 writes the run; the other processes train beside it, leave
    the store alone and return None.
    """
    if split is None:
        split = load_dataset(config.data)
    if not distributed.is_main_process():
        training.fit(config, split, callbacks)
        return None
    writer = store.create_run(config, split, owner=owner)
    try:
        if on_created is not None:  # inside: a failing announcement marks the run failed
            on_created(writer.id)
        result = training.fit(config, split, [*callbacks, metrics_saver(writer)])
        writer.finish(result, split)
    except KeyboardInterrupt:
        try:
            writer.fail("stopped by Ctrl-C before the weights were saved", status=RunState.STOPPED)
        except OSError:
            pass
        raise
    except BaseException as error:
        described = (
            str(error) if isinstance(error, EngineError) else f"{type(error).__name__}: {error}"
        )
        try:
            writer.fail(f"training failed: {described}"[:500])
        except OSError:  # a full disk cannot take run.json either; the error says why
            pass
        raise
    return writer.id
