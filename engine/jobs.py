"""Background training for the dashboard: one worker thread per job, progress snapshots, stop.

A Streamlit script is rerun on every click and must never block on a long training, so the
engine runs `engine.runs.train_run` in a worker thread and the page polls
`TrainingJob.progress()`, an immutable snapshot. Jobs live in a module-level registry keyed
by job id, so a job outlives the script run, a page switch or a rerun that started it; each
job trains into its own run folder, so two browser tabs never share state. Stopping goes
through a callback that raises `StopTraining` at the next batch, the same way the command
line's Ctrl-C does, so a stopped run is still saved.

This module knows nothing about Streamlit; `dashboard/state.py` keeps the job id per session.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
import traceback
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from engine import runs
from engine.callbacks import Callback, StopTraining, TrainState
from engine.config import RunConfig
from engine.data import DatasetSplit
from engine.errors import EngineError

JOB_STATES = ("queued", "running", "done", "stopped", "failed")
FINISHED_STATES = ("done", "stopped", "failed")
MAX_RUNNING_JOBS = 4  # every job gets the same CPU cores; more would only slow each one down
MAX_KEPT_JOBS = 64  # finished jobs kept for late pollers; older ones are forgotten


@dataclass(frozen=True)
class JobProgress:
    """What a page shows about a job at one moment; never changes after it is taken."""

    job_id: str
    state: str  # one of JOB_STATES
    epoch: int  # epochs finished so far
    epochs: int
    step_fraction: float  # how far the current epoch is, 0..1
    history: tuple[Mapping[str, float], ...]  # one dict of metrics per finished epoch
    run_id: str | None  # set once the run is saved
    error: str | None  # why a failed job failed, in words a user can act on
    elapsed: float  # seconds since the job started
    device: str | None  # where the tensors live, once training began

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def fraction(self) -> float:
        """Overall progress 0..1, for a progress bar."""
        if self.state == "done":
            return 1.0
        if self.epochs < 1:
            return 0.0
        return min(1.0, (self.epoch + self.step_fraction) / self.epochs)

    @property
    def last_metrics(self) -> Mapping[str, float]:
        return self.history[-1] if self.history else MappingProxyType({})


@dataclass(eq=False)
class TrainingJob:
    """A training running (or finished) in its own thread; see `start_training`."""

    id: str
    config: RunConfig
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)
    _snapshot: JobProgress | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self._snapshot = JobProgress(
            job_id=self.id,
            state="queued",
            epoch=0,
            epochs=self.config.train.epochs,
            step_fraction=0.0,
            history=(),
            run_id=None,
            error=None,
            elapsed=0.0,
            device=None,
        )

    def progress(self) -> JobProgress:
        """The latest snapshot, with the elapsed time brought up to now while it runs."""
        with self._lock:
            snapshot = self._snapshot
        assert snapshot is not None
        if snapshot.finished:
            return snapshot
        return _replace(snapshot, elapsed=time.monotonic() - self._started)

    def stop(self) -> None:
        """Ask the job to stop after the current batch; the run is saved as "stopped"."""
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def wait(self, timeout: float | None = None) -> JobProgress:
        """Block until the job finished (or `timeout` seconds passed); return its progress."""
        self._finished.wait(timeout)
        return self.progress()

    def _update(self, **changes: object) -> None:
        with self._lock:
            assert self._snapshot is not None
            changes.setdefault("elapsed", time.monotonic() - self._started)
            self._snapshot = _replace(self._snapshot, **changes)


def _replace(snapshot: JobProgress, **changes: object) -> JobProgress:
    values = {name: getattr(snapshot, name) for name in JobProgress.__dataclass_fields__}
    values.update(changes)
    return JobProgress(**values)  # type: ignore[arg-type]


class _JobCallback(Callback):
    """Copies the trainer's state into the job's snapshot and raises StopTraining on request."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job

    def _check_stop(self) -> None:
        if self.job.stop_requested:
            raise StopTraining("stopped from the dashboard")

    def before_fit(self, state: TrainState) -> None:
        self.job._update(state="running", epochs=state.epochs, device=state.device)
        self._check_stop()

    def before_epoch(self, state: TrainState) -> None:
        self.job._update(step_fraction=0.0)
        self._check_stop()

    def after_batch(self, state: TrainState) -> None:
        steps = max(1, state.steps_per_epoch)
        self.job._update(step_fraction=min(1.0, state.step / steps))
        self._check_stop()

    def after_epoch(self, state: TrainState) -> None:
        history = tuple(MappingProxyType(dict(metrics)) for metrics in state.history)
        self.job._update(epoch=len(history), step_fraction=0.0, history=history)
        self._check_stop()


