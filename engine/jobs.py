"""Background jobs for the dashboard: long work in a worker thread, polled through snapshots.

A Streamlit script is rerun on every click and must never block on a long piece of work, so
the work runs in a worker thread as a `Job` and the page polls `Job.progress()`, an immutable
snapshot (`JobSnapshot`, or a richer subclass of it). Every job:

- waits for a slot in the server's one line (engine.work_queue) with its place in its snapshot,
  and can be cancelled while it waits;
- can be asked to stop (`stop()`); the work polls `should_stop()`. A job with `abandon_after`
  also counts as stopped once nobody `touch()`ed it for that many seconds (its tab was closed);
- ends `done`, `stopped` or `failed` (engine.states.JobState); an EngineError fails it with its
  message, any other error with a pointer to the server log, where its traceback goes;
- lives in one module-level registry keyed by id, so it outlives the script run, a page switch
  or a rerun that started it. Each kind has its own limit of unfinished jobs, and an `owner` (a
  hosted server's visitor) may have one unfinished job of each kind.

Training is the main client (engine.training_jobs). `start_task(function, *args)` is the
simplest one: any function that takes a `progress(message, fraction)` keyword argument (an
experiment that trains two models, say), its result kept in a `TaskProgress`.

This module knows nothing about Streamlit or torch; `dashboard/session.py` keeps job ids per tab.
"""

from __future__ import annotations

import ctypes
import itertools
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Generic, TypeVar

from engine import work_queue
from engine.errors import EngineError
from engine.states import FINISHED_JOB_STATES, JobState

MAX_KEPT_JOBS = 64  # finished jobs kept for late pollers; older ones are forgotten
MAX_RUNNING_TASKS = 2  # tasks such as teach_none train models too: a few at most at once


@dataclass(frozen=True, kw_only=True)
class JobSnapshot:
    """What a page sees of a job at one moment; never changes after it is taken."""

    id: str
    state: JobState = JobState.QUEUED
    queue_position: int | None = None  # while waiting for a slot: 1 = next to start
    error: str | None = None  # why a failed job failed, in words a user can act on
    elapsed: float = 0.0  # seconds since the job was started

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_JOB_STATES

    @property
    def waiting(self) -> bool:
        """Still in the server's line, waiting for a free slot."""
        return self.queue_position is not None and not self.finished


SnapshotT = TypeVar("SnapshotT", bound=JobSnapshot)
_COUNTER = itertools.count(1)


@dataclass(eq=False, kw_only=True)
class Job(Generic[SnapshotT]):
    """Work running (or finished) in its own worker thread; see `start`. A client subclasses
    it for its own snapshot type and fields, and gives it a `kind` (the prefix of its ids)."""

    kind: ClassVar[str] = "job"
    name: str = "job"  # what it is, for an error line ("training failed unexpectedly ...")
    owner: str | None = None  # the hosted server's visitor it belongs to (engine.hosting)
    abandon_after: float | None = None  # stop when untouched this many seconds (None: never)
    id: str = field(init=False)
    _snapshot: SnapshotT = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _finished: threading.Event = field(default_factory=threading.Event, repr=False)
    _stop_requested: threading.Event = field(default_factory=threading.Event, repr=False)
    _started: float = field(default_factory=time.monotonic, repr=False)
    _seen: float = field(default_factory=time.monotonic, repr=False)

    def __post_init__(self) -> None:
        self.id = f"{self.kind}-{next(_COUNTER)}-{uuid.uuid4().hex[:8]}"
        self._snapshot = self.first_snapshot()

    def first_snapshot(self) -> SnapshotT:
        """The snapshot of a job that has not started yet; a client returns its own type."""
        return JobSnapshot(id=self.id)  # type: ignore[return-value]

    def progress(self) -> SnapshotT:
        """The latest snapshot, with the elapsed time brought up to now while it runs."""
        with self._lock:
            snapshot = self._snapshot
        if snapshot.finished:
            return snapshot
        return replace(snapshot, elapsed=time.monotonic() - self._started)

    def wait(self, timeout: float | None = None) -> SnapshotT:
        """Block until the job finished (or `timeout` seconds passed); return its progress."""
        self._finished.wait(timeout)
        return self.progress()

    def update(self, **changes: object) -> None:
        """Replace these fields of the snapshot (the work reports through this)."""
        with self._lock:
            changes.setdefault("elapsed", time.monotonic() - self._started)
            self._snapshot = replace(self._snapshot, **changes)

    def wait_in_line(self, place: int) -> None:
        """Called while the job waits for a slot: its place in the line, in its snapshot."""
        self.update(queue_position=place)

    def stop(self) -> None:
        """Ask the job to stop: it leaves the line if it waits, else the work stops when it
        next asks `should_stop()`."""
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


