"""The server's training queue (engine.work_queue, engine.training_jobs): at most
`LME_MAX_TRAININGS` at once, the others wait in order with their place shown and can be
cancelled; one unfinished job per visitor; a job nobody asks about is stopped; dataset loads
and experiments wait in the same line."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Sequence

import pytest
from PIL import Image

from engine import jobs, pipeline, runs, training_jobs, work_queue
from engine.callbacks import StopTraining, TrainState
from engine.config import RunConfig
from engine.errors import EngineError
from engine.prediction import predict_images
from tests.engine.synthetic import blocks_split

TINY = RunConfig().with_changes(name="mlp", epochs=1, batch_size=16, device="cpu")
WAIT = 20  # seconds any step may take on a busy machine (a bound on hangs, not a timing check)


class GatedTraining:
    """A stand-in for train_run that trains until released (or stopped), counting how many
    run at the same moment."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.active = 0
        self.most_at_once = 0
        self.started: list[str] = []

    def __call__(
        self,
        config: RunConfig,
        store: runs.RunStore,
        callbacks: Sequence = (),
        split=None,
        on_created: Callable[[str], None] | None = None,
        owner: str | None = None,
    ) -> str:
        with self.lock:
            self.active += 1
            self.most_at_once = max(self.most_at_once, self.active)
            self.started.append(config.train.mode)
        try:
            if on_created is not None:
                on_created(f"run-{len(self.started)}")
            for callback in callbacks:
                callback.before_fit(TrainState(0, 1, 0, 1, device="cpu"))
            deadline = time.monotonic() + WAIT
            while not self.release.is_set() and time.monotonic() < deadline:
                for callback in callbacks:
                    callback.after_batch(TrainState(1, 1, 0, 1, loss=1.0))
                time.sleep(0.02)
        except StopTraining:
            pass
        finally:
            with self.lock:
                self.active -= 1
        return f"run-{len(self.started)}"


@pytest.fixture
def gated(monkeypatch: pytest.MonkeyPatch) -> GatedTraining:
    monkeypatch.setenv("LME_MAX_TRAININGS", "1")
    fake = GatedTraining()
    monkeypatch.setattr(pipeline, "train_run", fake)
    yield fake
    fake.release.set()
    for job in training_jobs.running_jobs():
        job.stop()
        job.wait(WAIT)


def _until(condition: Callable[[], bool]) -> bool:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_trainings_wait_their_turn_with_their_place_and_can_be_cancelled(gated, tmp_path):
    store = runs.RunStore(tmp_path)
    first, second, third = (
        training_jobs.start_training(TINY.with_changes(mode=mode), store, owner=owner)
        for mode, owner in (("multi-label", "a"), ("multi-class", "b"), ("multi-label", "c"))
    )
    assert _until(lambda: first.progress().state == "running")
    assert _until(lambda: third.progress().queue_position == 2)
    assert second.progress().queue_position == 1 and second.progress().waiting
    assert second.progress().state == "queued" and first.progress().queue_position is None

    third.stop()  # cancelled while waiting: leaves the line, nothing is trained or saved
    cancelled = third.wait(WAIT)
    assert (cancelled.state, cancelled.run_id, cancelled.queue_position) == ("stopped", None, None)
    assert _until(lambda: second.progress().queue_position == 1)

    gated.release.set()
    assert first.wait(WAIT).state == "done" and second.wait(WAIT).state == "done"
    assert gated.most_at_once == 1  # one at a time, in the order they came
    assert gated.started == ["multi-label", "multi-class"]


