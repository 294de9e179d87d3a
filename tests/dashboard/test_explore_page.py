"""Explore page under AppTest: the numbers it shows are the engine's, the threshold moves them,
and a shared link's query parameters bring the same view back (or a notice when invalid)."""

from __future__ import annotations

import pytest

from engine.analysis import confused_pairs, firing_sets, tune_thresholds
from engine.labels import activation
from engine.runs import RunStore
from tests.dashboard.conftest import metrics, texts

PAGE = "views/explore.py"


def engine_view(run_id: str, threshold):
    """What the engine says about the run at `threshold`: (firing sets, ranked pairs)."""
    run = RunStore().load_run(run_id)
    probabilities = activation(run.validation.logits, "multi-label")
    targets, names = run.validation.targets, run.class_names
    if threshold == "tuned":
        threshold = tune_thresholds(probabilities, targets)
    return (
        firing_sets(probabilities, targets, names, threshold),
        confused_pairs(probabilities, targets, names, threshold),
    )


def page_counts(app) -> tuple[int, int]:
    shown = metrics(app)
    return (
        int(shown["Both (2+ fire)"].replace(",", "")),
        int(shown["Neither (none fires)"].replace(",", "")),
    )


@pytest.mark.slow
def test_explore_shows_the_engines_counts_and_pair_ranking(open_page, run_id):
    app = open_page(PAGE, run=run_id)
    assert not app.exception
    sets, pairs = engine_view(run_id, 0.5)
    assert page_counts(app) == (sets.both_count, sets.neither_count)
    table = app.dataframe[0].value
    expected = [f"{a}-{b}" for a, b in zip(pairs["a"], pairs["b"], strict=True)]
    assert list(table["pair"]) == expected
    assert list(table["both fire"]) == list(pairs["both_count"])
    # the strongest pair is chosen by default and described in words
    assert app.selectbox(key="pair").value == expected[0]
    a, b = expected[0].split("-")
    assert f"{a} or {b}?" in texts(app, "subheader")


@pytest.mark.slow
def test_counts_follow_the_threshold_slider(open_page, run_id):
    app = open_page(PAGE, run=run_id)
    low, high = 0.1, 0.9
    app.slider(key="threshold").set_value(low).run()
    low_counts = page_counts(app)
    app.slider(key="threshold").set_value(high).run()
    high_counts = page_counts(app)
    low_sets, _ = engine_view(run_id, low)
    high_sets, _ = engine_view(run_id, high)
    assert low_counts == (low_sets.both_count, low_sets.neither_count)
    assert high_counts == (high_sets.both_count, high_sets.neither_count)
    # a low threshold lets more classes fire together, a high one leaves more with none
    assert low_counts[0] >= high_counts[0] and low_counts[1] <= high_counts[1]
    assert low_counts != high_counts


@pytest.mark.slow
def test_tuned_per_class_thresholds_are_the_engines(open_page, run_id):
    app = open_page(PAGE, run=run_id, per_class="true")
    assert app.toggle(key="per_class").value is True
    assert app.slider(key="threshold").disabled
    sets, _ = engine_view(run_id, "tuned")
    assert page_counts(app) == (sets.both_count, sets.neither_count)
    assert any(text.startswith("Tuned thresholds: 0:") for text in texts(app, "caption"))


@pytest.mark.slow
def test_a_share_link_restores_run_threshold_and_pair(open_page, run_id):
    _, pairs = engine_view(run_id, 0.3)
    second = f"{pairs['a'].iloc[1]}-{pairs['b'].iloc[1]}"
    app = open_page(PAGE, run=run_id, threshold="0.3", pair=second)
    assert not app.exception and not app.warning
    assert app.selectbox(key="run").value == run_id
    assert app.slider(key="threshold").value == pytest.approx(0.3)
    assert app.selectbox(key="pair").value == second
    a, b = second.split("-")
    assert f"{a} or {b}?" in texts(app, "subheader")
    link = app.sidebar.code[0].value
    assert "/explore?" in link
    for part in (f"run={run_id}", "threshold=0.3", f"pair={second}"):
        assert part in link


