"""The run store: every training becomes a folder under the runs folder that reloads exactly,
and a crash never breaks the listing.

`RunStore` lists runs (each judged by engine.runs.health, the demo runs read-only), loads them
(engine.runs.loading), creates a run folder in one rename and hands back its `RunWriter`, and
deletes runs. What a run folder holds is engine.runs.layout's; what a crash leaves behind is
cleaned by engine.runs.housekeeping when a store opens.
"""

from __future__ import annotations

import os
import shutil
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from engine import __version__
from engine.atomic_files import WRITER_TAG, atomic_write_json
from engine.config import RunConfig
from engine.errors import RunError
from engine.labels import chance_accuracy, labels_per_image
from engine.runs.demos import DEMO_RUNS, is_demo_folder
from engine.runs.health import summarize_run
from engine.runs.housekeeping import clean_leftovers, storage_problem
from engine.runs.layout import (
    METRICS_FILE,
    RUN_FILE,
    RUN_ID_PATTERN,
    default_runs_dir,
    new_run_id,
    utc_now,
)
from engine.runs.loading import load_run_folder
from engine.runs.processes import process_start
from engine.runs.records import LoadedRun, RunSummary
from engine.runs.writer import RunWriter
from engine.states import RunState

if TYPE_CHECKING:
    from engine.datasets.dataset import DatasetSplit


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
        if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
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
        if is_demo_folder(path):
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
                "created": utc_now(),
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
                "process_start": process_start(os.getpid()),
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
        if is_demo_folder(path):
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
