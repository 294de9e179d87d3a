"""Background trainings (engine.training_jobs): progress snapshots, stop, failures, isolation
between training_jobs.

Most tests replace engine.pipeline.train_run with a scripted fake that fires the callback events
one at a time, so every state the dashboard can see is checked without timing races; one test
trains for real on a tiny synthetic dataset.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import pytest
import torch

from engine import pipeline, runs, training_jobs
from engine.callbacks import StopTraining, TrainState
from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.errors import DatasetError, EngineError

TINY = RunConfig(
    data=DataConfig(dataset="tiny"),
    model=ModelConfig(name="mlp"),
    train=TrainConfig(epochs=2, batch_size=16, device="cpu", mixed_precision=False),
)


class ScriptedTraining:
    """A stand-in for train_run: two epochs of two batches, pausing where the test says."""

    def __init__(self, pause_after_batches: int | None = None, error: Exception | None = None):
        self.pause_after_batches = pause_after_batches
        self.error = error
        self.paused = threading.Event()
        self.resume = threading.Event()
        self.stopped_at: int | None = None

    def __call__(
        self,
        config: RunConfig,
        store: runs.RunStore,
        callbacks: Sequence = (),
        split: DatasetSplit | None = None,
        on_created: Callable[[str], None] | None = None,
        owner: str | None = None,
    ) -> str:
        self.owner = owner
        if self.error is not None:
            raise self.error
        if on_created is not None:
            on_created("run-1")
        history: list[dict[str, float]] = []
        batches = 0
        try:
            for callback in callbacks:
                callback.before_fit(TrainState(0, 2, 0, 2, device="cpu"))
            for epoch in (1, 2):
                for callback in callbacks:
                    callback.before_epoch(TrainState(epoch, 2, 0, 2, history=tuple(history)))
                for step in (1, 2):
                    batches += 1
                    for callback in callbacks:
                        callback.after_batch(TrainState(epoch, 2, step, 2, loss=1.0))
                    if batches == self.pause_after_batches:
                        self.paused.set()
                        assert self.resume.wait(10)
                history.append({"epoch": epoch, "train_loss": 1.0 / epoch, "val_accuracy": 0.5})
                for callback in callbacks:
                    callback.after_epoch(TrainState(epoch, 2, 2, 2, history=tuple(history)))
        except StopTraining:
            self.stopped_at = batches
        return "run-1"


@pytest.fixture
def scripted(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ScriptedTraining]:
    def install(**options: object) -> ScriptedTraining:
        fake = ScriptedTraining(**options)  # type: ignore[arg-type]
        monkeypatch.setattr(pipeline, "train_run", fake)
        return fake

    return install


def test_progress_snapshots_follow_training_to_done(scripted, tmp_path) -> None:
    fake = scripted(pause_after_batches=3)
    job = training_jobs.start_training(TINY, runs.RunStore(tmp_path))
    assert fake.paused.wait(10)

    middle = job.progress()
    assert middle.state == "running"
    assert (middle.epoch, middle.epochs, middle.step_fraction) == (1, 2, 0.5)
    assert middle.fraction == pytest.approx(0.75)
    assert [dict(epoch) for epoch in middle.history] == [
        {"epoch": 1, "train_loss": 1.0, "val_accuracy": 0.5}
    ]
    assert middle.device == "cpu"
    with pytest.raises(TypeError):  # snapshots are read-only for the page
        middle.history[0]["train_loss"] = 0.0  # type: ignore[index]

    fake.resume.set()
    final = job.wait(10)
    assert final.state == "done" and final.finished
    assert final.run_id == "run-1"
    assert final.fraction == 1.0
    assert [epoch["train_loss"] for epoch in final.history] == [1.0, 0.5]
    assert final.last_metrics["val_accuracy"] == 0.5
    assert middle.state == "running"  # the old snapshot did not change
    assert training_jobs.get_job(job.id) is job


def test_stop_raises_stop_training_at_the_next_batch(scripted, tmp_path) -> None:
    fake = scripted(pause_after_batches=1)
    job = training_jobs.start_training(TINY, runs.RunStore(tmp_path))
    assert fake.paused.wait(10)
    job.stop()
    fake.resume.set()
    final = job.wait(10)
    assert fake.stopped_at == 2  # the batch after the request, not the end of training
    assert final.state == "stopped"
    assert final.epoch == 0
    assert final.run_id == "run-1"


def test_a_user_error_fails_the_job_with_its_message(scripted, tmp_path) -> None:
    scripted(error=DatasetError("mnist is not downloaded: turn on Download"))
    final = training_jobs.start_training(TINY, runs.RunStore(tmp_path)).wait(10)
    assert final.state == "failed"
    assert final.error == "mnist is not downloaded: turn on Download"
    assert final.run_id is None


def test_a_bug_fails_the_job_without_killing_the_worker(scripted, tmp_path, capsys) -> None:
    scripted(error=RuntimeError("boom"))
    final = training_jobs.start_training(TINY, runs.RunStore(tmp_path)).wait(10)
    assert final.state == "failed"
    assert "RuntimeError: boom" in final.error
    assert "server log" in final.error
    assert "Traceback" in capsys.readouterr().err  # the details go to the log, not the page


def test_too_many_running_jobs_are_refused(scripted, tmp_path) -> None:
    fake = scripted(pause_after_batches=1)
    started = [
        training_jobs.start_training(TINY, runs.RunStore(tmp_path))
        for _ in range(training_jobs.MAX_RUNNING_JOBS)
    ]
    try:
        assert len(training_jobs.running_jobs()) >= training_jobs.MAX_RUNNING_JOBS
        with pytest.raises(EngineError, match="wait for one to finish"):
            training_jobs.start_training(TINY, runs.RunStore(tmp_path))
    finally:
        fake.resume.set()
        for job in started:
            assert job.wait(10).state == "done"
    assert training_jobs.running_jobs() == []


def test_unknown_job_ids_give_none() -> None:
    assert training_jobs.get_job(None) is None
    assert training_jobs.get_job("job-that-never-was") is None


def _tiny_split() -> DatasetSplit:
    """Two classes a linear model separates at once: dark images (0) and bright ones (1)."""
    generator = torch.Generator().manual_seed(0)
    targets = torch.arange(48) % 2
    noise = torch.randint(0, 40, (48, 1, 8, 8), generator=generator)
    images = (noise + targets.view(-1, 1, 1, 1) * 200).to(torch.uint8)
    data = ImageDataset(images, targets, ("dark", "bright"))
    return DatasetSplit(
        "tiny", data.subset(torch.arange(32)), data.subset(torch.arange(32, 48)), "resize"
    )


def test_two_real_jobs_train_into_separate_runs(tmp_path) -> None:
    store = runs.RunStore(tmp_path, include_demo=False)
    split = _tiny_split()
    first = training_jobs.start_training(TINY, store, split=split)
    second = training_jobs.start_training(TINY.with_changes(mode="multi-class"), store, split=split)
    one, two = first.wait(60), second.wait(60)

    assert (one.state, two.state) == ("done", "done"), (one.error, two.error)
    assert one.run_id != two.run_id
    assert len(one.history) == len(two.history) == 2
    assert {summary.id for summary in store.list_runs()} == {one.run_id, two.run_id}
    assert store.load_run(one.run_id).config.train.mode == "multi-label"
    assert store.load_run(two.run_id).config.train.mode == "multi-class"
    assert one.last_metrics["val_accuracy"] > 0.9  # bright vs dark: learnt in two epochs
