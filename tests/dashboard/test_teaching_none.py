"""Compare page's "Teaching 'none'" section under AppTest: the experiment runs in a background
task, and the table, chart and sentence shown are the engine's; errors are the engine's too.

The engine's teach_none runs for real, on a tiny slice of the page's split with one epoch, so a
test takes a few seconds.
"""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest
import torch

from dashboard import charts_teaching, links, session, teaching
from engine import jobs
from engine.analysis import experiments
from engine.callbacks import TrainState
from engine.config import DataConfig, RunConfig
from engine.nondigits import NON_DIGIT_KINDS
from tests.dashboard.conftest import texts

PAGE = "views/compare.py"
REAL_TEACH_NONE = experiments.teach_none


@pytest.fixture
def tiny_experiment(monkeypatch: pytest.MonkeyPatch) -> list:
    """teach_none on 300 training and 200 validation images of the page's split, mlp: the
    results it returned are collected in the list, for the test to compare with the page."""
    results: list = []

    def tiny(config, none_examples, test_count, split, callbacks, progress, held_out_kinds):
        small = dataclasses.replace(
            split,
            train=split.train.subset(torch.arange(300)),
            valid=split.valid.subset(torch.arange(200)),
        )
        result = REAL_TEACH_NONE(
            config.with_changes(name="mlp", batch_size=64),
            none_examples=none_examples,
            test_count=100,
            split=small,
            callbacks=callbacks,
            progress=progress,
            held_out_kinds=held_out_kinds,
        )
        results.append((config, result))
        return result

    monkeypatch.setattr(experiments, "teach_none", tiny)
    return results


def _run_experiment(
    app, none_examples: int = 60, epochs: int = 1, held_out=("letters",), dataset="mnist-5k"
):
    app.selectbox(key=session.TEACH_DATASET).set_value(dataset)
    app.number_input(key=session.TEACH_NONE_EXAMPLES).set_value(none_examples)
    app.number_input(key=session.TEACH_EPOCHS).set_value(epochs)
    app.multiselect(key=session.TEACH_HELD_OUT).set_value(list(held_out))
    next(button for button in app.button if button.label == "Run the experiment").click().run()
    for task in jobs.running_tasks():
        assert task.wait(60).finished
    return app.run()  # what the fragment's rerun does once the task ended


@pytest.mark.slow
def test_the_section_explains_the_advice_and_defaults_to_letters_held_out(open_page):
    app = open_page(PAGE)
    assert not app.exception and not app.error
    assert 'Teaching "none"' in [header.value for header in app.subheader]
    assert any("none of the above" in text for text in texts(app, "markdown"))
    assert app.multiselect(key=session.TEACH_HELD_OUT).value == ["letters"]
    assert app.number_input(key=session.TEACH_EPOCHS).value == RunConfig().train.epochs
    # the quick set by default; the demo runs' full MNIST is offered, with its cost named
    datasets = app.selectbox(key=session.TEACH_DATASET)
    assert datasets.value == "mnist-5k"
    assert datasets.options == [
        "mnist-5k (4,000 training digits: seconds per model)",
        "mnist (the compared runs' digits, 60,000 training digits: minutes per model on a CPU)",
    ]


