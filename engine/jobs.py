"""Background training for the dashboard: one worker thread per job, progress snapshots, stop.

A Streamlit script is rerun on every click and must never block on a long training, so the
engine runs `engine.pipeline.train_run` in a worker thread and the page polls
`TrainingJob.progress()`, an immutable snapshot. Jobs live in a module-level registry keyed
by job id, so a job outlives the script run, a page switch or a rerun that started it; each
job trains into its own run folder, so two browser tabs never share state. Stopping goes
through a callback that raises `StopTraining` at the next batch, the same way the command
line's Ctrl-C does, so a stopped run is still saved.

On a machine with several CUDA GPUs a job can use them all: it then runs
`torchrun -m engine train` as a child process (one process per GPU, engine/distributed.py),
supervised by engine/torchrun_jobs.py from the job's worker thread.

One queue per server holds them all: at most `max_trainings` (engine.hosting; 1 on a 2-core
machine) train at once, each with its share of the CPU cores, and the others wait in order,
with their place in the line in their snapshot, until a slot frees; a waiting job can be
cancelled. Loading an uploaded dataset and the experiments below wait in the same line
(`work_slot`), so nothing heavy runs beside the trainings. Prediction never waits in it. On a
hosted server a job belongs to a visitor (`owner`), who may have one unfinished at a time, and
a job whose pages stopped asking about it (`touch()`) for `abandoned_seconds` is stopped.

Other long work (an experiment that trains two models, say) runs the same way through
`start_task(function, *args)`: a `TaskJob` calls the function in a worker thread with a
`progress(message, fraction)` keyword argument, and keeps the latest message and fraction,
then the result or the error, in an immutable `TaskProgress` snapshot.

This module knows nothing about Streamlit; `dashboard/session.py` keeps the job id per session.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Generic, TypeVar

import torch

from engine import hosting, pipeline, runs
from engine.callbacks import Callback, StopTraining, TrainState
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.device import resolve_device
from engine.errors import EngineError
from engine.states import FINISHED_JOB_STATES, JobState
from engine.torchrun_jobs import train_in_processes

MAX_RUNNING_JOBS = 16  # unfinished trainings kept at once, waiting ones included
MAX_KEPT_JOBS = 64  # finished jobs kept for late pollers; older ones are forgotten
MAX_RUNNING_TASKS = 2  # tasks such as teach_none train models too: a few at most at once


@dataclass(frozen=True)
class JobProgress:
    """What a page shows about a job at one moment; never changes after it is taken."""

    job_id: str
    state: str  # "queued", "running", then "done", "stopped" or "failed"
    epoch: int  # epochs finished so far
    epochs: int
    step_fraction: float  # how far the current epoch is, 0..1
    history: tuple[Mapping[str, float], ...]  # one dict of metrics per finished epoch
    run_id: str | None  # set once the run is saved
    error: str | None  # why a failed job failed, in words a user can act on
    elapsed: float  # seconds since the job started
    device: str | None  # where the tensors live, once training began
    queue_position: int | None = None  # while waiting for a slot: 1 = next to start

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_JOB_STATES

    @property
    def waiting(self) -> bool:
        """Still in the server's queue, waiting for a free training slot."""
        return self.queue_position is not None and not self.finished

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


SnapshotT = TypeVar("SnapshotT", "JobProgress", "TaskProgress")


@dataclass(eq=False, kw_only=True)
class _Worker(Generic[SnapshotT]):
    """What training jobs and tasks share: a worker thread, and the latest immutable snapshot
    of its progress behind a lock (`progress()`, `wait()`)."""

    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)
    _snapshot: SnapshotT | None = field(default=None, repr=False)

    def progress(self) -> SnapshotT:
        """The latest snapshot, with the elapsed time brought up to now while it runs."""
        with self._lock:
            snapshot = self._snapshot
        assert snapshot is not None
        if snapshot.finished:
            return snapshot
        return replace(snapshot, elapsed=time.monotonic() - self._started)

    def wait(self, timeout: float | None = None) -> SnapshotT:
        """Block until the work finished (or `timeout` seconds passed); return its progress."""
        self._finished.wait(timeout)
        return self.progress()


