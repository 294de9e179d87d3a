"""The run store: every training becomes a folder that reloads exactly, and a crash never
breaks the listing.

A run is `RUNS_DIR/<run_id>/` holding `run.json` (config, classes, status), `metrics.json`
(one dict per finished epoch), `weights.pt` (a state_dict, loaded with `weights_only=True`) and
`validation.npz` (validation logits, targets and images, for analysis). Every file is written
atomically (engine.atomic_files), so a reader sees the previous version or the new one, never
half of one. `run.json` turns "complete" only after everything else is on disk.

Training itself lives in engine.training, models in engine.models, and the load-fit-save
pipeline in engine.pipeline; this module only saves and loads what they produce.
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from engine import __version__
from engine.atomic_files import HOST_TAG, WRITER_TAG, atomic_open, atomic_write_json
from engine.config import RunConfig
from engine.errors import EngineError, RunError
from engine.labels import chance_accuracy, chance_warning, labels_per_image
from engine.run_validation import (
    MAX_METRICS_BYTES,
    MAX_RUN_FILE_BYTES,
    MAX_WEIGHTS_BYTES,
    history_problem,
    open_regular,
    read_json,
    read_validation_arrays,
    record_problem,
    validation_problem,
)
from engine.states import RunState

if TYPE_CHECKING:
    from engine.datasets.dataset import DatasetSplit
    from engine.training import FitResult

RUN_FILE = "run.json"
METRICS_FILE = "metrics.json"
WEIGHTS_FILE = "weights.pt"
VALIDATION_FILE = "validation.npz"
THRESHOLDS_FILE = "thresholds.json"  # optional: per-class thresholds tuned after training
RUNS_DIR_VARIABLE = "LME_RUNS_DIR"
DEMO_RUN_ID = "demo"
DEMO_RUN_DIR = Path(__file__).resolve().parent / "assets" / "demo_run"
# The runs that ship with the program, listed read-only by every store: the sigmoid-trained
# demo for Explore and Predict, its softmax-trained twin so Compare shows the three
# readings of the same validation images on a fresh copy, and a sigmoid run on two-digits
# (two labels per image) for Explore's multi-label-data view and Predict's "1 and 7".
DEMO_RUNS: dict[str, Path] = {
    DEMO_RUN_ID: DEMO_RUN_DIR,
    "demo-softmax": DEMO_RUN_DIR.with_name("demo_run_softmax"),
    "demo-pairs": DEMO_RUN_DIR.with_name("demo_run_pairs"),
}
_RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")


def default_runs_dir() -> Path:
    """`$LME_RUNS_DIR` when set, else `./runs` (git-ignored)."""
    return Path(os.environ.get(RUNS_DIR_VARIABLE) or "runs")


# ---------------------------------------------------------------------------------------------
# What the store hands out


@dataclass(frozen=True)
class RunSummary:
    """One line of the run list. `status` is what callers filter on; `state` says why."""

    id: str
    path: Path
    status: str  # "complete" | "incomplete" | "damaged"
    dataset: str | None = None
    mode: str | None = None
    model: str | None = None
    epochs: int | None = None  # epochs asked for
    metrics: Mapping[str, float] = field(default_factory=dict)  # the last finished epoch
    created: str | None = None  # ISO 8601, UTC
    problem: str | None = None  # why a run is incomplete or damaged
    state: str = RunState.UNKNOWN  # run.json's status, or "interrupted" when its process died
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
    status: str = RunState.COMPLETE  # run.json's status: "complete" or "stopped"
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


def _is_chance(value: Any) -> bool:
    """A usable recorded chance level: a number strictly between 0 and 1."""
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 < value < 1


def run_warnings(metrics: Mapping[str, Any], chance: float | None, num_classes: int) -> list[str]:
    """Warnings about a run's last metrics: at chance (engine.training.chance_warning).
    Without the recorded chance level (runs saved before it was), 1/K is used."""
    level = float(chance) if _is_chance(chance) else 1 / num_classes if num_classes else 0.0
    warning = chance_warning(metrics, level)
    return [warning] if warning else []


# ---------------------------------------------------------------------------------------------
# Writing a run


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

    def finish(self, result: FitResult, split: DatasetSplit, status: str | None = None) -> None:
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
            finished=_now(),
            device=result.device,
            # processes that trained it together (torchrun) and their backend; 1, None alone
            world_size=result.world_size,
            backend=result.backend,
            normalization={"mean": [float(v) for v in mean], "std": [float(v) for v in std]},
            weights=_file_fingerprint(self.path / WEIGHTS_FILE),
            warnings=run_warnings(
                result.history[-1] if result.history else {},
                self._record.get("chance_accuracy"),
                len(split.class_names),
            ),
        )
        self._record.pop("problem", None)
        atomic_write_json(self.path / RUN_FILE, self._record)

    def fail(self, message: str, status: str = RunState.FAILED) -> None:
        """Mark the run as failed or stopped without weights; it then lists as incomplete."""
        self._record.update(status=status, finished=_now(), problem=message)
        atomic_write_json(self.path / RUN_FILE, self._record)


DISK_FULL_BYTES = 16 * 1024 * 1024  # less free space than this after a failed write: full


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


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _file_fingerprint(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}


def _slug(text: str, limit: int = 40) -> str:
    """Folder-safe piece of a run id: "folder:/data/My Pets" -> "folder-my-pets"."""
    if ":" in text:
        kind, _, rest = text.partition(":")
        name = Path(rest.rstrip("/").rstrip("\\")).stem
        text = f"{kind}-{name}"
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "data"


def new_run_id(config: RunConfig) -> str:
    """`20261125-171502-mnist-5k-multi-label-3f2a`: sortable by time, unique by the suffix."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{_slug(config.data.dataset)}-{config.train.mode}-{secrets.token_hex(3)}"


