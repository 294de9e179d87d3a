"""Explore's threshold lesson and pair tools under AppTest: the curve marks the current
threshold, tuning is scored on held-out halves, tuned thresholds are saved with the run (not
with a read-only demo) and Predict uses them; every pair can be chosen and strength is defined."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dashboard import links
from engine.analysis import held_out_tuning, threshold_curve
from engine.labels import activation
from engine.runs import THRESHOLDS_FILE, RunStore
from tests.dashboard.conftest import texts
from tests.engine.bad_inputs import draw_digit, encode

EXPLORE = "views/explore.py"
PREDICT = "views/predict.py"


@pytest.fixture
def own_run(runs_dir: Path, tiny_runs) -> str:
    """A copy of the tiny multi-label run in this test's own store, free to change."""
    root, multi_label, _ = tiny_runs
    shutil.copytree(root / multi_label, runs_dir / multi_label)
    return multi_label


def _chart_specs(app) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in app.get("vega_lite_chart")]


def _curve_spec(app) -> dict:
    return next(s for s in _chart_specs(app) if "Metrics against the threshold" in json.dumps(s))


@pytest.mark.parametrize("threshold", ["0.5", "0.3"])
@pytest.mark.slow
def test_the_curve_marks_the_current_threshold(open_page, own_run, runs_dir, threshold):
    app = open_page(EXPLORE, run=own_run, threshold=threshold)
    assert not app.exception
    assert "Choosing the threshold" in texts(app, "subheader")
    title = _curve_spec(app)["title"]
    assert title["subtitle"] == f"dashed line: the current threshold, {float(threshold):.2f}"
    run = RunStore(runs_dir).load_run(own_run)
    curve = threshold_curve(
        activation(run.validation.logits, "multi-label"), run.validation.targets
    )
    best = curve.loc[curve["macro_f1"].idxmax()]
    captions = " ".join(texts(app, "caption"))
    assert f"Best macro F1 {best['macro_f1']:.3f} at {best['threshold']:.2f}" in captions
    assert "accuracy_multi(thresh=" in captions


@pytest.mark.slow
def test_tuning_is_scored_on_held_out_halves_saved_and_used_by_predict(
    open_page, own_run, runs_dir
):
    app = open_page(EXPLORE, run=own_run)
    run = RunStore(runs_dir).load_run(own_run)
    tuning = held_out_tuning(
        activation(run.validation.logits, "multi-label"),
        run.validation.targets,
        run.class_names,
        threshold=0.5,
    )
    scores = next(frame.value for frame in app.dataframe if "thresholds" in frame.value.columns)
    honest = scores.set_index("thresholds").iloc[1]
    assert honest["macro F1"] == pytest.approx(round(tuning.held_out["macro_f1"], 4))
    per_class = next(f.value for f in app.dataframe if "F1 tuned, held out" in f.value.columns)
    assert list(per_class.index) == list(run.class_names)
    assert list(per_class["tuned threshold"]) == pytest.approx(
        list(tuning.per_class["threshold"].round(3)), abs=1e-3
    )

    save = next(b for b in app.button if b.label == "Save these thresholds with the run")
    save.click().run()
    assert not app.exception
    assert "Saved beside the run's run.json" in app.success[0].value
    saved = json.loads((runs_dir / own_run / THRESHOLDS_FILE).read_text())
    assert saved["thresholds"] == pytest.approx(list(tuning.thresholds))
    assert saved["scores"]["held_out"]["macro_f1"] == pytest.approx(tuning.held_out["macro_f1"])

    predict = open_page(PREDICT, run=own_run)
    assert predict.toggle(key=links.TUNED).value is True
    assert any(caption.startswith("Tuned thresholds: 0: ") for caption in texts(predict, "caption"))
    predict.file_uploader[0].upload("seven.png", encode(draw_digit("7")), "image/png").run()
    assert not predict.exception
    assert texts(predict, "subheader")  # a verdict was drawn with the per-class thresholds


def test_predict_with_tuned_thresholds_follows_them(open_page, own_run, runs_dir):
    (runs_dir / own_run / THRESHOLDS_FILE).write_text(
        json.dumps({"thresholds": [1e-6] * 10, "class_names": list("0123456789")})
    )
    app = open_page(PREDICT, run=own_run)
    app.file_uploader[0].upload("seven.png", encode(draw_digit("7")), "image/png").run()
    every = texts(app, "subheader")[0]  # every class passes a tiny threshold
    assert every.count(",") == 8 and " or " in every
    app.toggle(key=links.TUNED).set_value(False).run()
    assert texts(app, "subheader")[0].count(",") < 8
    assert "tuned=false" in texts(app.sidebar, "code")[0]


@pytest.mark.slow
def test_the_demo_run_cannot_be_saved_to_and_says_so(open_page) -> None:
    app = open_page(EXPLORE, run="demo")
    assert not app.exception
    assert not [b for b in app.button if b.label == "Save these thresholds with the run"]
    assert any("read-only" in caption for caption in texts(app, "caption"))


@pytest.mark.slow
def test_every_pair_can_be_chosen_and_strength_is_defined(open_page, own_run):
    app = open_page(EXPLORE, run=own_run, pair="8-9")
    assert not app.exception
    assert len(app.dataframe[0].value) == 45
    assert len(app.selectbox(key=links.PAIR).options) == 45
    assert app.selectbox(key=links.PAIR).value in ("8-9", "9-8")
    page = "\n".join(texts(app, "markdown"))
    assert "**Strength** of a pair a-b" in page and "min(sigmoid a, sigmoid b)" in page
