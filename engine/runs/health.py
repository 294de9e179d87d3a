"""A run folder judged for the listing: `summarize_run` says whether a run is complete,
incomplete (still training, interrupted, stopped, failed, or missing a file) or damaged (its
files do not fit its run.json), and why. It never raises, so one broken folder cannot break
the list. `damage` and `missing_file` are also what loading refuses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from engine.config import RunConfig
from engine.runs.checks import (
    MAX_WEIGHTS_BYTES,
    read_history,
    read_record,
    record_problem,
    validation_problem,
)
from engine.runs.layout import RUN_FILE, VALIDATION_FILE, WEIGHTS_FILE
from engine.runs.processes import process_alive
from engine.runs.records import RunSummary, run_warnings
from engine.states import RunHealth, RunState


def missing_file(folder: Path) -> str | None:
    """Which of a finished run's weights and validation outputs is missing, in words."""
    for name in (WEIGHTS_FILE, VALIDATION_FILE):
        if not (folder / name).is_file():
            return f"{name} is missing"
    return None


def damage(folder: Path, record: Mapping[str, Any]) -> str | None:
    """A check that the run can be rebuilt: run.json's values, weights.pt's size, and
    validation.npz's arrays (their headers, finite logits; remembered per file version)."""
    problem = record_problem(record)
    if problem:
        return problem
    expected = (record.get("weights") or {}).get("bytes")
    actual = (folder / WEIGHTS_FILE).stat().st_size
    if isinstance(expected, int) and actual != expected:
        return (
            f"{WEIGHTS_FILE} has {actual} bytes but the run wrote {expected}: "
            "it was cut short or replaced"
        )
    if actual > MAX_WEIGHTS_BYTES:
        return f"{WEIGHTS_FILE} is {actual:,} bytes, over the {MAX_WEIGHTS_BYTES:,}-byte limit"
    return validation_problem(
        folder / VALIDATION_FILE, len(record["class_names"]), record["image_shape"]
    )


def summarize_run(folder: Path, run_id: str | None = None, read_only: bool = False) -> RunSummary:
    """Describe one run folder for the list. Never raises: any damage lists as "damaged"."""
    run_id = run_id or folder.name
    try:
        return _summarize(folder, run_id, read_only)
    except Exception as error:  # e.g. a hand-edited run.json of odd types
        problem = f"its files are inconsistent ({type(error).__name__}: {error})"
        return RunSummary(
            run_id, folder, RunHealth.DAMAGED, problem=problem, state=RunState.DAMAGED
        )


def _summarize(folder: Path, run_id: str, read_only: bool) -> RunSummary:
    try:
        record = read_record(folder)
    except Exception as error:  # a listing must survive any damage
        return RunSummary(
            run_id, folder, RunHealth.DAMAGED, problem=str(error), state=RunState.DAMAGED
        )
    try:
        config = RunConfig.from_dict(record["config"])
        dataset, mode, model, epochs = (
            config.data.dataset,
            config.train.mode,
            config.model.name,
            config.train.epochs,
        )
    except Exception as error:
        return RunSummary(
            run_id,
            folder,
            RunHealth.DAMAGED,
            problem=f"its config is invalid ({error})",
            state=RunState.DAMAGED,
        )
    base = RunSummary(
        id=run_id,
        path=folder,
        status=RunHealth.DAMAGED,
        dataset=dataset,
        mode=mode,
        model=model,
        epochs=epochs,
        created=record.get("created") if isinstance(record.get("created"), str) else None,
        read_only=read_only,
        class_names=tuple(str(name) for name in record.get("class_names") or ()),
        owner=record.get("owner") if isinstance(record.get("owner"), str) else None,
    )
    try:
        history = read_history(folder)
    except Exception as error:
        return replace(base, problem=str(error), state=RunState.DAMAGED)
    last = history[-1] if history else {}
    metrics = {k: v for k, v in last.items() if isinstance(v, int | float) and k != "epoch"}
    chance = record.get("chance_accuracy")
    warnings = run_warnings(metrics, chance, len(base.class_names))
    base = replace(base, metrics=metrics, epochs_done=len(history), warnings=tuple(warnings))
    state = str(record.get("status"))
    if state == RunState.RUNNING:
        if process_alive(record):
            return replace(
                base, status=RunHealth.INCOMPLETE, state=RunState.RUNNING, problem="still training"
            )
        return replace(
            base,
            status=RunHealth.INCOMPLETE,
            state=RunState.INTERRUPTED,
            problem="training stopped without saving (the process ended)",
        )
    if state in (RunState.STOPPED, RunState.FAILED):
        problem = record.get("problem") or f"training {state}"
        if state == RunState.STOPPED and not (missing_file(folder) or damage(folder, record)):
            problem = "stopped early; the weights so far were saved"
        return replace(
            base, status=RunHealth.INCOMPLETE, state=RunState(state), problem=str(problem)
        )
    if state != RunState.COMPLETE:
        return replace(
            base, problem=f"unknown status {state!r} in {RUN_FILE}", state=RunState.DAMAGED
        )
    missing = missing_file(folder)
    if missing:
        return replace(base, status=RunHealth.INCOMPLETE, state=RunState.COMPLETE, problem=missing)
    problem = damage(folder, record)
    if problem:
        return replace(base, status=RunHealth.DAMAGED, state=RunState.COMPLETE, problem=problem)
    return replace(base, status=RunHealth.COMPLETE, state=RunState.COMPLETE)