# ---------------------------------------------------------------------------------------------
# The store


class RunStore:
    """The runs folder: list, load, create and delete runs. Demo runs are listed read-only."""

    def __init__(self, root: Path | str | None = None, include_demo: bool = True) -> None:
        self.root = Path(root) if root is not None else default_runs_dir()
        self.include_demo = include_demo
        clean_leftovers(self.root)

    def __repr__(self) -> str:
        return f"RunStore({str(self.root)!r})"

    # -- listing -----------------------------------------------------------------------------

    def list_runs(self) -> list[RunSummary]:
        """Every run, newest first, then the demos. Never raises: a broken run lists damaged."""
        summaries = []
        try:
            folders = [p for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(".")]
        except OSError:
            folders = []
        for folder in folders:
            summaries.append(summarize_run(folder))
        summaries.sort(key=lambda s: (s.created or "", s.id), reverse=True)
        for demo_id, demo_dir in DEMO_RUNS.items() if self.include_demo else ():
            if (demo_dir / RUN_FILE).is_file():
                summaries.append(summarize_run(demo_dir, run_id=demo_id, read_only=True))
        return summaries

    def run_path(self, run_id: str) -> Path:
        """The folder of `run_id`; RunError when the id is not a plain run name."""
        if self.include_demo and run_id in DEMO_RUNS:
            return DEMO_RUNS[run_id]
        if not isinstance(run_id, str) or not _RUN_ID_PATTERN.fullmatch(run_id):
            raise RunError(f"{run_id!r} is not a run id: use one listed by `python -m engine runs`")
        return self.root / run_id

    # -- loading -----------------------------------------------------------------------------

    def load_run(self, run_id: str) -> LoadedRun:
        """Rebuild a saved run's model and read its outputs; RunError says what is wrong."""
        path = self.run_path(run_id)
        if not (path / RUN_FILE).is_file():
            if path.is_dir():
                raise RunError(
                    f"run {run_id!r} has no readable {RUN_FILE}: its folder is damaged; delete it"
                )
            raise RunError(
                f"unknown run {run_id!r} in {self.root}: list the runs with "
                "`python -m engine runs`, or point --runs-dir / LME_RUNS_DIR at the right folder"
            )
        loaded = load_run_folder(path, run_id=run_id)
        if path in DEMO_RUNS.values():
            loaded.read_only = True
        return loaded

    # -- writing -----------------------------------------------------------------------------

    def create_run(
        self, config: RunConfig, split: DatasetSplit, owner: str | None = None
    ) -> RunWriter:
        """Make a new run folder with status "running" and return its writer.

        The folder is prepared under a hidden name and renamed into place, so the listing
        never sees it without its run.json. The random suffix and `exist_ok=False` keep ids
        unique when two processes start in the same second. `owner` (engine.hosting) is kept
        in run.json: on a hosted server, the visitor the run belongs to.
        """
        problem = self.storage_problem()
        if problem:
            raise RunError(f"cannot save the run: {problem}")
        self.root.mkdir(parents=True, exist_ok=True)
        for _attempt in range(20):
            run_id = new_run_id(config)
            staging = self.root / f".{run_id}.{WRITER_TAG}.staging"
            try:
                staging.mkdir(exist_ok=False)
            except FileExistsError:
                continue
            except PermissionError:
                raise RunError("cannot save the run: the runs folder is not writable") from None
            if (self.root / run_id).exists():
                staging.rmdir()
                continue
            record = {
                "id": run_id,
                "created": _now(),
                "status": RunState.RUNNING,
                "config": config.to_dict(),
                "class_names": list(split.class_names),
                "image_shape": list(split.image_shape),
                "preprocess": split.preprocess,
                "labels_per_image": labels_per_image(split.train.targets, split.valid.targets),
                "chance_accuracy": chance_accuracy(split.valid.targets),
                "normalization": None,
                "device": None,
                "engine_version": __version__,
                "pid": os.getpid(),
                "process_start": _process_start(os.getpid()),
                "host": socket.gethostname(),
                "train_size": len(split.train),
                "valid_size": len(split.valid),
            }
            if owner is not None:
                record["owner"] = owner
            atomic_write_json(staging / RUN_FILE, record)
            atomic_write_json(staging / METRICS_FILE, [])
            try:
                os.rename(staging, self.root / run_id)
            except OSError:
                shutil.rmtree(staging, ignore_errors=True)
                continue
            return RunWriter(self.root / run_id, record)
        raise RunError(f"could not create a new run folder in {self.root}: check it is writable")

    def delete_run(self, run_id: str) -> None:
        """Remove a run folder. Demo runs are read-only."""
        path = self.run_path(run_id)
        if path in DEMO_RUNS.values():
            raise RunError(f"the demo run {run_id!r} ships with the program and cannot be deleted")
        if not path.is_dir():
            raise RunError(f"unknown run {run_id!r} in {self.root}")
        # Out of the listing in one rename, then removed; a crash in between leaves a hidden
        # folder that the next store to open cleans up.
        doomed = self.root / f".{run_id}.{WRITER_TAG}.deleting"
        os.rename(path, doomed)
        shutil.rmtree(doomed, ignore_errors=True)

    def storage_problem(self) -> str | None:
        """Why runs cannot be saved here, in words (no path), or None when they can: the runs
        folder is a file, or not writable. A folder that does not exist yet is fine."""
        return storage_problem(self.root)


