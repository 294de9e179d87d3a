"""What the run store hands out: `RunSummary` (one line of the listing), `LoadedRun` (a run
rebuilt, with its model and `ValidationOutputs`), and `run_warnings`, what a user must know
before trusting a run's answers. Plain dataclasses: reading and judging run folders is
engine.runs.health's and engine.runs.loading's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.labels import chance_warning
from engine.states import RunHealth, RunState

if TYPE_CHECKING:
    import torch
    from torch import nn

    from engine.config import RunConfig


@dataclass(frozen=True)
class RunSummary:
    """One line of the run list. `status` is what callers filter on; `state` says why."""

    id: str
    path: Path
    status: RunHealth
    dataset: str | None = None
    mode: str | None = None
    model: str | None = None
    epochs: int | None = None  # epochs asked for
    metrics: Mapping[str, float] = field(default_factory=dict)  # the last finished epoch
    created: str | None = None  # ISO 8601, UTC
    problem: str | None = None  # why a run is incomplete or damaged
    state: RunState = RunState.UNKNOWN  # run.json's status, or interrupted: its process died
    epochs_done: int = 0
    read_only: bool = False  # the shipped demo run
    class_names: tuple[str, ...] = ()
    owner: str | None = None  # on a hosted server, the visitor who trained it (engine.hosting)
    warnings: tuple[str, ...] = ()  # e.g. the model did not learn (run_warnings)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form used by `python -m engine runs --json`."""
        return {
            "id": self.id,
            "path": str(self.path),
            "status": self.status,
            "state": self.state,
            "dataset": self.dataset,
            "mode": self.mode,
            "model": self.model,
            "epochs": self.epochs,
            "epochs_done": self.epochs_done,
            "metrics": dict(self.metrics),
            "created": self.created,
            "problem": self.problem,
            "read_only": self.read_only,
            "classes": list(self.class_names),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, eq=False)
class ValidationOutputs:
    """What the model said about the validation images, kept for analysis."""

    logits: torch.Tensor  # float32 (N, K)
    targets: torch.Tensor  # int64 (N,) or float32 multi-hot (N, K)
    images: torch.Tensor  # uint8 (N, C, H, W)


@dataclass(eq=False)
class LoadedRun:
    """A saved run rebuilt: its config, history, evaluation-mode model on the CPU, and outputs."""

    id: str
    path: Path
    config: RunConfig
    class_names: tuple[str, ...]
    image_shape: tuple[int, int, int]
    preprocess: str
    normalization: tuple[list[float], list[float]]  # mean, std per channel in 0..1 units
    history: list[dict[str, float]]
    model: nn.Module
    validation: ValidationOutputs
    status: RunState = RunState.COMPLETE  # run.json's status: complete or stopped
    device: str | None = None  # where it was trained
    created: str | None = None
    read_only: bool = False
    labels_per_image: str = "one"  # the data's: "one", or "several" (two-digits, multi-hot CSV)
    chance: float | None = None  # argmax accuracy of always answering the commonest class

    @property
    def mode(self) -> str:
        return self.config.train.mode

    @property
    def reading(self) -> str:
        """How the run's own verdicts are read: "softmax" (its winner) for a multi-class run,
        "sigmoid" (every class that fires) for a multi-label one."""
        return "softmax" if self.mode == "multi-class" else "sigmoid"

    @property
    def multi_label_data(self) -> bool:
        """The images carry several labels each (not just: trained with sigmoids)."""
        return self.labels_per_image == "several"

    @property
    def warnings(self) -> list[str]:
        """What the user must know before trusting this run's answers."""
        return run_warnings(self.metrics, self.chance, len(self.class_names))

    @property
    def metrics(self) -> dict[str, float]:
        """The last finished epoch's metrics."""
        return dict(self.history[-1]) if self.history else {}


def is_chance(value: Any) -> bool:
    """A usable recorded chance level: a number strictly between 0 and 1."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


def run_warnings(metrics: Mapping[str, Any], chance: float | None, num_classes: int) -> list[str]:
    """Warnings about a run's last metrics: at chance (engine.labels.chance_warning).
    Without the recorded chance level (runs saved before it was), 1/K is used."""
    level = float(chance) if is_chance(chance) else 1 / num_classes if num_classes else 0.0
    warning = chance_warning(metrics, level)
    return [warning] if warning else []