JobT = TypeVar("JobT", bound=Job)
Work = Callable[[JobT], Mapping[str, object] | None]


@dataclass(frozen=True)
class Limits:
    """How many unfinished jobs of one kind the server takes, and what a refusal says."""

    max_running: int
    busy: str  # too many running; may use {count}
    owner_busy: str = "you have one running already: wait for it to end"  # one per visitor


class _Registry:
    """Every job the server keeps, by id, shared by every session: the unfinished ones and the
    newest MAX_KEPT_JOBS finished ones, for pollers that come back late."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job, limits: Limits) -> None:
        """Keep `job`; EngineError when its kind has `max_running` unfinished already or its
        owner has one unfinished of this kind."""
        with self._lock:
            running = [
                other
                for other in self._jobs.values()
                if other.kind == job.kind and not other.progress().finished
            ]
            if len(running) >= limits.max_running:
                raise EngineError(limits.busy.format(count=len(running)))
            if job.owner is not None and any(other.owner == job.owner for other in running):
                raise EngineError(limits.owner_busy)
            self._jobs[job.id] = job
            finished = [key for key, other in self._jobs.items() if other.progress().finished]
            for key in finished[: max(0, len(self._jobs) - MAX_KEPT_JOBS)]:
                del self._jobs[key]

    def get(self, job_id: str | None, kind: type[JobT]) -> JobT | None:
        """The job of this class with this id, or None (unknown, e.g. after a restart)."""
        with self._lock:
            job = self._jobs.get(job_id) if job_id else None
        return job if isinstance(job, kind) else None

    def of_kind(self, kind: type[JobT]) -> list[JobT]:
        """Every kept job of this class, oldest first."""
        with self._lock:
            return [job for job in self._jobs.values() if isinstance(job, kind)]


_REGISTRY = _Registry()


def start(job: JobT, work: Work, limits: Limits) -> JobT:
    """Register `job` and run `work(job)` in a new worker thread once a slot is free.

    `work` reports through `job.update(...)` and polls `job.should_stop()`; it returns the
    snapshot changes of its end (the state `done` unless they say otherwise). Raises EngineError
    when `limits` refuse the job.
    """
    _REGISTRY.add(job, limits)
    thread = threading.Thread(target=_run, args=(job, work), name=f"lme-{job.id}", daemon=True)
    thread.start()
    return job


def get(job_id: str | None, kind: type[JobT]) -> JobT | None:
    """The job of class `kind` with this id, or None when it is unknown."""
    return _REGISTRY.get(job_id, kind)


def kept(kind: type[JobT]) -> list[JobT]:
    """Every job of class `kind` the server still keeps, oldest first."""
    return _REGISTRY.of_kind(kind)


def running(kind: type[JobT]) -> list[JobT]:
    """The jobs of class `kind` that have not finished yet, oldest first."""
    return [job for job in kept(kind) if not job.progress().finished]


def _run(job: Job, work: Work) -> None:
    """The worker thread: wait for a slot, do the work, record how it ended. Never lets an
    error escape."""
    try:
        with work_queue.QUEUE.slot(
            job, cancelled=job.should_stop, on_wait=job.wait_in_line
        ) as acquired:
            job.update(queue_position=None)
            ending = dict(work(job) or {}) if acquired else {"state": JobState.STOPPED}
        job.update(**{"state": JobState.DONE, **ending})
    except EngineError as error:
        job.update(state=JobState.FAILED, error=str(error))
    except Exception as error:  # a bug: keep the worker alive, keep the details for the log
        traceback.print_exc()
        job.update(
            state=JobState.FAILED,
            error=f"{job.name} failed unexpectedly ({type(error).__name__}: {error}); "
            "see the server log for details",
        )
    finally:
        _release_free_memory()
        job._finished.set()


def _release_free_memory() -> None:
    """Hand the memory the work freed back to the system (glibc keeps it otherwise), so a
    hosted demo with 1 GB stays under its limit after several trainings."""
    with suppress(OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to do
        ctypes.CDLL("libc.so.6").malloc_trim(0)


# ---------------------------------------------------------------------------------------------
# Tasks: any function that reports progress(message, fraction), run as a job


@dataclass(frozen=True, kw_only=True)
class TaskProgress(JobSnapshot):
    """A task at one moment: its last message and fraction, then its result or error."""

    name: str  # what the task is, for a progress line ("Teaching 'none'")
    message: str = "Waiting to start"  # the function's last progress message
    fraction: float = 0.0  # 0..1, from the function's last progress call (1.0 once done)
    result: Any = None  # the function's return value once done


@dataclass(eq=False, kw_only=True)
class TaskJob(Job[TaskProgress]):
    """A function running (or finished) as a job; see `start_task`."""

    kind: ClassVar[str] = "task"

    def first_snapshot(self) -> TaskProgress:
        return TaskProgress(id=self.id, name=self.name)

    def report(self, message: str, fraction: float) -> None:
        """The `progress` callback the function is given: keeps its latest message and fraction
        (clamped to 0..1, never going back, so a bar does not jump backwards)."""
        with self._lock:
            if self._snapshot.finished:
                return
            fraction = min(1.0, max(self._snapshot.fraction, float(fraction)))
            self._snapshot = replace(
                self._snapshot, state=JobState.RUNNING, message=str(message), fraction=fraction
            )

    def wait_in_line(self, place: int) -> None:
        """Its place in the line, as its message too (the page shows the message)."""
        ahead = "next to start" if place == 1 else f"{place - 1} ahead of it"
        self.update(queue_position=place, message=f"Waiting for a free slot ({ahead})")


TASK_LIMITS = Limits(
    MAX_RUNNING_TASKS,
    "{count} experiments are running already: wait for one to finish before starting another",
)


def start_task(
    function: Callable[..., Any], *args: Any, name: str = "task", **kwargs: Any
) -> TaskJob:
    """Run `function(*args, progress=..., **kwargs)` as a job; return the job.

    The function must take a `progress(message, fraction)` keyword argument (fraction 0..1).
    An EngineError it raises fails the task with its message; any other error too, with a
    pointer to the server log. Raises EngineError when MAX_RUNNING_TASKS are running already.
    The function is never asked to stop: `stop()` cancels a task only while it waits.
    """

    def work(task: TaskJob) -> Mapping[str, object]:
        task.report("Starting", 0.0)
        return {"fraction": 1.0, "result": function(*args, progress=task.report, **kwargs)}

    return start(TaskJob(name=name), work, TASK_LIMITS)


def get_task(task_id: str | None) -> TaskJob | None:
    """The task with this id, or None when it is unknown (e.g. after a server restart)."""
    return get(task_id, TaskJob)


def running_tasks() -> list[TaskJob]:
    """Tasks that have not finished yet, oldest first."""
    return running(TaskJob)