@pytest.mark.slow
def test_invalid_link_values_fall_back_with_a_notice(open_page, run_id):
    app = open_page(PAGE, run=run_id, threshold="seven", pair="4-4")
    assert not app.exception
    notices = " ".join(texts(app, "warning"))
    assert "threshold='seven'" in notices and "pair='4-4'" in notices
    assert app.slider(key="threshold").value == pytest.approx(0.5)
    _, pairs = engine_view(run_id, 0.5)
    assert app.selectbox(key="pair").value == f"{pairs['a'].iloc[0]}-{pairs['b'].iloc[0]}"


@pytest.mark.slow
def test_an_unknown_run_in_the_link_falls_back_to_a_saved_run(open_page, run_id):
    app = open_page(PAGE, run="no-such-run")
    assert not app.exception
    assert "run='no-such-run'" in " ".join(texts(app, "warning"))
    assert app.selectbox(key="run").value in {s.id for s in RunStore().list_runs()}
    assert metrics(app)["Validation images"]


def test_pair_points_and_gallery_captions_from_hand_made_outputs():
    import torch

    from dashboard.tables import gallery, pair_points
    from engine.images import to_display

    names = ("1", "4", "7")
    probabilities = torch.tensor(
        [[0.9, 0.1, 0.6], [0.2, 0.7, 0.1], [0.3, 0.2, 0.8], [0.1, 0.1, 0.1]]
    )
    targets = torch.tensor([0, 1, 2, 0])
    points = pair_points(probabilities, targets, names, 0, 2)  # the pair 1-7
    assert list(points["index"]) == [0, 2, 3]  # the 4 (image 1) is not behind any point
    assert list(points["true"]) == ["1", "7", "1"]
    assert list(points["sigmoid_a"]) == pytest.approx([0.9, 0.3, 0.1])
    assert list(points["sigmoid_b"]) == pytest.approx([0.6, 0.8, 0.1])
    images = torch.arange(4 * 1 * 2 * 2, dtype=torch.uint8).reshape(4, 1, 2, 2)
    shown = gallery(images, [0, 3], probabilities, targets, names, threshold=0.5)
    assert shown.captions == ["true 1 → 1+7", "true 1 → none"]
    assert shown.images[1].tolist() == [[12, 13], [14, 15]]
    ranked = gallery(images, [2], probabilities, targets, names)
    assert ranked.captions == ["true 7 → 7:0.80 1:0.30"]
    colour = torch.zeros(3, 4, 5, dtype=torch.uint8)
    assert to_display(colour).shape == (4, 5, 3)
    assert to_display(colour.numpy()).shape == (4, 5, 3)
    assert to_display(torch.zeros(1, 4, 5, dtype=torch.uint8)).shape == (4, 5)


def test_galleries_show_the_most_striking_images_first():
    import torch

    from dashboard.tables import most_striking

    probabilities = torch.tensor(
        [[0.9, 0.6, 0.0], [0.8, 0.9, 0.1], [0.4, 0.3, 0.2], [0.1, 0.45, 0.0], [0.7, 0.5, 0.65]]
    )
    # both: by the second-highest sigmoid, the most two-sided first
    assert most_striking([0, 1, 4], probabilities, "both").tolist() == [1, 4, 0]
    # neither: by the highest sigmoid, the nearest to firing first
    assert most_striking([2, 3], probabilities, "neither").tolist() == [3, 2]
    assert most_striking([], probabilities, "both").tolist() == []


def test_the_per_class_bars_keep_their_height_and_count_in_whole_images():
    import pandas as pd

    from dashboard.charts_analysis import class_counts_chart

    spec = class_counts_chart(pd.DataFrame({"class": ["0", "1"], "count": [3, 0]}), "x").to_dict()
    assert spec["height"] == 150 and spec["autosize"]["type"] == "fit-x"
    assert spec["encoding"]["y"]["axis"]["tickMinStep"] == 1