@dataclass(eq=False)
class TrainingJob(_Worker[JobProgress]):
    """A training running (or finished) in its own thread; see `start_training`."""

    id: str
    config: RunConfig
    processes: int = 1  # more than one: torchrun child processes, one per GPU
    owner: str | None = None  # the hosted server's visitor it belongs to (engine.hosting)
    abandon_after: float | None = None  # stop when untouched this many seconds (None: never)
    _stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    _seen: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self._snapshot = JobProgress(
            job_id=self.id,
            state=JobState.QUEUED,
            epoch=0,
            epochs=self.config.train.epochs,
            step_fraction=0.0,
            history=(),
            run_id=None,
            error=None,
            elapsed=0.0,
            device=None,
        )

    def stop(self) -> None:
        """Ask the job to stop after the current batch; the run is saved as "stopped"."""
        self._stop_requested.set()

    @property
    def stop_requested(self) -> bool:
        return self._stop_requested.is_set()

    def touch(self) -> None:
        """A page of its visitor is still open and asked about it: it is not abandoned."""
        self._seen = time.monotonic()

    def should_stop(self) -> bool:
        """Stop requested, or abandoned: nobody asked about it for `abandon_after` seconds
        (its tab was closed), which then counts as a stop."""
        if self.abandon_after is not None and time.monotonic() - self._seen > self.abandon_after:
            self._stop_requested.set()
        return self.stop_requested

    def _update(self, **changes: object) -> None:
        with self._lock:
            assert self._snapshot is not None
            changes.setdefault("elapsed", time.monotonic() - self._started)
            self._snapshot = replace(self._snapshot, **changes)


class _JobCallback(Callback):
    """Copies the trainer's state into the job's snapshot and raises StopTraining on request."""

    def __init__(self, job: TrainingJob) -> None:
        self.job = job

    def _check_stop(self) -> None:
        if self.job.should_stop():
            raise StopTraining("stopped from the dashboard")

    def before_fit(self, state: TrainState) -> None:
        self.job._update(state=JobState.RUNNING, epochs=state.epochs, device=state.device)
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


class _Registry:
    """Live jobs (or tasks) by id, shared by every session of the server: at most
    `max_running` unfinished at once, and the newest MAX_KEPT_JOBS finished ones kept for
    pollers that come back late."""

    _lock = threading.Lock()  # one lock for every registry: adding is rare and quick
    _counter = itertools.count(1)

    def __init__(self, prefix: str, max_running: int, busy: str) -> None:
        self.prefix, self.max_running, self.busy = prefix, max_running, busy
        self._items: dict[str, Any] = {}

    def add(
        self, make: Callable[[str], Any], refuse: Callable[[list[Any]], str | None] | None = None
    ) -> Any:
        """`make(new_id)` and keep it; EngineError (`busy`) when too many are running, or
        with `refuse(unfinished items)`'s message when that says no."""
        with self._lock:
            running = [item for item in self._items.values() if not item.progress().finished]
            if len(running) >= self.max_running:
                raise EngineError(self.busy.format(count=len(running)))
            refusal = refuse(running) if refuse is not None else None
            if refusal:
                raise EngineError(refusal)
            item_id = f"{self.prefix}-{next(self._counter)}-{uuid.uuid4().hex[:8]}"
            self._items[item_id] = item = make(item_id)
            finished = [key for key, value in self._items.items() if value.progress().finished]
            for key in finished[: max(0, len(self._items) - MAX_KEPT_JOBS)]:
                del self._items[key]
        return item

    def get(self, item_id: str | None) -> Any:
        """The item with this id, or None when it is unknown (e.g. after a server restart)."""
        if not item_id:
            return None
        with self._lock:
            return self._items.get(item_id)

    def running(self) -> list[Any]:
        """Items that have not finished yet, oldest first."""
        return [item for item in self.all() if not item.progress().finished]

    def all(self) -> list[Any]:
        """Every item kept, oldest first."""
        with self._lock:
            return list(self._items.values())


