"""The state vocabularies of runs and jobs, importable without torch. Each member is the plain
string written on disk (run.json's `status`) and shown to scripts (`runs --json`, a job's
snapshot), and compares equal to it.
"""

from __future__ import annotations

from enum import StrEnum


class RunState(StrEnum):
    """Where a run is: run.json's `status` (the first four, written as these strings), or what
    the listing found (`RunSummary.state`)."""

    RUNNING = "running"  # training, or its process was killed (then listed INTERRUPTED)
    COMPLETE = "complete"
    STOPPED = "stopped"  # stopped early: the weights so far are saved
    FAILED = "failed"
    INTERRUPTED = "interrupted"  # listed only: "running" on disk, its process gone
    DAMAGED = "damaged"  # listed only: run.json unreadable or its files do not fit it
    UNKNOWN = "unknown"


class RunHealth(StrEnum):
    """A run as the listing judges it (`RunSummary.status`, the `status` of `runs --json`):
    only a complete run can be loaded; `RunSummary.state` and `problem` say why it is not."""

    COMPLETE = "complete"
    INCOMPLETE = "incomplete"  # still training, stopped, failed, interrupted or missing a file
    DAMAGED = "damaged"  # its files are unreadable or do not fit its run.json


class JobState(StrEnum):
    """A background job's state (engine.jobs): queued, running, then one of the three ends."""

    QUEUED = "queued"  # waiting in the server's line
    RUNNING = "running"
    DONE = "done"
    STOPPED = "stopped"  # a training stopped on request (its run is saved as stopped)
    FAILED = "failed"


FINISHED_JOB_STATES = (JobState.DONE, JobState.STOPPED, JobState.FAILED)