_REGISTRY: dict[str, TrainingJob] = {}
_REGISTRY_LOCK = threading.Lock()
_COUNTER = itertools.count(1)


def start_training(
    config: RunConfig,
    store: runs.RunStore,
    split: DatasetSplit | None = None,
) -> TrainingJob:
    """Start training `config` into `store` in a new worker thread and return its job.

    `split` lets a caller reuse data it already loaded (the dashboard's cache); without it the
    worker loads the data itself. Raises EngineError when too many jobs are running already.
    """
    with _REGISTRY_LOCK:
        running = [job for job in _REGISTRY.values() if not job.progress().finished]
        if len(running) >= MAX_RUNNING_JOBS:
            raise EngineError(
                f"{len(running)} trainings are running already: wait for one to finish or "
                "stop one before starting another"
            )
        job_id = f"job-{next(_COUNTER)}-{uuid.uuid4().hex[:8]}"
        job = TrainingJob(id=job_id, config=config)
        _REGISTRY[job_id] = job
        _forget_old_jobs()
    thread = threading.Thread(
        target=_work, args=(job, store, split), name=f"lme-{job_id}", daemon=True
    )
    job._thread = thread
    thread.start()
    return job


def _work(job: TrainingJob, store: runs.RunStore, split: DatasetSplit | None) -> None:
    """The worker thread: train, save, and record how it ended. Never lets an error escape."""
    try:
        run_id = runs.train_run(
            job.config,
            store,
            callbacks=[_JobCallback(job)],
            split=split,
            on_created=lambda created: job._update(run_id=created),
        )
        finished_all = job.progress().epoch >= job.config.train.epochs
        ended = "stopped" if job.stop_requested and not finished_all else "done"
        job._update(state=ended, run_id=run_id, step_fraction=0.0)
    except EngineError as error:
        job._update(state="failed", error=str(error))
    except StopTraining:  # stopped before fit() was there to catch it (e.g. while loading)
        job._update(state="stopped")
    except Exception as error:  # a bug: keep the worker alive, keep the details for the log
        traceback.print_exc()
        job._update(
            state="failed",
            error=f"training failed unexpectedly ({type(error).__name__}: {error}); "
            "see the server log for details",
        )
    finally:
        _release_free_memory()
        job._finished.set()


def _release_free_memory() -> None:
    """Hand the memory training freed back to the system (glibc keeps it otherwise), so a
    hosted demo with 1 GB stays under its limit after several trainings."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        pass


def get_job(job_id: str | None) -> TrainingJob | None:
    """The job with this id, or None when it is unknown (e.g. after a server restart)."""
    if not job_id:
        return None
    with _REGISTRY_LOCK:
        return _REGISTRY.get(job_id)


def running_jobs() -> list[TrainingJob]:
    """Jobs that have not finished yet, oldest first."""
    with _REGISTRY_LOCK:
        jobs = list(_REGISTRY.values())
    return [job for job in jobs if not job.progress().finished]


def _forget_old_jobs() -> None:
    """Drop the oldest finished jobs beyond MAX_KEPT_JOBS (caller holds the registry lock)."""
    finished = [job_id for job_id, job in _REGISTRY.items() if job.progress().finished]
    for job_id in finished[: max(0, len(_REGISTRY) - MAX_KEPT_JOBS)]:
        del _REGISTRY[job_id]
