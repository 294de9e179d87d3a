"""Per-class thresholds tuned after training (engine.analysis.held_out_tuning), saved beside a
run's run.json as thresholds.json; Predict and `predict --threshold tuned` read them. The
shipped demo runs are read-only, so none is saved with them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic_files import atomic_write_json
from engine.errors import RunError
from engine.runs.checks import MAX_RUN_FILE_BYTES, read_json
from engine.runs.demos import is_demo_folder
from engine.runs.layout import THRESHOLDS_FILE, utc_now
from engine.runs.records import LoadedRun


@dataclass(frozen=True)
class TunedThresholds:
    """Per-class thresholds saved with a run (thresholds.json), and how they scored."""

    values: tuple[float, ...]  # one per class, in class order
    class_names: tuple[str, ...]
    created: str | None = None
    scores: Mapping[str, Any] = field(default_factory=dict)  # HeldOutTuning.to_dict()


def save_tuned_thresholds(
    run: LoadedRun, values: Sequence[float], scores: Mapping[str, Any] | None = None
) -> Path:
    """Write per-class thresholds beside the run's run.json, atomically; Predict and
    `predict --threshold tuned` read them. The shipped demo runs are read-only: RunError."""
    if run.read_only or is_demo_folder(run.path):
        raise RunError(
            f"run {run.id!r} ships with the program and is read-only: train a run of your own "
            "to save tuned thresholds with it"
        )
    thresholds = [float(value) for value in values]
    if len(thresholds) != len(run.class_names) or not all(0 < t < 1 for t in thresholds):
        raise RunError(
            f"give one threshold per class ({len(run.class_names)}), each strictly between 0 and 1"
        )
    record = {
        "thresholds": thresholds,
        "class_names": list(run.class_names),
        "created": utc_now(),
        "scores": dict(scores or {}),
    }
    path = run.path / THRESHOLDS_FILE
    try:
        atomic_write_json(path, record)
    except OSError as error:
        raise RunError(
            f"could not save the thresholds with run {run.id!r}: "
            f"{error.strerror or type(error).__name__}"
        ) from None
    return path


def read_tuned_thresholds(run: LoadedRun) -> TunedThresholds | None:
    """The thresholds saved with `run`, or None when none were saved. RunError when the file
    is damaged or was saved for other classes."""
    path = run.path / THRESHOLDS_FILE
    if not path.is_file():
        return None
    try:
        record = read_json(path, MAX_RUN_FILE_BYTES)  # a regular file of bounded size
        values = tuple(float(value) for value in record["thresholds"])
        names = tuple(str(name) for name in record["class_names"])
    except (RunError, OSError, ValueError, TypeError, KeyError) as error:
        raise RunError(
            f"run {run.id!r}'s {THRESHOLDS_FILE} is damaged ({type(error).__name__}): tune and "
            "save the thresholds again"
        ) from None
    if names != tuple(run.class_names) or not all(0 < value < 1 for value in values):
        raise RunError(
            f"run {run.id!r}'s {THRESHOLDS_FILE} does not fit its classes: tune and save the "
            "thresholds again"
        )
    scores = record.get("scores")
    return TunedThresholds(
        values, names, record.get("created"), scores if isinstance(scores, dict) else {}
    )