# ---------------------------------------------------------------------------------------------
# Reading run folders


def _read_json(path: Path, limit: int = MAX_RUN_FILE_BYTES) -> Any:
    """A regular file's JSON, at most `limit` bytes (see engine.run_validation)."""
    return read_json(path, limit)


def _read_record(folder: Path) -> dict[str, Any]:
    record = _read_json(folder / RUN_FILE)
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise RunError(f"{RUN_FILE} does not describe a run (no config)")
    return record


def _read_history(folder: Path) -> list[dict[str, float]]:
    if not (folder / METRICS_FILE).exists():
        return []
    history = _read_json(folder / METRICS_FILE, MAX_METRICS_BYTES)
    problem = history_problem(history)
    if problem:
        raise RunError(problem)
    return history


def _process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot; Linux), to tell a reused pid apart:
    a restarted container often gives the new server the old one's pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None


def _process_alive(record: Mapping[str, Any]) -> bool:
    """Whether the process that is writing this run still runs (same machine only)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host") != socket.gethostname():
        return False
    started = record.get("process_start")
    if isinstance(started, int) and _process_start(pid) not in (None, started):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def _record_problem(record: Mapping[str, Any]) -> str | None:
    """What in a finished run's run.json cannot be used to rebuild it, if anything."""
    return record_problem(record)


