"""Background jobs (engine.jobs): the worker thread, the snapshot, stop, the one registry, and
tasks (`start_task`), the simplest client. Training's own tests are in test_training_jobs.py,
the shared line's in test_training_queue.py."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from engine import jobs
from engine.errors import DatasetError, EngineError
from engine.states import JobState

WAIT = 10  # seconds any step may take on a busy machine (a bound on hangs, not a timing check)
LIMITS = jobs.Limits(2, "{count} running already", owner_busy="yours runs already")


def _until_stopped(job: jobs.Job) -> dict[str, object]:
    """Work that runs until its job should stop, then says so."""
    while not job.should_stop():
        job.update(state=JobState.RUNNING)
        threading.Event().wait(0.01)
    return {"state": JobState.STOPPED}


def test_a_job_runs_until_asked_to_stop_and_its_snapshots_never_change() -> None:
    job = jobs.start(jobs.Job(name="polling"), _until_stopped, LIMITS)
    assert jobs.get(job.id, jobs.Job) is job and job in jobs.running(jobs.Job)
    first = job.progress()
    job.stop()
    final = job.wait(WAIT)
    assert (final.state, final.finished, final.error) == ("stopped", True, None)
    assert first.state in ("queued", "running") and not first.finished
    assert job not in jobs.running(jobs.Job)


def test_an_untouched_job_counts_as_stopped_and_one_owner_has_one_at_a_time() -> None:
    job = jobs.start(jobs.Job(owner="visitor", abandon_after=0.3), _until_stopped, LIMITS)
    with pytest.raises(EngineError, match="yours runs already"):
        jobs.start(jobs.Job(owner="visitor"), _until_stopped, LIMITS)
    assert job.wait(WAIT).state == "stopped"  # nobody touched it: its tab is gone
    again = jobs.start(jobs.Job(owner="visitor"), lambda job: None, LIMITS)
    assert again.wait(WAIT).state == "done"  # the first ended: allowed again


def test_one_registry_keeps_each_kind_apart() -> None:
    task = jobs.start_task(lambda progress: None)
    assert task.wait(WAIT).state == "done"
    assert jobs.get_task(task.id) is task
    assert task.id.startswith("task-")

    class OtherJob(jobs.Job):
        kind = "other"

    assert jobs.get(task.id, OtherJob) is None  # another kind's id finds nothing


# ---------------------------------------------------------------------------------------------
# Tasks (start_task): progress snapshots, the result, the error


def test_a_task_reports_progress_then_its_result() -> None:
    reached, resume = threading.Event(), threading.Event()

    def count_to(limit: int, progress: Callable[[str, float], None], step: int = 1) -> int:
        progress("halfway", 0.5)
        reached.set()
        resume.wait(10)
        progress("a step back is ignored", 0.25)
        return sum(range(0, limit, step))

    task = jobs.start_task(count_to, 10, step=2, name="Counting")
    assert reached.wait(10)
    snapshot = task.progress()
    assert (snapshot.state, snapshot.message, snapshot.fraction) == ("running", "halfway", 0.5)
    assert snapshot.result is None and not snapshot.finished
    assert jobs.get_task(task.id) is task and task in jobs.running_tasks()
    resume.set()
    done = task.wait(10)
    assert done.state == "done" and done.finished
    assert done.result == 0 + 2 + 4 + 6 + 8
    assert done.fraction == 1.0 and done.error is None and done.name == "Counting"
    assert task not in jobs.running_tasks()
    assert snapshot.state == "running"  # an earlier snapshot never changes


def test_a_task_fails_with_the_engines_message_or_a_pointer_to_the_log(capsys) -> None:
    def refuse(progress: Callable[[str, float], None]) -> None:
        raise DatasetError("put the files in /data")

    def crash(progress: Callable[[str, float], None]) -> None:
        raise ZeroDivisionError("division by zero")

    refused = jobs.start_task(refuse, name="Teaching 'none'").wait(10)
    assert (refused.state, refused.error, refused.result) == (
        "failed",
        "put the files in /data",
        None,
    )
    crashed = jobs.start_task(crash, name="Teaching 'none'").wait(10)
    assert crashed.state == "failed"
    assert "ZeroDivisionError" in crashed.error and "server log" in crashed.error
    assert "ZeroDivisionError" in capsys.readouterr().err  # the traceback, for the log


def test_too_many_running_tasks_are_refused() -> None:
    release = threading.Event()

    def wait(progress: Callable[[str, float], None]) -> None:
        release.wait(10)

    started = [jobs.start_task(wait) for _ in range(jobs.MAX_RUNNING_TASKS)]
    try:
        with pytest.raises(EngineError, match="running already"):
            jobs.start_task(wait)
    finally:
        release.set()
        for task in started:
            task.wait(10)
    assert jobs.get_task("task-unknown") is None and jobs.get_task(None) is None
