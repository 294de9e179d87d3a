"""Compare page under AppTest: runs side by side, the three readings with the sentence the engine
writes from their numbers, and the measured non-digit "neither" rates."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.analysis.readings import compare_runs, explain_readings
from engine.runs import RunStore
from tests.dashboard.conftest import texts
from tests.dashboard.tiny_runs import tiny_runs

PAGE = "views/compare.py"


@pytest.fixture
def run_ids(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """(multi-label id, multi-class id) in the run store the page reads."""
    root, multi_label_id, multi_class_id = tiny_runs()
    monkeypatch.setenv("LME_RUNS_DIR", str(root))
    return multi_label_id, multi_class_id


def test_with_only_the_demo_run_the_page_says_how_to_get_two(open_page):
    app = open_page(PAGE)
    assert not app.exception
    assert "Comparing needs two saved runs" in texts(app, "info")[0]


def test_two_runs_side_by_side_with_the_three_readings(open_page, run_ids):
    multi_label_id, multi_class_id = run_ids
    app = open_page(PAGE)
    assert not app.exception and not app.error
    # opens with the softmax-trained and sigmoid-trained runs of the same data
    assert set(app.multiselect(key="runs").value) == {multi_label_id, multi_class_id}
    table = app.dataframe[0].value
    store = RunStore(tiny_runs()[0])
    assert set(table["run"]) == {multi_label_id, multi_class_id}
    for _, row in table.iterrows():
        last = store.load_run(row["run"]).metrics
        assert row["val_accuracy"] == pytest.approx(last["val_accuracy"], abs=1e-4)
    # the sentence is the engine's, built from these two runs' numbers
    readings = compare_runs(store.load_run(multi_class_id), store.load_run(multi_label_id), 0.5)
    assert explain_readings(readings) in texts(app, "info")
    side_by_side = app.dataframe[1].value
    assert list(side_by_side.columns) == ["(a)", "(b)", "(c)"]
    assert side_by_side.loc["both_count", "(b)"] == str(readings[1].both_count)
    assert side_by_side.loc["neither_count", "(c)"] == str(readings[2].neither_count)
    # non-digits: the honest statement and a measured rate per reading
    assert any("does not by itself" in text for text in texts(app, "markdown"))
    assert any(text.startswith("On 300 generated non-digits") for text in texts(app, "info"))
    rates = app.dataframe[2].value
    assert list(rates["reading"].str[:3]) == ["(a)", "(b)", "(c)"]
    assert rates['says "neither" %'].iloc[0] == 0.0  # softmax argmax always names a class


def test_the_threshold_changes_the_sigmoid_readings(open_page, run_ids):
    multi_label_id, multi_class_id = run_ids
    store = RunStore(tiny_runs()[0])
    softmax_run, sigmoid_run = store.load_run(multi_class_id), store.load_run(multi_label_id)
    app = open_page(PAGE, threshold="0.2")
    assert app.slider(key="threshold").value == pytest.approx(0.2)
    expected = explain_readings(compare_runs(softmax_run, sigmoid_run, 0.2))
    assert expected in texts(app, "info")
    assert expected != explain_readings(compare_runs(softmax_run, sigmoid_run, 0.8))


def test_one_run_is_not_a_comparison(open_page, run_ids):
    multi_label_id, _ = run_ids
    app = open_page(PAGE, runs=[multi_label_id])
    assert not app.exception
    assert app.multiselect(key="runs").value == [multi_label_id]
    assert "Choose two or more runs to compare." in texts(app, "info")


def test_an_unknown_run_in_the_link_gets_a_notice(open_page, run_ids):
    app = open_page(PAGE, runs=["gone-run"])
    assert not app.exception
    assert "runs='gone-run'" in " ".join(texts(app, "warning"))


def test_compare_opens_with_a_softmax_and_a_sigmoid_run_of_one_dataset():
    from types import SimpleNamespace

    from dashboard.charts_analysis import default_comparison

    def run(run_id, dataset, mode):
        return SimpleNamespace(id=run_id, dataset=dataset, mode=mode)

    newest_first = [
        run("new-ml-cifar", "cifar10", "multi-label"),
        run("ml-mnist", "mnist-5k", "multi-label"),
        run("mc-mnist", "mnist-5k", "multi-class"),
        run("old-ml-mnist", "mnist-5k", "multi-label"),
    ]
    assert default_comparison(newest_first) == ["mc-mnist", "ml-mnist"]
    assert default_comparison(newest_first[:2]) == ["new-ml-cifar", "ml-mnist"]


def test_curve_charts_are_tall_hug_their_values_and_name_runs_shortly():
    from dashboard.charts_analysis import history_frame, metric_curves_chart, short_run_label

    long_id = "20261125-171502-mnist-5k-multi-label-3f2a"
    history = history_frame(
        {
            long_id: [{"epoch": 1, "val_accuracy": 0.97}, {"epoch": 2, "val_accuracy": 0.99}],
            "demo": [{"epoch": 1, "val_accuracy": 0.98}, {"epoch": 2, "val_accuracy": 0.985}],
        }
    )
    spec = metric_curves_chart(history, "val_accuracy").to_dict()
    assert spec["height"] >= 200
    assert spec["autosize"]["type"] == "fit-x"  # the legend below does not squash the plot
    assert spec["encoding"]["y"]["scale"]["zero"] is False
    assert spec["title"]["text"] == "Validation accuracy (argmax)"
    assert spec["encoding"]["color"]["scale"]["domain"] == [short_run_label(long_id), "demo"]
    assert short_run_label(long_id) == "20261125-…k-multi-label-3f2a"
    assert len(short_run_label(long_id)) == 28 and short_run_label("demo") == "demo"
