"""Background training for the dashboard: a training as a job (engine.jobs), with its epochs,
metrics and run in its progress snapshot.

The job runs `engine.pipeline.train_run` in its worker thread once the server's line (engine.
work_queue) gives it a slot, with its share of the CPU cores; a callback copies the trainer's
state into the job's `JobProgress` and raises `StopTraining` at the next batch once the job
should stop (asked to, or its tab closed), the same way the command line's Ctrl-C does, so a
stopped run is still saved. Each job trains into its own run folder, so two browser tabs never
share state; a visitor (`owner`) has one unfinished training at a time.

On a machine with several CUDA GPUs a job can use them all: it then runs
`torchrun -m engine train` as child processes (one per GPU, engine/distributed.py), supervised
from the job's worker thread by engine/torchrun_jobs.py.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import ClassVar

import torch

from engine import hosting, jobs, pipeline, runs, work_queue
from engine.callbacks import Callback, StopTraining, TrainState
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.device import resolve_device
from engine.errors import EngineError
from engine.states import JobState
from engine.torchrun_jobs import train_in_processes

MAX_RUNNING_JOBS = 16  # unfinished trainings kept at once, waiting ones included

LIMITS = jobs.Limits(
    MAX_RUNNING_JOBS,
    "{count} trainings are running already: wait for one to finish or stop one before "
    "starting another",
    owner_busy="you have a training queued or running already: stop it on the Train page, "
    "or wait for it to end, before starting another",
)


@dataclass(frozen=True, kw_only=True)
class JobProgress(jobs.JobSnapshot):
    """A training at one moment: epochs, the current epoch's progress, metrics, its run."""

    epoch: int = 0  # epochs finished so far
    epochs: int
    step_fraction: float = 0.0  # how far the current epoch is, 0..1
    history: tuple[Mapping[str, float], ...] = ()  # one dict of metrics per finished epoch
    run_id: str | None = None  # set once the run is saved
    device: str | None = None  # where the tensors live, once training began

    @property
    def fraction(self) -> float:
        """Overall progress 0..1, for a progress bar."""
        if self.state == JobState.DONE:
            return 1.0
        if self.epochs < 1:
            return 0.0
        return min(1.0, (self.epoch + self.step_fraction) / self.epochs)

    @property
    def last_metrics(self) -> Mapping[str, float]:
        return self.history[-1] if self.history else MappingProxyType({})


@dataclass(eq=False, kw_only=True)
class TrainingJob(jobs.Job[JobProgress]):
    """A training running (or finished) in its own thread; see `start_training`."""

    kind: ClassVar[str] = "training"
    config: RunConfig
    processes: int = 1  # more than one: torchrun child processes, one per GPU
    name: str = "training"

    def first_snapshot(self) -> JobProgress:
        return JobProgress(id=self.id, epochs=self.config.train.epochs)


class _JobCallback(Callback):
    """Copies the trainer's state into the job's snapshot and raises StopTraining on request."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job

    def _check_stop(self) -> None:
        if self.job.should_stop():
            raise StopTraining("stopped from the dashboard")

    def before_fit(self, state: TrainState) -> None:
        self.job.update(state=JobState.RUNNING, epochs=state.epochs, device=state.device)
        self._check_stop()

    def before_epoch(self, state: TrainState) -> None:
        self.job.update(step_fraction=0.0)
        self._check_stop()

    def after_batch(self, state: TrainState) -> None:
        steps = max(1, state.steps_per_epoch)
        self.job.update(step_fraction=min(1.0, state.step / steps))
        self._check_stop()

    def after_epoch(self, state: TrainState) -> None:
        history = tuple(MappingProxyType(dict(metrics)) for metrics in state.history)
        self.job.update(epoch=len(history), step_fraction=0.0, history=history)
        self._check_stop()


def default_processes(config: RunConfig) -> int:
    """How many processes a job uses by default: one per CUDA GPU when it trains on CUDA on
    a machine with several, else 1 (a thread of this process)."""
    if config.train.device not in ("auto", "cuda") or not torch.cuda.is_available():
        return 1
    return max(torch.cuda.device_count(), 1)


def start_training(
    config: RunConfig,
    store: runs.RunStore,
    split: DatasetSplit | None = None,
    processes: int | None = None,
    owner: str | None = None,
    abandon_after: float | None = None,
) -> TrainingJob:
    """Start training `config` into `store` in a new worker thread and return its job.

    `split` lets a caller reuse data it already loaded (the dashboard's cache); without it the
    worker loads the data itself. `processes` > 1 trains with torchrun in that many child
    processes (default: `default_processes`), which load the data themselves. The job waits
    in the server's queue until a slot is free. `owner` (a hosted server's visitor) may have
    one unfinished job at a time; with `abandon_after` the job stops once nobody `touch()`ed it
    for that many seconds. Raises EngineError when too many jobs are running or waiting.
    """
    processes = default_processes(config) if processes is None else processes
    if processes < 1:
        raise EngineError("a training needs at least one process")
    work_queue.check_line_length()
    job = TrainingJob(config=config, processes=processes, owner=owner, abandon_after=abandon_after)
    if processes > 1:
        return jobs.start(job, lambda job: _train_in_processes(job, store), LIMITS)
    return jobs.start(job, lambda job: _train(job, store, split), LIMITS)


def _train(
    job: TrainingJob, store: runs.RunStore, split: DatasetSplit | None
) -> Mapping[str, object]:
    """The work of a job in this process: train and save; the end it reached."""
    try:
        run_id = pipeline.train_run(
            _threads_for(job.config),
            store,
            callbacks=[_JobCallback(job)],
            split=split,
            on_created=lambda created: job.update(run_id=created),
            owner=job.owner,
        )
    except StopTraining:  # stopped before fit() was there to catch it (e.g. while loading)
        return {"state": JobState.STOPPED}
    finished_all = job.progress().epoch >= job.config.train.epochs
    ended = JobState.STOPPED if job.stop_requested and not finished_all else JobState.DONE
    return {"state": ended, "run_id": run_id, "step_fraction": 0.0}


def _train_in_processes(job: TrainingJob, store: runs.RunStore) -> Mapping[str, object]:
    """The work of a job in torchrun processes (engine.torchrun_jobs); what cannot even start
    them (no torchrun, say) fails the job with its reason."""
    try:
        resolve_device(job.config.train.device)  # a device this machine lacks fails here
        return train_in_processes(job, store)
    except EngineError:
        raise
    except Exception as error:  # an unusable machine: the details for the log
        traceback.print_exc()
        raise EngineError(f"training could not start ({error})") from error


def _threads_for(config: RunConfig) -> RunConfig:
    """The config with its share of the CPU cores, when it would otherwise take them all and
    the queue lets several train at once (on a 2-core machine nothing changes)."""
    threads = hosting.hosting_limits().threads_per_training
    if config.train.cpu_threads or threads == torch.get_num_threads():
        return config
    if resolve_device(config.train.device).type != "cpu":
        return config
    return config.with_changes(cpu_threads=threads)


def get_job(job_id: str | None) -> TrainingJob | None:
    """The training with this id, or None when it is unknown (e.g. after a server restart)."""
    return jobs.get(job_id, TrainingJob)


def running_jobs() -> list[TrainingJob]:
    """Trainings that have not finished yet, oldest first."""
    return jobs.running(TrainingJob)


def jobs_of(owner: str) -> list[TrainingJob]:
    """A visitor's trainings the server still keeps, newest first (a reloaded page finds its
    job here)."""
    return [job for job in reversed(jobs.kept(TrainingJob)) if job.owner == owner]