class _SlotQueue:
    """The server's line for heavy work: at most `slots` holders at once, the others wait in
    the order they came. Holders are any objects (a job, a task, a token for a data load)."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._waiting: list[object] = []
        self._holders: list[object] = []

    @property
    def slots(self) -> int:
        return hosting.hosting_limits().max_trainings  # read each time: a changed setting applies

    def position(self, holder: object) -> int | None:
        """1 for the next to start, 2 behind it, ...; None when not waiting."""
        with self._condition:
            return self._waiting.index(holder) + 1 if holder in self._waiting else None

    def waiting(self) -> int:
        with self._condition:
            return len(self._waiting)

    @contextmanager
    def slot(
        self,
        holder: object,
        cancelled: Callable[[], bool] = lambda: False,
        on_wait: Callable[[int], None] | None = None,
        poll: float = 0.25,
    ) -> Iterator[bool]:
        """Wait for a slot, then hold it inside the block; yields False (holding nothing) when
        `cancelled()` turned true first. `on_wait(place)` is called while waiting; whatever
        it raises leaves the line and propagates."""
        acquired = False
        with self._condition:
            self._waiting.append(holder)
        try:
            while True:
                with self._condition:
                    place = self._waiting.index(holder)
                    if place < self.slots - len(self._holders):
                        self._waiting.remove(holder)
                        self._holders.append(holder)
                        acquired = True
                        break
                if cancelled():
                    break
                if on_wait is not None:
                    on_wait(place + 1)
                with self._condition:
                    self._condition.wait(poll)
        finally:
            if not acquired:
                with self._condition:
                    if holder in self._waiting:
                        self._waiting.remove(holder)
                    self._condition.notify_all()
        try:
            yield acquired
        finally:
            if acquired:
                with self._condition:
                    self._holders.remove(holder)
                    self._condition.notify_all()


_QUEUE = _SlotQueue()


@contextmanager
def work_slot(on_wait: Callable[[int], None] | None = None) -> Iterator[None]:
    """Hold one of the server's training slots for heavy work done in the caller's thread
    (loading an uploaded dataset), waiting in line with the trainings first. `on_wait(place)`
    is called while waiting; an exception it raises (the visitor left) leaves the line.
    EngineError when the line is full."""
    _check_line_length()
    holder = object()
    with _QUEUE.slot(holder, on_wait=on_wait):
        yield


def _check_line_length() -> None:
    limit = hosting.hosting_limits().max_waiting
    if _QUEUE.waiting() >= limit:
        raise hosting.QuotaError(
            f"{limit} trainings and uploads are waiting for the server already: try again in "
            "a few minutes"
        )


def _threads_for(config: RunConfig) -> RunConfig:
    """The config with its share of the CPU cores, when it would otherwise take them all and
    the queue lets several train at once (on a 2-core machine nothing changes)."""
    threads = hosting.hosting_limits().threads_per_training
    if config.train.cpu_threads or threads == torch.get_num_threads():
        return config
    if resolve_device(config.train.device).type != "cpu":
        return config
    return config.with_changes(cpu_threads=threads)


_JOBS = _Registry(
    "job",
    MAX_RUNNING_JOBS,
    "{count} trainings are running already: wait for one to finish or stop one before "
    "starting another",
)


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
    _check_line_length()

    def one_per_owner(unfinished: list[TrainingJob]) -> str | None:
        if owner is not None and any(job.owner == owner for job in unfinished):
            return (
                "you have a training queued or running already: stop it on the Train page, "
                "or wait for it to end, before starting another"
            )
        return None

    job = _JOBS.add(
        lambda job_id: TrainingJob(
            id=job_id,
            config=config,
            processes=processes,
            owner=owner,
            abandon_after=abandon_after,
        ),
        refuse=one_per_owner,
    )
    work, arguments = (_work, (job, store, split))
    if processes > 1:
        work, arguments = (_work_in_processes, (job, store))
    thread = threading.Thread(target=work, args=arguments, name=f"lme-{job.id}", daemon=True)
    job._thread = thread
    thread.start()
    return job


@contextmanager
def _queued(job: TrainingJob) -> Iterator[bool]:
    """Wait in the server's queue with the job's place in its snapshot; False: cancelled."""
    with _QUEUE.slot(
        job,
        cancelled=job.should_stop,
        on_wait=lambda place: job._update(queue_position=place),
    ) as acquired:
        job._update(queue_position=None)
        yield acquired


def _work(job: TrainingJob, store: runs.RunStore, split: DatasetSplit | None) -> None:
    """The worker thread: wait for a slot, train, save, and record how it ended. Never lets an
    error escape."""
    try:
        with _queued(job) as acquired:
            if not acquired:
                job._update(state=JobState.STOPPED)
                return
            run_id = pipeline.train_run(
                _threads_for(job.config),
                store,
                callbacks=[_JobCallback(job)],
                split=split,
                on_created=lambda created: job._update(run_id=created),
                owner=job.owner,
            )
        finished_all = job.progress().epoch >= job.config.train.epochs
        ended = JobState.STOPPED if job.stop_requested and not finished_all else JobState.DONE
        job._update(state=ended, run_id=run_id, step_fraction=0.0)
    except EngineError as error:
        job._update(state=JobState.FAILED, error=str(error))
    except StopTraining:  # stopped before fit() was there to catch it (e.g. while loading)
        job._update(state=JobState.STOPPED)
    except Exception as error:  # a bug: keep the worker alive, keep the details for the log
        traceback.print_exc()
        job._update(
            state=JobState.FAILED,
            error=f"training failed unexpectedly ({type(error).__name__}: {error}); "
            "see the server log for details",
        )
    finally:
        _release_free_memory()
        job._finished.set()


def _work_in_processes(job: TrainingJob, store: runs.RunStore) -> None:
    """The worker thread of a job in torchrun processes: start them, copy the run folder's
    metrics into the job's snapshot, pass a stop on as SIGTERM, read how the run ended."""
    try:
        resolve_device(job.config.train.device)  # a device this machine lacks fails here
        with _queued(job) as acquired:
            if acquired:
                train_in_processes(job, store)
            else:
                job._update(state=JobState.STOPPED)
    except EngineError as error:
        job._update(state=JobState.FAILED, error=str(error))
    except Exception as error:  # a bug or an unusable machine: keep the details for the log
        traceback.print_exc()
        job._update(state=JobState.FAILED, error=f"training could not start ({error})")
    finally:
        job._finished.set()


