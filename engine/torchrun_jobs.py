"""Training in torchrun child processes, supervised from a worker thread of this process.

On a machine with several CUDA GPUs a dashboard training (engine.training_jobs) trains with
`torchrun -m engine train`, one process per GPU (engine/distributed.py). This module starts
the command, follows the run folder's metrics.json for progress, passes a stop on as SIGTERM
(on which the command line saves the run as stopped), and reads the end state from run.json,
falling back on the command's last `error:` line.
"""

from __future__ import annotations

import json
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

from engine import distributed
from engine.atomic_files import scratch_prefix
from engine.config import RunConfig
from engine.device import resolve_device
from engine.runs import METRICS_FILE, RUN_FILE, RunStore
from engine.states import JobState, RunState

PROCESS_POLL_SECONDS = 0.25  # how often a job in child processes reads its run folder


class SupervisedJob(Protocol):
    """What this module needs of a job (engine.training_jobs.TrainingJob)."""

    config: RunConfig
    processes: int

    @property
    def stop_requested(self) -> bool: ...

    def should_stop(self) -> bool: ...

    def progress(self) -> Any: ...  # a snapshot with `run_id` and `epoch`

    def update(self, **changes: object) -> None: ...


def train_in_processes(job: SupervisedJob, store: RunStore) -> dict[str, object]:
    """Run torchrun in `job.processes` child processes until they end: the run folder's
    metrics copied into the job's snapshot, a stop passed on as SIGTERM. Returns the job's
    end (state, error) read from run.json. The caller holds the server's training slot."""
    with tempfile.TemporaryDirectory(prefix=scratch_prefix("lme-job-")) as folder:
        config_file, run_id_file, log_file = (
            Path(folder) / name for name in ("config.json", "run-id", "output.log")
        )
        config_file.write_text(json.dumps(job.config.to_dict()), encoding="utf-8")
        arguments = ["train", "--quiet", "--config", str(config_file)]
        arguments += ["--run-id-file", str(run_id_file), "--runs-dir", str(store.root)]
        with log_file.open("wb") as log:
            process = subprocess.Popen(
                distributed.torchrun_command(job.processes, arguments),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=distributed.engine_environment(),
            )
        job.update(state=JobState.RUNNING, device=resolve_device(job.config.train.device).type)
        signalled = False
        while process.poll() is None:
            if job.should_stop() and not signalled:
                process.send_signal(signal.SIGTERM)  # torchrun passes it to each process
                signalled = True
            _follow_run(job, store, run_id_file)
            time.sleep(PROCESS_POLL_SECONDS)
        _follow_run(job, store, run_id_file)
        return _end_from_run(job, store, log_file.read_text(errors="replace"))


def _follow_run(job: SupervisedJob, store: RunStore, run_id_file: Path) -> None:
    """Copy the run id and the finished epochs' metrics into the job's snapshot."""
    run_id = job.progress().run_id
    if run_id is None and run_id_file.is_file():
        run_id = run_id_file.read_text(encoding="utf-8").strip() or None
        job.update(run_id=run_id)
    if run_id is None:
        return
    try:
        history = json.loads((store.root / run_id / METRICS_FILE).read_text("utf-8"))
    except (OSError, ValueError):
        return  # not written yet, or being replaced: read it next time
    if isinstance(history, list) and len(history) > job.progress().epoch:
        frozen = tuple(MappingProxyType(dict(row)) for row in history if isinstance(row, dict))
        job.update(epoch=len(frozen), history=frozen)


def _end_from_run(job: SupervisedJob, store: RunStore, output: str) -> dict[str, object]:
    """The job's end state from its run.json; the command's error line when it failed."""
    run_id = job.progress().run_id
    status = None
    if run_id is not None:
        try:
            record = json.loads((store.root / run_id / RUN_FILE).read_text("utf-8"))
            status = record.get("status")
        except (OSError, ValueError, AttributeError):
            status = None
    if status == RunState.COMPLETE:
        return {"state": JobState.DONE, "step_fraction": 0.0}
    if status == RunState.STOPPED or (job.stop_requested and status != RunState.FAILED):
        return {"state": JobState.STOPPED, "step_fraction": 0.0}
    errors = [line[len("error: ") :] for line in output.splitlines() if line.startswith("error: ")]
    last = output.strip().splitlines()[-1:] or ["no output"]
    return {
        "state": JobState.FAILED,
        "error": errors[-1] if errors else f"training failed in torchrun (last output: {last[0]})",
    }
