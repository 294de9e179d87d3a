"""Answers a user can trust, through the pages: a run at chance is flagged on Train, Explore,
Compare and Predict; Predict's verdict is the run's own reading and says so; Explore reads
data whose images carry several labels by exact match, per-class F1 and wrong label sets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dashboard import session
from dashboard.examples import CLEAR
from engine import training_jobs
from engine.analysis import threshold_metrics, wrong_label_sets
from engine.labels import CHANCE_WARNING, activation
from engine.runs import DEMO_RUN_DIR, RunStore
from tests.dashboard.conftest import metrics, texts

DEAD_RUN = "20261202-000000-mnist-5k-multi-label-dead00"


def make_dead_run(root: Path) -> str:
    """A copy of the demo run whose metrics say it stayed at chance (10% on ten digits)."""
    folder = root / DEAD_RUN
    shutil.copytree(DEMO_RUN_DIR, folder)
    history = json.loads((folder / "metrics.json").read_text())
    history[-1]["val_accuracy"] = 0.1
    (folder / "metrics.json").write_text(json.dumps(history))
    return DEAD_RUN


def warnings_of(app) -> str:
    return " ".join(str(warning.value) for warning in app.warning)


@pytest.mark.parametrize(
    ("page", "query"),
    [
        ("views/explore.py", {"run": DEAD_RUN}),
        ("views/predict.py", {"run": DEAD_RUN}),
        ("views/compare.py", {"runs": [DEAD_RUN, "demo-softmax"]}),
    ],
)
@pytest.mark.slow
def test_a_run_at_chance_is_flagged_on_every_page_that_reads_it(open_page, runs_dir, page, query):
    make_dead_run(runs_dir)
    app = open_page(page, **query)
    assert not app.exception
    assert CHANCE_WARNING in warnings_of(app).lower()


@pytest.mark.slow
def test_a_run_at_chance_is_flagged_when_its_training_ends(open_page) -> None:
    # A learning rate so small the weights hardly move: the model stays at chance (seeded).
    tiny = {"epochs": "1", "limit": "300", "model": "mlp", "batch": "64", "lr": "0.000001"}
    app = open_page("views/train.py", **tiny)
    app.button[0].click().run()
    job = training_jobs.get_job(app.session_state[session.JOB_KEY])
    final = job.wait(60)
    assert final.state == "done", final.error
    app.run()
    assert CHANCE_WARNING in warnings_of(app).lower()


@pytest.mark.slow
def test_a_run_that_learned_is_not_flagged(open_page, runs_dir):
    app = open_page("views/explore.py", run="demo")
    assert CHANCE_WARNING not in warnings_of(app).lower()


def test_the_runs_table_flags_a_run_at_chance(tmp_path, capsys):
    from engine.cli import main

    make_dead_run(tmp_path)
    assert main(["runs", "--runs-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    header, *rows = out.splitlines()
    assert "val_exact_match" in header.split()  # beside accuracy_multi, never alone
    dead = next(row for row in rows if row.startswith(DEAD_RUN))
    assert "AT CHANCE" in dead
    assert f"! {DEAD_RUN}: {CHANCE_WARNING}" in out
    demo = next(row for row in rows if row.startswith("demo "))
    assert "AT CHANCE" not in demo
    assert main(["runs", "--json", "--runs-dir", str(tmp_path)]) == 0
    listed = {run["id"]: run for run in json.loads(capsys.readouterr().out)}
    assert listed[DEAD_RUN]["warnings"][0].startswith(CHANCE_WARNING)
    assert listed["demo"]["warnings"] == []


@pytest.mark.slow
def test_predict_reads_a_softmax_run_with_its_softmax_and_says_so(open_page, runs_dir):
    app = open_page("views/predict.py", run="demo-softmax", example=CLEAR)
    assert not app.exception
    captions = " ".join(texts(app, "caption"))
    assert "Read with softmax (its winner), as this model was trained" in captions
    assert "read with sigmoids, which this model was not trained for" in captions
    sigmoid_app = open_page("views/predict.py", run="demo", example=CLEAR)
    captions = " ".join(texts(sigmoid_app, "caption"))
    assert "Read with sigmoids (each class that fires), as this model was trained" in captions
    assert "read with softmax, which this model was not trained for" in captions


@pytest.mark.slow
def test_explore_reads_multi_label_data_by_exact_match_and_wrong_label_sets(open_page, runs_dir):
    # The shipped demo-pairs: two digits per image, both labels set.
    run = RunStore().load_run("demo-pairs")
    assert run.labels_per_image == "several"
    app = open_page("views/explore.py", run="demo-pairs")
    assert not app.exception and not app.error
    probabilities = activation(run.validation.logits, "multi-label")
    expected = threshold_metrics(probabilities, run.validation.targets, run.class_names, 0.5)
    wrong = wrong_label_sets(probabilities, run.validation.targets, run.class_names, 0.5)
    shown = metrics(app)
    assert shown["Exact match"] == f"{expected.exact_match:.3f}"
    assert shown["Macro F1"] == f"{expected.macro_f1:.3f}"
    assert shown["Wrong label sets"] == f"{wrong.wrong_count:,}"
    assert "Both (2+ fire)" not in shown  # two firing classes are often right here
    # the per-class precision / recall / F1 table
    table = next(frame.value for frame in app.dataframe if "recall" in frame.value.columns)
    assert list(table["F1"]) == list(expected.per_class["f1"].round(3))
    markdown = " ".join(texts(app, "markdown"))
    assert "Missed a label" in markdown and "Extra label" in markdown
    assert "Both: two or more sigmoids fire" not in markdown
    charts = json.dumps([chart.spec for chart in app.get("arrow_vega_lite_chart")])
    assert "Confusion matrix (argmax)" not in charts


@pytest.mark.slow
def test_explore_keeps_both_and_neither_for_one_label_per_image(open_page, runs_dir):
    app = open_page("views/explore.py", run="demo")
    shown = metrics(app)
    assert "Both (2+ fire)" in shown and "Exact match" not in shown
    assert "Both: two or more sigmoids fire" in " ".join(texts(app, "markdown"))
