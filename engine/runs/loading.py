"""A saved run rebuilt: `load_run_folder` reads run.json and metrics.json, refuses a folder
that engine.runs.health would call damaged or whose weights changed since they were saved,
builds the model from its config (engine.models), loads its weights with `load_state_dict`
(`weights_only=True`: tensors only, never code), and reads the validation outputs. Every
failure is one RunError that says what to do.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from engine.config import RunConfig
from engine.errors import EngineError, RunError
from engine.labels import chance_accuracy, labels_per_image
from engine.runs.checks import (
    MAX_WEIGHTS_BYTES,
    open_regular,
    read_history,
    read_record,
    read_validation_arrays,
)
from engine.runs.health import damage, missing_file
from engine.runs.layout import RUN_FILE, VALIDATION_FILE, WEIGHTS_FILE, file_fingerprint
from engine.runs.records import LoadedRun, ValidationOutputs, is_chance
from engine.states import RunState


def load_state_dict(path: Path | str) -> dict[str, torch.Tensor]:
    """Read a weights file with `weights_only=True`: tensors only, never arbitrary code."""
    path = Path(path)
    if not path.exists():
        raise RunError(f"{path} is missing: train the run again")
    try:
        with open_regular(path, MAX_WEIGHTS_BYTES) as handle:
            state = torch.load(handle, map_location="cpu", weights_only=True)
    except RunError as error:
        raise RunError(f"{path.name} was refused: {error}") from None
    except Exception as error:  # torch raises many kinds for bad files
        first_line = (str(error).strip().splitlines() or [type(error).__name__])[0][:200]
        raise RunError(
            f"{path} was refused: it is not a plain weights file written by this program "
            f"(damaged, truncated, or holding code) - delete the run and train again "
            f"[{first_line}]"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise RunError(f"{path} does not hold a state_dict of tensors: delete the run")
    return dict(state)


def _read_validation(path: Path, classes: int, image_shape: Sequence[int]) -> ValidationOutputs:
    """The validation arrays as tensors, checked and bounded by engine.runs.checks."""
    arrays = read_validation_arrays(path, classes, image_shape)
    return ValidationOutputs(
        logits=torch.from_numpy(np.array(arrays["logits"], dtype=np.float32)),
        targets=torch.from_numpy(np.array(arrays["targets"])),
        images=torch.from_numpy(np.array(arrays["images"], dtype=np.uint8)),
    )


def load_run_folder(path: Path | str, run_id: str | None = None) -> LoadedRun:
    """Load the run in `path`: rebuild the model from its config and load its weights."""
    path = Path(path)
    run_id = run_id or path.name
    try:
        return _load_run_folder(path, run_id)
    except (TypeError, ValueError, AttributeError, KeyError) as error:
        if isinstance(error, EngineError):
            raise
        raise RunError(
            f"run {run_id!r} is damaged: {RUN_FILE} holds unexpected values "
            f"({type(error).__name__}: {error}); delete it"
        ) from None


def _load_run_folder(path: Path, run_id: str) -> LoadedRun:
    from engine.models import build_model

    try:
        record = read_record(path)
        history = read_history(path)
        config = RunConfig.from_dict(record["config"])
    except RunError as error:
        raise RunError(f"run {run_id!r} is damaged: {error}; delete it") from None
    except Exception as error:
        raise RunError(f"run {run_id!r} has an invalid config ({error}); delete it") from None
    status = record.get("status")
    if status not in (RunState.COMPLETE, RunState.STOPPED) or not (path / WEIGHTS_FILE).exists():
        reason = record.get("problem") or {
            RunState.RUNNING: "it is still training, or its process was killed"
        }.get(str(status), f"its status is {status!r}")
        raise RunError(f"run {run_id!r} did not finish ({reason}): it has no weights to load")
    problem = missing_file(path) or damage(path, record)
    expected = (record.get("weights") or {}).get("sha256")
    if not problem and expected and file_fingerprint(path / WEIGHTS_FILE)["sha256"] != expected:
        problem = f"{WEIGHTS_FILE} does not match the checksum saved with the run (it was changed)"
    if problem:
        raise RunError(f"run {run_id!r} is damaged: {problem}; delete it and train again")
    state = load_state_dict(path / WEIGHTS_FILE)
    class_names = tuple(record["class_names"])  # checked by damage
    image_shape = tuple(record["image_shape"])
    model_config = replace(config.model, pretrained=False)  # the weights come from the run
    try:
        model = build_model(model_config, len(class_names), image_shape)  # type: ignore[arg-type]
        validation = _read_validation(path / VALIDATION_FILE, len(class_names), image_shape)
    except EngineError as error:
        raise RunError(f"run {run_id!r} is damaged: {error}; delete it") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        raise RunError(
            f"run {run_id!r}: its weights do not fit a {config.model.name!r} model "
            f"({str(error).splitlines()[0][:200]}); it was saved by another version - train again"
        ) from None
    model.eval()
    data_labels = record.get("labels_per_image")
    if data_labels not in ("one", "several"):  # runs saved before it was recorded
        data_labels = labels_per_image(validation.targets)
    chance = record.get("chance_accuracy")
    if not is_chance(chance):
        chance = chance_accuracy(validation.targets)
    normalization = record.get("normalization") or {}
    channels = image_shape[0]
    mean = [float(v) for v in normalization.get("mean") or [0.0] * channels]
    std = [float(v) for v in normalization.get("std") or [1.0] * channels]
    return LoadedRun(
        id=run_id,
        path=path,
        config=config,
        class_names=class_names,
        image_shape=image_shape,  # type: ignore[arg-type]
        preprocess=str(record.get("preprocess") or "resize"),
        normalization=(mean, std),
        history=history,
        model=model,
        validation=validation,
        status=RunState(status),
        device=record.get("device"),
        created=record.get("created"),
        labels_per_image=data_labels,
        chance=float(chance),
    )