def _release_free_memory() -> None:
    """Hand the memory training freed back to the system (glibc keeps it otherwise), so a
    hosted demo with 1 GB stays under its limit after several trainings."""
    with suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


def get_job(job_id: str | None) -> TrainingJob | None:
    """The job with this id, or None when it is unknown (e.g. after a server restart)."""
    return _JOBS.get(job_id)


def running_jobs() -> list[TrainingJob]:
    """Jobs that have not finished yet, oldest first."""
    return _JOBS.running()


def jobs_of(owner: str) -> list[TrainingJob]:
    """A visitor's jobs the server still keeps, newest first (a reloaded page finds its job
    here)."""
    return [job for job in reversed(_JOBS.all()) if job.owner == owner]


# ---------------------------------------------------------------------------------------------
# Generic background tasks: any function that reports progress(message, fraction)


@dataclass(frozen=True)
class TaskProgress:
    """A task at one moment: its last message and fraction, then its result or error."""

    task_id: str
    name: str  # what the task is, for a progress line ("Teaching 'none'")
    state: str  # "queued", "running", then "done" or "failed"
    message: str  # the function's last progress message
    fraction: float  # 0..1, from the function's last progress call (1.0 once done)
    result: Any  # the function's return value once done, else None
    error: str | None  # why a failed task failed, in words a user can act on
    elapsed: float  # seconds since the task started

    @property
    def finished(self) -> bool:
        return self.state in (JobState.DONE, JobState.FAILED)


