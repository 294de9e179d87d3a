"""Train page: the form, a tiny training run through the background job to its final
metrics and saved run, stopping, two tabs training apart, and links to the form."""

from __future__ import annotations

import json

import pytest

from dashboard import caches, links, session, twins
from engine import hosting, training_jobs
from engine.config import RunConfig, TrainConfig
from tests.dashboard.conftest import metrics, texts

PAGE = "views/train.py"
TINY = {"epochs": "1", "limit": "300", "model": "mlp", "batch": "64"}


def _start(app):
    app.button[0].click().run()  # the form's Start training button
    return app


def _job_of(app) -> training_jobs.TrainingJob:
    """The tab's job, found the way the page finds it: by the id in its session."""
    job = training_jobs.get_job(app.session_state[session.JOB_KEY])
    assert job is not None, "no training was started"
    return job


def test_the_form_shows_the_engines_defaults_and_the_device(open_page) -> None:
    app = open_page(PAGE)
    assert not app.exception
    defaults = RunConfig()  # the CLI's too: an unchanged form trains what `engine train` does
    assert app.radio(key=links.MODE).value == defaults.train.mode == "multi-label"
    assert app.selectbox(key=links.DATASET).value == defaults.data.dataset == "mnist-5k"
    assert app.selectbox(key=links.MODEL).value == defaults.model.name
    assert app.toggle(key=links.FREEZE).value is defaults.model.freeze_body
    assert app.toggle(key=links.AUGMENT).value is defaults.train.augment is False
    assert app.number_input(key=links.EPOCHS).value == defaults.train.epochs
    assert app.number_input(key=links.BATCH_SIZE).value == defaults.train.batch_size
    assert app.number_input(key=links.LEARNING_RATE).value == pytest.approx(defaults.train.lr)
    assert app.number_input(key=links.LIMIT).value == (defaults.data.limit or 0)
    assert app.number_input(key=links.NONE_EXAMPLES).value == defaults.data.none_examples
    # the threads training uses (TrainConfig.cpu_threads = 0: the training queue's share)
    assert defaults.train.cpu_threads == 0
    threads = hosting.hosting_limits().threads_per_training
    expected = f"Device: CPU ({threads} thread{'' if threads == 1 else 's'} for training)"
    assert expected in texts(app, "caption")
    assert "No training started from this tab yet" in app.info[0].value


@pytest.mark.slow
def test_a_tiny_run_trains_in_the_background_and_is_saved(open_page, runs_dir) -> None:
    app = _start(open_page(PAGE, **TINY))
    assert not app.exception and not app.error
    final = _job_of(app).wait(60)
    assert final.state == "done", final.error

    app.run()
    assert "Done: 1 epochs" in app.success[0].value
    shown = metrics(app)
    assert 0.0 <= float(shown["Accuracy (argmax)"]) <= 1.0
    assert float(shown["accuracy_multi"]) > 0.5  # multi-label mode adds its own metrics
    assert float(shown["Training loss"]) == round(final.history[-1]["train_loss"], 4)
    assert len(app.get("vega_lite_chart")) == 1  # the loss and accuracy curves
    saved = json.loads((runs_dir / final.run_id / "run.json").read_text())
    assert saved["status"] == "complete"
    assert saved["config"]["data"]["limit"] == 300
    assert saved["config"]["model"]["name"] == "mlp"
    assert not app.button[0].disabled  # the form is free again

    explore = next(button for button in app.button if button.label == "Explore this run")
    explore.click().run()
    assert app.title[0].value == "Explore"
    assert app.selectbox(key=links.RUN).value == final.run_id


@pytest.mark.slow
def test_a_finished_run_leads_to_compare_with_its_twin_offered(open_page) -> None:
    app = _start(open_page(PAGE, **TINY))
    final = _job_of(app).wait(60)
    assert final.state == "done", final.error
    app.run()
    compare = next(button for button in app.button if button.label == "Compare it with its twin")
    compare.click().run()
    assert app.title[0].value == "Compare"
    assert app.multiselect(key=links.RUNS).value == [final.run_id]
    assert "Train the multi-class twin" in [button.label for button in app.button]


@pytest.mark.slow
def test_stop_ends_a_long_run_early(open_page) -> None:
    app = _start(open_page(PAGE, epochs="50", model="cnn"))
    job = _job_of(app)
    app.run()
    assert app.button[0].disabled  # no second start while this one runs
    stop = next(button for button in app.button if button.label == "Stop")
    stop.click().run()
    final = job.wait(60)
    assert final.state == "stopped"
    assert final.epoch < 50
    app.run()
    assert app.warning[0].value.startswith(f"Stopped after {final.epoch} of 50 epochs")
    explore = next(button for button in app.button if button.label == "Explore this run")
    explore.click().run()
    assert not app.exception
    assert app.selectbox(key=links.RUN).value == final.run_id  # stopped runs can be explored