@pytest.mark.slow
def test_the_experiment_runs_in_the_background_and_shows_the_engines_numbers(
    open_page, tiny_experiment
):
    app = _run_experiment(open_page(PAGE), none_examples=60, epochs=1, dataset="mnist")
    assert not app.exception and not app.error
    [(config, result)] = tiny_experiment
    assert (config.data.dataset, config.train.epochs, config.train.mode) == (
        "mnist",  # the demo pair's dataset, chosen
        1,
        RunConfig().train.mode,
    )
    assert result.none_examples == 60 and result.held_out_kinds == ("letters",)
    # the sentence is the engine's, not a canned one
    assert result.explanation in texts(app, "info")
    table = next(frame.value for frame in app.dataframe if frame.value.index.name == "measure")
    assert list(table.columns) == ["without all-zero examples", "with 60 all-zero examples"]
    for model, label in zip(("without", "with"), table.columns, strict=True):
        engine_row, shown = result.results.loc[model], table[label]
        assert shown["digit accuracy (exact match) %"] == round(
            engine_row["digit_accuracy"] * 100, 1
        )
        assert shown["digit accuracy (argmax) %"] == round(
            engine_row["digit_argmax_accuracy"] * 100, 1
        )
        assert shown['unseen non-digits called "neither" %'] == round(
            engine_row["non_digit_neither_rate"] * 100, 1
        )
        assert shown["training seconds"] == round(engine_row["seconds"], 1)
    assert len(app.get("vega_lite_chart")) >= 1  # the per-kind chart (besides reliability)
    assert any("(held out): letters" in text for text in texts(app, "caption"))
    # the result is kept in this tab's session: it is still there after another rerun
    app.slider(key=links.THRESHOLD).set_value(0.4).run()
    assert result.explanation in texts(app, "info")
    assert len(tiny_experiment) == 1  # shown again, not run again


@pytest.mark.slow
def test_an_engine_error_is_shown_with_the_engines_message(open_page, tiny_experiment):
    app = _run_experiment(open_page(PAGE), held_out=NON_DIGIT_KINDS)  # nothing left to teach
    assert not app.exception
    assert [error.value for error in app.error] == [
        "held-out kinds must be some, not all, of " + ", ".join(NON_DIGIT_KINDS)
    ]
    assert tiny_experiment == []  # the engine refused before training anything


def test_the_progress_bar_moves_with_every_batch(monkeypatch):
    """run_experiment spreads each model's batches over its half of the bar."""

    def scripted(config, none_examples, test_count, split, callbacks, progress, held_out_kinds):
        for start, name in ((0.0, "without"), (0.5, "with")):
            progress(f"Training the model {name} all-zero examples", start)
            for step in (1, 2):
                for callback in callbacks:
                    callback.after_batch(TrainState(1, 2, step, 2))
        progress("Done", 1.0)
        return "result"

    monkeypatch.setattr(experiments, "teach_none", scripted)
    reports: list[tuple[str, float]] = []
    returned = teaching.run_experiment(
        RunConfig(),
        10,
        ("letters",),
        None,
        lambda message, fraction: reports.append((message, fraction)),
    )
    assert returned == "result"
    assert [fraction for _, fraction in reports] == [0.0, 0.125, 0.25, 0.5, 0.625, 0.75, 1.0]
    assert reports[1][0] == "Training the model without all-zero examples: epoch 1 of 2"


def test_the_quick_set_comes_first_and_the_compared_runs_digit_set_is_offered():
    def run(dataset: str):
        return SimpleNamespace(config=RunConfig(data=DataConfig(dataset=dataset)))

    assert list(teaching.dataset_choices([run("fashion-mnist"), run("mnist")])) == [
        "mnist-5k",
        "mnist",
    ]
    assert list(teaching.dataset_choices([run("cifar10")])) == ["mnist-5k"]
    assert list(teaching.dataset_choices([run("mnist-5k"), run("mnist-5k")])) == ["mnist-5k"]
    assert list(teaching.dataset_choices([])) == ["mnist-5k"]


def test_the_per_kind_frame_puts_held_out_kinds_last_and_names_them():
    import pandas as pd

    per_kind = pd.DataFrame(
        {"without": [0.6, 0.2, 0.3], "with": [0.7, 1.0, 0.95], "taught": [False, True, True]},
        index=pd.Index(["letters", "noise", "shapes"], name="kind"),
    )
    frame = charts_teaching.neither_by_kind(per_kind, 1000)
    assert (
        list(frame["kind"]) == ["noise", "noise", "shapes", "shapes"] + ["letters (held out)"] * 2
    )
    assert list(frame["neither %"]) == [20.0, 100.0, 30.0, 95.0, 60.0, 70.0]
    assert frame["model"].iloc[1] == "with 1,000 all-zero examples"
    chart = charts_teaching.neither_by_kind_chart(frame).to_dict()
    assert chart["layer"][0]["encoding"]["xOffset"]["field"] == "model"