def _missing_file(folder: Path) -> str | None:
    for name in (WEIGHTS_FILE, VALIDATION_FILE):
        if not (folder / name).is_file():
            return f"{name} is missing"
    return None


def _damage(folder: Path, record: Mapping[str, Any]) -> str | None:
    """A check that the run can be rebuilt: run.json's values, weights.pt's size, and
    validation.npz's arrays (their headers, finite logits; remembered per file version)."""
    problem = _record_problem(record)
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
        return RunSummary(run_id, folder, "damaged", problem=problem, state=RunState.DAMAGED)


def _summarize(folder: Path, run_id: str, read_only: bool) -> RunSummary:
    try:
        record = _read_record(folder)
    except Exception as error:  # a listing must survive any damage
        return RunSummary(run_id, folder, "damaged", problem=str(error), state=RunState.DAMAGED)
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
            "damaged",
            problem=f"its config is invalid ({error})",
            state=RunState.DAMAGED,
        )
    base = RunSummary(
        id=run_id,
        path=folder,
        status="damaged",
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
        history = _read_history(folder)
    except Exception as error:
        return replace(base, problem=str(error), state=RunState.DAMAGED)
    last = history[-1] if history else {}
    metrics = {k: v for k, v in last.items() if isinstance(v, int | float) and k != "epoch"}
    chance = record.get("chance_accuracy")
    warnings = run_warnings(metrics, chance, len(base.class_names))
    base = replace(base, metrics=metrics, epochs_done=len(history), warnings=tuple(warnings))
    state = str(record.get("status"))
    if state == RunState.RUNNING:
        if _process_alive(record):
            return replace(
                base, status="incomplete", state=RunState.RUNNING, problem="still training"
            )
        return replace(
            base,
            status="incomplete",
            state=RunState.INTERRUPTED,
            problem="training stopped without saving (the process ended)",
        )
    if state in (RunState.STOPPED, RunState.FAILED):
        problem = record.get("problem") or f"training {state}"
        if state == RunState.STOPPED and not (_missing_file(folder) or _damage(folder, record)):
            problem = "stopped early; the weights so far were saved"
        return replace(base, status="incomplete", state=RunState(state), problem=str(problem))
    if state != RunState.COMPLETE:
        return replace(
            base, problem=f"unknown status {state!r} in {RUN_FILE}", state=RunState.DAMAGED
        )
    missing = _missing_file(folder)
    if missing:
        return replace(base, status="incomplete", state=RunState.COMPLETE, problem=missing)
    damage = _damage(folder, record)
    if damage:
        return replace(base, status="damaged", state=RunState.COMPLETE, problem=damage)
    return replace(base, status="complete", state=RunState.COMPLETE)


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
    """The validation arrays, checked and bounded by engine.run_validation."""
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
        record = _read_record(path)
        history = _read_history(path)
        config = RunConfig.from_dict(record["config"])
    except RunError as error:
        raise RunError(f"run {run_id!r} is damaged: {error}; delete it") from None
    except Exception as error:
        raise RunError(f"run {run_id!r} has an invalid config ({error}); delete it") from None
    status = record.get("status")
    if status not in (RunState.COMPLETE, RunState.STOPPED) or not (path / WEIGHTS_FILE).exists():
        reason = record.get("problem") or {
            "running": "it is still training, or its process was killed"
        }.get(str(status), f"its status is {status!r}")
        raise RunError(f"run {run_id!r} did not finish ({reason}): it has no weights to load")
    problem = _missing_file(path) or _damage(path, record)
    expected = (record.get("weights") or {}).get("sha256")
    if not problem and expected and _file_fingerprint(path / WEIGHTS_FILE)["sha256"] != expected:
        problem = f"{WEIGHTS_FILE} does not match the checksum saved with the run (it was changed)"
    if problem:
        raise RunError(f"run {run_id!r} is damaged: {problem}; delete it and train again")
    state = load_state_dict(path / WEIGHTS_FILE)
    class_names = tuple(record["class_names"])  # checked by _damage
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
    if not _is_chance(chance):
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
        status=str(status),
        device=record.get("device"),
        created=record.get("created"),
        labels_per_image=data_labels,
        chance=float(chance),
    )