@pytest.mark.slow
def test_two_tabs_train_two_separate_runs(open_page) -> None:
    first = _start(open_page(PAGE, **TINY))
    first_job = _job_of(first)
    second = _start(open_page(PAGE, **TINY, mode="multi-class"))
    second_job = _job_of(second)
    assert second_job is not first_job
    one, two = first_job.wait(60), second_job.wait(60)
    assert (one.state, two.state) == ("done", "done")
    assert one.run_id != two.run_id
    first.run()
    second.run()
    assert one.run_id in "".join(texts(first, "caption"))
    assert two.run_id in "".join(texts(second, "caption"))
    assert "accuracy_multi" not in metrics(second)  # the multi-class tab shows its own run


@pytest.mark.slow
def test_a_link_fills_the_form_and_bad_values_fall_back(open_page) -> None:
    app = open_page(PAGE, mode="multi-class", epochs="7", lr="0.01", batch="huge")
    assert not app.exception
    assert app.radio(key=links.MODE).value == "multi-class"
    assert app.number_input(key=links.EPOCHS).value == 7
    assert app.number_input(key=links.LEARNING_RATE).value == 0.01
    assert "batch='huge'" in app.warning[0].value
    assert app.number_input(key=links.BATCH_SIZE).value == 128


@pytest.mark.slow
def test_invalid_settings_show_an_error_not_a_traceback(open_page) -> None:
    app = _start(open_page(PAGE, model="resnet18", limit="1"))
    assert not app.exception
    assert len(app.error) == 1
    assert "limit" in app.error[0].value
    assert training_jobs.running_jobs() == []


@pytest.mark.slow
def test_non_digit_examples_reach_the_saved_config(open_page, runs_dir) -> None:
    app = _start(open_page(PAGE, **TINY, none="100"))
    final = _job_of(app).wait(60)
    assert final.state == "done", final.error
    saved = json.loads((runs_dir / final.run_id / "run.json").read_text())
    assert saved["config"]["data"]["none_examples"] == 100
    assert saved["train_size"] == 240 + 100  # 300 images less the 60 held out, plus non-digits


@pytest.mark.parametrize("augment", [True, False])
@pytest.mark.slow
def test_the_augment_switch_reaches_the_saved_run(open_page, runs_dir, augment) -> None:
    app = open_page(PAGE, **TINY, augment=str(augment).lower())
    assert app.toggle(key=links.AUGMENT).value is augment
    final = _job_of(_start(app)).wait(60)
    assert final.state == "done", final.error
    saved = json.loads((runs_dir / final.run_id / "run.json").read_text())
    assert saved["config"]["train"]["augment"] is augment


def test_the_device_caption_follows_the_training_threads(monkeypatch) -> None:
    monkeypatch.setattr(caches, "_device_description", lambda name: "CPU (8 threads)")
    assert caches.training_device_description(TrainConfig(cpu_threads=1)) == (
        "CPU (1 thread for training)"
    )
    assert caches.training_device_description(TrainConfig(cpu_threads=3)) == (
        "CPU (3 threads for training)"
    )
    # 0: the queue's share of the cores, all but one for one training at a time
    monkeypatch.setattr(hosting, "cpu_cores", lambda: 7)
    monkeypatch.setenv("LME_MAX_TRAININGS", "1")
    assert caches.training_device_description(TrainConfig(cpu_threads=0)) == (
        "CPU (6 threads for training)"
    )
    monkeypatch.setattr(caches, "_device_description", lambda name: "GPU: NVIDIA H100")
    assert caches.training_device_description(TrainConfig()) == "GPU: NVIDIA H100"


@pytest.mark.slow
def test_a_run_on_multi_label_data_headlines_exact_match_and_macro_f1(open_page) -> None:
    app = _start(open_page(PAGE, **{**TINY, "dataset": "two-digits", "limit": "200"}))
    assert not app.exception and not app.error
    final = _job_of(app).wait(60)
    assert final.state == "done", final.error
    app.run()
    labels = [metric.label for metric in app.metric]
    assert labels[:2] == ["Exact match", "Macro F1"]
    assert "Accuracy (argmax)" not in labels
    shown = metrics(app)
    assert shown["Exact match"] == f"{final.last_metrics['val_exact_match']:.4f}"
    assert shown["Macro F1"] == f"{final.last_metrics['val_macro_f1']:.4f}"
    assert "the headline is exact match and macro F1" in " ".join(texts(app, "caption"))
    # Softmax cannot train two labels per image: no twin is offered, and the page says why.
    assert "Compare it with its twin" not in [button.label for button in app.button]
    assert twins.NO_SOFTMAX_TWIN in texts(app, "caption")
    assert "Explore this run" in [button.label for button in app.button]
