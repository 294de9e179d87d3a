"""`RunWriter`: one run folder written as training goes, metrics after every epoch and the rest
at the end, each file atomically (engine.atomic_files). run.json is written last, so a run
lists as complete only once its weights and validation outputs are on disk. The folder itself
is made by `RunStore.create_run`.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from engine.atomic_files import atomic_open, atomic_write_json
from engine.config import RunConfig
from engine.errors import RunError
from engine.runs.layout import (
    METRICS_FILE,
    RUN_FILE,
    VALIDATION_FILE,
    WEIGHTS_FILE,
    file_fingerprint,
    utc_now,
)
from engine.runs.records import run_warnings
from engine.states import RunState

if TYPE_CHECKING:
    from engine.datasets.dataset import DatasetSplit
    from engine.training import FitResult

DISK_FULL_BYTES = 16 * 1024 * 1024  # less free space than this after a failed write: full


class RunWriter:
    """Writes one run folder as training goes: metrics per epoch, everything else at the end."""

    def __init__(self, path: Path, record: dict[str, Any]) -> None:
        self.path = path
        self.id = path.name
        self._record = record

    @property
    def config(self) -> RunConfig:
        return RunConfig.from_dict(self._record["config"])

    def save_epoch(self, history: Sequence[Mapping[str, float]]) -> None:
        """Rewrite metrics.json with every finished epoch so far."""
        atomic_write_json(self.path / METRICS_FILE, [dict(epoch) for epoch in history])

    def finish(
        self, result: FitResult, split: DatasetSplit, status: RunState | None = None
    ) -> None:
        """Save weights, validation outputs and metrics, then mark the run complete (or stopped).

        run.json is written last: until it says "complete", the run lists as incomplete.
        """
        status = status or (RunState.STOPPED if result.stopped_early else RunState.COMPLETE)
        try:
            with atomic_open(self.path / WEIGHTS_FILE) as handle:
                torch.save(result.model.state_dict(), handle)
            with atomic_open(self.path / VALIDATION_FILE) as handle:
                np.savez_compressed(
                    handle,
                    logits=_numpy(result.valid_logits, np.float32),
                    targets=_numpy(result.valid_targets),
                    images=_numpy(split.valid.images, np.uint8),
                )
        except (OSError, RuntimeError) as error:
            raise _save_error(self.path, error) from None
        self.save_epoch(result.history)
        mean, std = result.normalization
        self._record.update(
            status=status,
            finished=utc_now(),
            device=result.device,
            # processes that trained it together (torchrun) and their backend; 1, None alone
            world_size=result.world_size,
            backend=result.backend,
            normalization={"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
            weights=file_fingerprint(self.path / WEIGHTS_FILE),
            warnings=run_warnings(
                result.history[-1] if result.history else {},
                self._record.get("chance_accuracy"),
                len(split.class_names),
            ),
        )
        self._record.pop("problem", None)
        atomic_write_json(self.path / RUN_FILE, self._record)

    def fail(self, message: str, status: RunState = RunState.FAILED) -> None:
        """Mark the run as failed or stopped without weights; it then lists as incomplete."""
        self._record.update(status=status, finished=utc_now(), problem=message)
        atomic_write_json(self.path / RUN_FILE, self._record)


def _save_error(folder: Path, error: BaseException) -> BaseException:
    """A failed write as a message a user can act on: a full disk says so (torch reports
    it as a RuntimeError "file write failed", numpy and Python as ENOSPC)."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    full = getattr(error, "errno", None) == errno.ENOSPC or (
        free is not None and free < DISK_FULL_BYTES
    )
    if full:
        left = f" ({free / 2**20:.0f} MB left)" if free is not None else ""
        return RunError(
            f"the disk is full{left}: the run's weights could not be saved; free some space "
            "(or delete old runs) and train again"
        )
    return error  # another failure: the caller's usual handling (the CLI names an OSError)


def _numpy(tensor: torch.Tensor, dtype: Any = None) -> np.ndarray:
    array = tensor.detach().cpu().numpy()
    return array.astype(dtype, copy=False) if dtype is not None else array