@dataclass(eq=False)
class TaskJob(_Worker[TaskProgress]):
    """A function running (or finished) in its own worker thread; see `start_task`."""

    id: str
    name: str

    def __post_init__(self) -> None:
        self._snapshot = TaskProgress(
            self.id, self.name, JobState.QUEUED, "Waiting to start", 0.0, None, None, 0.0
        )

    def report(self, message: str, fraction: float) -> None:
        """The `progress` callback the function is given: keeps its latest message and fraction
        (clamped to 0..1, never going back, so a bar does not jump backwards)."""
        with self._lock:
            assert self._snapshot is not None
            if self._snapshot.finished:
                return
            fraction = min(1.0, max(self._snapshot.fraction, float(fraction)))
            self._snapshot = replace(
                self._snapshot, state=JobState.RUNNING, message=str(message), fraction=fraction
            )

    def report_waiting(self, place: int) -> None:
        """While it waits in the server's queue: its place in the line, as its message."""
        with self._lock:
            assert self._snapshot is not None
            ahead = "next to start" if place == 1 else f"{place - 1} ahead of it"
            self._snapshot = replace(self._snapshot, message=f"Waiting for a free slot ({ahead})")

    def _end(self, **changes: object) -> None:
        with self._lock:
            assert self._snapshot is not None
            changes["elapsed"] = time.monotonic() - self._started
            self._snapshot = replace(self._snapshot, **changes)
        self._finished.set()


_TASKS = _Registry(
    "task",
    MAX_RUNNING_TASKS,
    "{count} experiments are running already: wait for one to finish before starting another",
)


def start_task(
    function: Callable[..., Any], *args: Any, name: str = "task", **kwargs: Any
) -> TaskJob:
    """Run `function(*args, progress=..., **kwargs)` in a new worker thread; return its task.

    The function must take a `progress(message, fraction)` keyword argument (fraction 0..1).
    An EngineError it raises fails the task with its message; any other error too, with a
    pointer to the server log. Raises EngineError when MAX_RUNNING_TASKS are running already.
    """
    task = _TASKS.add(lambda task_id: TaskJob(id=task_id, name=name))
    thread = threading.Thread(
        target=_run_task,
        args=(task, function, args, kwargs),
        name=f"lme-{task.id}",
        daemon=True,
    )
    task._thread = thread
    thread.start()
    return task


def _run_task(
    task: TaskJob, function: Callable[..., Any], args: tuple, kwargs: dict[str, Any]
) -> None:
    """The worker thread of a task: call the function, keep its result or error."""
    try:
        with _QUEUE.slot(task, on_wait=task.report_waiting):
            task.report("Starting", 0.0)
            result = function(*args, progress=task.report, **kwargs)
        task._end(state=JobState.DONE, fraction=1.0, result=result)
    except EngineError as error:
        task._end(state=JobState.FAILED, error=str(error))
    except Exception as error:  # a bug: keep the worker alive, keep the details for the log
        traceback.print_exc()
        task._end(
            state=JobState.FAILED,
            error=f"{task.name} failed unexpectedly ({type(error).__name__}: {error}); "
            "see the server log for details",
        )
    finally:
        _release_free_memory()
        task._finished.set()


def get_task(task_id: str | None) -> TaskJob | None:
    """The task with this id, or None when it is unknown (e.g. after a server restart)."""
    return _TASKS.get(task_id)


def running_tasks() -> list[TaskJob]:
    """Tasks that have not finished yet, oldest first."""
    return _TASKS.running()
