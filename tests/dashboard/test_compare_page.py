"""Compare page under AppTest: runs side by side, the three readings with the sentence the engine
writes from their numbers, and the measured non-digit "neither" rates."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest

from dashboard import session
from engine import training_jobs
from engine.analysis.readings import compare_runs, explain_readings
from engine.runs import RunStore
from tests.dashboard.conftest import texts

PAGE = "views/compare.py"


@pytest.fixture
def run_ids(tiny_store) -> tuple[str, str]:
    """(multi-label id, multi-class id) in the run store the page reads."""
    return tiny_store.multi_label, tiny_store.multi_class


@pytest.mark.slow
def test_a_fresh_copy_opens_with_the_demo_pair_and_the_three_readings(open_page):
    app = open_page(PAGE)  # an empty run store: only the shipped demo runs
    assert not app.exception and not app.error
    assert [title.value for title in app.title] == ["Compare"]
    assert app.multiselect(key="runs").value == ["demo-softmax", "demo"]
    store = RunStore()
    readings = compare_runs(store.load_run("demo-softmax"), store.load_run("demo"), 0.5)
    assert explain_readings(readings) in texts(app, "info")
    table = app.dataframe[1].value
    assert list(table.columns) == ["(a)", "(b)", "(c)"]
    # the long titles are a caption above, not a truncated first row
    assert "title" not in table.index and "both_count" in table.index
    titles = " · ".join(f"**({r.key})** {r.title}" for r in readings)
    assert titles in texts(app, "caption")


@pytest.mark.slow
def test_two_runs_side_by_side_with_the_three_readings(open_page, run_ids, tiny_runs):
    multi_label_id, multi_class_id = run_ids
    app = open_page(PAGE)
    assert not app.exception and not app.error
    # opens with the softmax-trained and sigmoid-trained runs of the same data
    assert set(app.multiselect(key="runs").value) == {multi_label_id, multi_class_id}
    table = app.dataframe[0].value
    store = RunStore(tiny_runs.root)
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


@pytest.mark.slow
def test_the_threshold_changes_the_sigmoid_readings(open_page, run_ids, tiny_runs):
    multi_label_id, multi_class_id = run_ids
    store = RunStore(tiny_runs.root)
    softmax_run, sigmoid_run = store.load_run(multi_class_id), store.load_run(multi_label_id)
    app = open_page(PAGE, threshold="0.2")
    assert app.slider(key="threshold").value == pytest.approx(0.2)
    expected = explain_readings(compare_runs(softmax_run, sigmoid_run, 0.2))
    assert expected in texts(app, "info")
    assert expected != explain_readings(compare_runs(softmax_run, sigmoid_run, 0.8))


@pytest.mark.slow
def test_one_run_is_offered_its_saved_twin(open_page, run_ids):
    multi_label_id, multi_class_id = run_ids
    app = open_page(PAGE, runs=[multi_label_id])
    assert not app.exception
    assert app.multiselect(key="runs").value == [multi_label_id]
    assert not any(button.label.startswith("Train the") for button in app.button)
    choose = next(button for button in app.button if button.label.startswith("Compare with"))
    assert choose.label == f"Compare with {multi_class_id}"
    choose.click().run()
    assert app.multiselect(key="runs").value == [multi_label_id, multi_class_id]
    assert list(app.dataframe[1].value.columns) == ["(a)", "(b)", "(c)"]


@pytest.mark.slow
def test_a_run_without_a_twin_gets_one_trained_and_chosen(open_page, runs_dir, tiny_runs):
    root, multi_label_id, _ = tiny_runs
    shutil.copytree(root / multi_label_id, runs_dir / multi_label_id)  # alone in this store
    app = open_page(PAGE, runs=[multi_label_id])
    assert "Choose one more run, or train" in " ".join(texts(app, "info"))
    train = next(button for button in app.button if button.label.startswith("Train the"))
    assert train.label == "Train the multi-class twin"
    train.click().run()
    assert not app.exception and not app.error
    job = training_jobs.get_job(app.session_state[session.JOB_KEY])
    assert job.config.train.mode == "multi-class"
    assert job.config.with_changes(mode="multi-label") == RunStore().load_run(multi_label_id).config
    assert app.get("progress")  # the twin's progress, polled by a fragment
    final = job.wait(60)
    assert final.state == "done", final.error

    app.run()
    assert app.multiselect(key="runs").value == [multi_label_id, final.run_id]
    assert f"twin is trained and chosen: {final.run_id}" in app.success[0].value
    assert list(app.dataframe[1].value.columns) == ["(a)", "(b)", "(c)"]  # the three readings


@pytest.mark.slow
def test_an_unknown_run_in_the_link_gets_a_notice(open_page, run_ids):
    app = open_page(PAGE, runs=["gone-run"])
    assert not app.exception
    assert "runs='gone-run'" in " ".join(texts(app, "warning"))


def test_compare_opens_with_a_softmax_and_a_sigmoid_run_of_one_dataset():
    from engine.run_pairing import default_comparison

    def run(run_id, dataset, mode, read_only=False):
        return SimpleNamespace(id=run_id, dataset=dataset, mode=mode, read_only=read_only)

    demos = [
        run("demo", "mnist-5k", "multi-label", True),
        run("demo-sm", "mnist-5k", "multi-class", True),
    ]
    newest_first = [
        run("new-ml-cifar", "cifar10", "multi-label"),
        run("ml-mnist", "mnist-5k", "multi-label"),
        run("mc-mnist", "mnist-5k", "multi-class"),
        run("old-ml-mnist", "mnist-5k", "multi-label"),
    ]
    assert default_comparison(newest_first + demos) == ["mc-mnist", "ml-mnist"]
    # no pair of the user's own: the demo pair, never a user's run beside a demo run
    assert default_comparison(newest_first[:2] + demos) == ["demo-sm", "demo"]
    assert default_comparison(demos) == ["demo-sm", "demo"]
    assert default_comparison(newest_first[:2]) == ["new-ml-cifar", "ml-mnist"]


def test_curve_charts_are_tall_hug_their_values_and_name_runs_shortly():
    from dashboard.charts_analysis import metric_curves_chart, short_run_label
    from dashboard.tables import history_frame

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


@pytest.mark.slow
def test_a_metric_a_run_lacks_is_a_dash_not_none(open_page, run_ids):
    multi_label_id, multi_class_id = run_ids
    app = open_page(PAGE)
    table = app.dataframe[0]
    numbers = table.value.set_index("run")
    # a softmax run has no accuracy_multi: missing underneath, drawn as a dash
    assert pd.isna(numbers.loc[multi_class_id, "val_accuracy_multi"])
    assert not pd.isna(numbers.loc[multi_label_id, "val_accuracy_multi"])
    assert table.proto.placeholder == "—"


def _multi_label_data_run(kind: str, root: Path) -> str:
    """A tiny sigmoid run on data whose images carry several labels: the two-digits set, or
    an uploaded multi-label CSV set."""
    from engine.config import RunConfig
    from engine.pipeline import train_run
    from tests.engine.labelled_data import zip_bytes

    dataset = "two-digits"
    if kind == "csv":
        archive = root / "pascal.zip"
        archive.write_bytes(zip_bytes(count=48))
        dataset = f"zip:{archive}"
    config = RunConfig().with_changes(
        dataset=dataset, epochs=1, limit=200, batch_size=32, device="cpu", cpu_threads=1
    )
    return train_run(config, RunStore(root / "runs"))


@pytest.mark.parametrize("kind", ["two-digits", "csv"])
@pytest.mark.slow
def test_a_run_on_multi_label_data_is_offered_no_softmax_twin(
    open_page, tmp_path, monkeypatch, kind
):
    run_id = _multi_label_data_run(kind, tmp_path)
    monkeypatch.setenv("LME_RUNS_DIR", str(tmp_path / "runs"))
    assert RunStore(tmp_path / "runs").load_run(run_id).mode == "multi-label"
    app = open_page(PAGE, runs=[run_id])
    assert not app.exception and not app.error
    assert app.multiselect(key="runs").value == [run_id]
    said = " ".join(texts(app, "info"))
    assert "there is no softmax twin to compare" in said
    assert "several labels, or none, has no class index" in said  # and why
    assert not [button.label for button in app.button if "twin" in button.label]
    assert not [button.label for button in app.button if button.label.startswith("Compare with")]