def test_a_visitor_has_one_unfinished_training_at_a_time(gated, tmp_path):
    store = runs.RunStore(tmp_path)
    mine = training_jobs.start_training(TINY, store, owner="me")
    with pytest.raises(EngineError, match="queued or running already"):
        training_jobs.start_training(TINY, store, owner="me")
    theirs = training_jobs.start_training(TINY, store, owner="them")  # another visitor may queue
    assert training_jobs.jobs_of("me") == [mine] and training_jobs.jobs_of("them") == [theirs]
    gated.release.set()
    assert mine.wait(WAIT).state == "done"
    again = training_jobs.start_training(
        TINY, store, owner="me"
    )  # the first one ended: allowed again
    assert again.wait(WAIT).state == "done"
    assert training_jobs.jobs_of("me")[0] is again  # newest first: what a reloaded page shows


@pytest.mark.slow
def test_a_job_nobody_asks_about_is_stopped_and_one_that_is_asked_about_runs_on(gated, tmp_path):
    store = runs.RunStore(tmp_path)
    watched = training_jobs.start_training(TINY, store, owner="open tab", abandon_after=0.5)
    assert _until(lambda: watched.progress().state == "running")
    for _ in range(10):  # a page polls it: not abandoned
        watched.touch()
        time.sleep(0.1)
    assert not watched.progress().finished
    closed = watched.wait(WAIT)  # no more touches: the tab is gone
    assert closed.state == "stopped"
    assert not gated.release.is_set()  # it ended by itself, not by the release


@pytest.mark.slow
def test_a_dataset_load_waits_in_the_same_line_and_leaves_it_when_its_visitor_goes(gated, tmp_path):
    store = runs.RunStore(tmp_path)
    training = training_jobs.start_training(TINY, store)
    assert _until(lambda: training.progress().state == "running")
    places: list[int] = []

    class VisitorLeft(Exception):
        pass

    def on_wait(place: int) -> None:
        places.append(place)
        if len(places) >= 3:
            raise VisitorLeft  # what Streamlit raises in a page element once the tab closed

    with pytest.raises(VisitorLeft), work_queue.work_slot(on_wait=on_wait):
        pytest.fail("the load must not run while the only slot trains")
    assert places[:3] == [1, 1, 1]
    assert work_queue.QUEUE.waiting() == 0  # it left the line

    loaded = []
    gated.release.set()
    assert training.wait(WAIT).state == "done"
    with work_queue.work_slot():
        loaded.append(True)
    assert loaded == [True]


def test_an_experiment_waits_for_a_slot_too(gated, tmp_path):
    training = training_jobs.start_training(TINY, runs.RunStore(tmp_path))
    assert _until(lambda: training.progress().state == "running")
    task = jobs.start_task(lambda progress: 42, name="Teaching 'none'")
    assert _until(lambda: "Waiting for a free slot" in task.progress().message)
    assert not task.progress().finished
    gated.release.set()
    assert task.wait(WAIT).result == 42


def test_real_trainings_queued_together_all_complete(monkeypatch, tmp_path):
    monkeypatch.setenv("LME_MAX_TRAININGS", "1")
    store = runs.RunStore(tmp_path, include_demo=False)
    split = blocks_split()
    started = [
        training_jobs.start_training(TINY.with_changes(seed=seed), store, split=split)
        for seed in range(3)
    ]
    finals = [job.wait(60) for job in started]
    assert [final.state for final in finals] == ["done"] * 3, [f.error for f in finals]
    assert len({final.run_id for final in finals}) == 3
    assert {s.status for s in store.list_runs()} == {"complete"}


def test_prediction_never_waits_behind_training(gated, tmp_path):
    training = training_jobs.start_training(TINY, runs.RunStore(tmp_path))
    waiting = training_jobs.start_training(TINY, runs.RunStore(tmp_path))
    assert _until(lambda: waiting.progress().queue_position == 1)  # every slot is taken
    run = runs.RunStore(tmp_path).load_run("demo")
    image = run.validation.images[0].numpy()[0]
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    [prediction] = predict_images(run, [("digit.png", buffer.getvalue())])
    assert prediction.error is None and len(prediction.sigmoid) == len(run.class_names)
    assert not training.progress().finished  # it answered while the training held the slot