# ---------------------------------------------------------------------------------------------
# Housekeeping: what a crash leaves behind, and a runs folder that cannot be used

# Scratch folders other modules make in the system temp folder, named `PREFIX<tag>-...`:
# extracted zips (engine.datasets.folders) and torchrun jobs' files (engine.jobs).
SCRATCH_PREFIXES = ("lme-zip-", "lme-job-")
_LEFTOVER = re.compile(r"^\..*\.([0-9a-f]{6})-(\d+)(?:[.-].*)?(\.tmp|\.staging|\.deleting)$")
_UNTAGGED_LEFTOVER = re.compile(r"^\..*(\.tmp|\.staging)$")  # written before writers were tagged
_UNTAGGED_LEFTOVER_SECONDS = 3600
_SCRATCH = re.compile(r"^lme-(?:zip|job)-([0-9a-f]{6})-(\d+)-")
_FOREIGN_LEFTOVER_SECONDS = 24 * 3600  # another host's (a shared NFS folder): only when old


def _writer_gone(host_tag: str, pid: str, path: Path) -> bool:
    if host_tag != HOST_TAG:
        try:
            return time.time() - path.lstat().st_mtime > _FOREIGN_LEFTOVER_SECONDS
        except OSError:
            return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError, OverflowError):
        return False
    return False


def _older(path: Path, seconds: float = _UNTAGGED_LEFTOVER_SECONDS) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def clean_leftovers(root: Path | str) -> list[Path]:
    """Remove what killed writes left: hidden `.staging`/`.deleting` run folders and `.tmp`
    files in the runs folder and its run folders, and `lme-zip-*`/`lme-job-*` scratch folders
    in the system temp, each only when the process that made it no longer runs. Never raises;
    returns what it removed."""
    removed: list[Path] = []
    root = Path(root)
    try:
        candidates = [root / name for name in os.listdir(root)] if root.is_dir() else []
        for folder in list(candidates):
            if folder.is_dir() and not folder.name.startswith(".") and not folder.is_symlink():
                candidates += [folder / name for name in os.listdir(folder)]
        temp = Path(tempfile.gettempdir())
        scratch = [temp / name for name in os.listdir(temp) if _SCRATCH.match(name)]
    except OSError:
        return removed
    for path in candidates:
        match = _LEFTOVER.match(path.name)
        if match and _writer_gone(match.group(1), match.group(2), path):
            _remove(path)
            removed.append(path)
        elif not match and _UNTAGGED_LEFTOVER.match(path.name) and _older(path):
            _remove(path)
            removed.append(path)
    for path in scratch:
        match = _SCRATCH.match(path.name)
        if match and _writer_gone(match.group(1), match.group(2), path):
            _remove(path)
            removed.append(path)
    return removed


def storage_problem(root: Path | str) -> str | None:
    """Why no run can be saved under `root`, in words without the path, or None."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        return "the runs folder (--runs-dir / LME_RUNS_DIR) is a file, not a folder"
    existing = root if root.exists() else next((p for p in root.parents if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return "the runs folder (--runs-dir / LME_RUNS_DIR) is read-only: runs cannot be saved"
    return None


# ---------------------------------------------------------------------------------------------
# Tuned thresholds, saved beside run.json


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
    if run.read_only or run.path in DEMO_RUNS.values():
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
        "created": _now(),
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
        record = _read_json(path)  # a regular file of bounded size
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
