"""The three readings, AUROC and calibration on hand-made logits."""

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from engine.analysis import (
    auroc,
    classwise_reliability,
    compare_runs,
    explain_readings,
    read_outputs,
    readings_frame,
    reliability,
    three_readings,
    top_label_reliability,
)
from engine.errors import RunError

# image 0: sigmoids fire classes 0 and 1 (true 0); image 1: only class 1 (true 1);
# image 2: none (true 2); image 3: only class 0 (true 1, argmax wrong too).
LOGITS = torch.tensor([[3.0, 1, -3], [-1, 2, -2], [-1, -2, -0.5], [2, -1, -1]])
TARGETS = torch.tensor([0, 1, 2, 1])


def _softmax_max(row):
    exps = [math.exp(value) for value in row]
    return max(exps) / sum(exps)


def test_auroc_from_ranks_with_ties():
    assert auroc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 0]) == pytest.approx(0.75)
    assert auroc([0.5, 0.5], [1, 0]) == pytest.approx(0.5)
    assert auroc([0.2, 0.9, 0.9, 0.1], [0, 1, 0, 0]) == pytest.approx((1 + 0.5 + 1) / 3)
    assert math.isnan(auroc([0.3, 0.4], [1, 1]))


def test_sigmoid_reading_counts_both_neither_and_exact_decisions():
    reading = read_outputs(LOGITS, TARGETS, "b", threshold=0.5)
    assert reading.accuracy == pytest.approx(0.25)  # only image 1 gets exactly its class
    assert reading.argmax_accuracy == pytest.approx(0.75)
    assert (reading.both_count, reading.neither_count) == (1, 1)
    # right: image 1 (sigmoid 2 = 0.881); wrong: 0.953, 0.378 and a tied 0.881
    assert reading.error_auroc == pytest.approx((0 + 1 + 0.5) / 3)


def test_softmax_reading_always_decides_one_class():
    reading = read_outputs(LOGITS, TARGETS, "a")
    assert reading.accuracy == pytest.approx(0.75)
    assert (reading.both_count, reading.neither_count) == (0, 0)
    confidences = [_softmax_max(row) for row in LOGITS.tolist()]
    wrong = confidences[3]
    expected = sum(c > wrong for c in confidences[:3]) / 3
    assert reading.error_auroc == pytest.approx(expected)  # 1/3: only image 1 is surer
    assert reading.calibration.expected_calibration_error == pytest.approx(
        top_label_reliability(LOGITS.softmax(dim=1), TARGETS).expected_calibration_error
    )


def test_three_readings_and_side_by_side_frame():
    readings = three_readings(LOGITS, LOGITS * 2, TARGETS)
    assert [r.key for r in readings] == ["a", "b", "c"]
    assert readings[2].trained_mode == "multi-label"
    frame = readings_frame(readings)
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame.loc["both_count", "b"] == 1
    assert frame.loc["exact_match", "a"] == pytest.approx(0.75)
    # one metric per row: no row that means argmax in one column and exact match in another
    assert "accuracy" not in frame.index and "argmax_accuracy" in frame.index


def test_explanation_is_built_from_the_numbers():
    readings = three_readings(LOGITS, LOGITS, TARGETS)
    sentence = explain_readings(readings)
    assert "Argmax accuracy (the top class is right): the softmax-trained model 75.0%" in sentence
    assert "the sigmoid-trained model 75.0%, the same." in sentence
    assert "(a) softmax argmax 75.0%" in sentence
    assert "read with sigmoids 25.0% (1 image with two or more classes, 1 with none)" in sentence
    assert "50.0 points below the better of (a) and (b)" in sentence
    assert sentence.endswith(".")
    better = torch.tensor([[3.0, -3, -3], [-3, 3, -3], [-3, -3, 3], [-3, 3, -3]])
    improved = explain_readings(three_readings(LOGITS, better, TARGETS))
    assert "(c) the sigmoid-trained model 100.0%" in improved
    assert "25.0 points above the better of (a) and (b)" in improved
    assert "25.0 points higher for the sigmoid-trained model" in improved  # argmax: 100 vs 75
    assert improved != sentence


def test_the_explanation_never_sets_exact_match_against_argmax_accuracy():
    """Both models' argmax accuracy is the same here, while the sigmoid model's exact match is
    lower: the sentence must not say the sigmoid model is worse at what softmax is scored on."""
    sigmoid_logits = torch.tensor([[3.0, 2, -3], [-3, 3, -3], [-3, -3, 3], [3, -3, -3]])
    readings = three_readings(LOGITS, sigmoid_logits, TARGETS)
    by_key = {r.key: r for r in readings}
    assert by_key["a"].argmax_accuracy == by_key["c"].argmax_accuracy
    assert by_key["c"].accuracy < by_key["a"].accuracy
    sentence = explain_readings(readings)
    assert "the same." in sentence.split("Exact match")[0]


def _fake_run(run_id, mode, logits, targets):
    return SimpleNamespace(
        id=run_id,
        config=SimpleNamespace(train=SimpleNamespace(mode=mode)),
        validation=SimpleNamespace(logits=logits, targets=targets),
    )


def test_compare_runs_in_either_order_and_refuses_mismatches():
    softmax_run = _fake_run("s", "multi-class", LOGITS, TARGETS)
    sigmoid_run = _fake_run("m", "multi-label", LOGITS * 2, TARGETS)
    forward = compare_runs(softmax_run, sigmoid_run)
    backward = compare_runs(sigmoid_run, softmax_run)
    assert [r.accuracy for r in forward] == [r.accuracy for r in backward]
    with pytest.raises(RunError, match="one multi-class"):
        compare_runs(softmax_run, _fake_run("t", "multi-class", LOGITS, TARGETS))
    other = _fake_run("o", "multi-label", LOGITS, torch.tensor([0, 1, 2, 2]))
    with pytest.raises(RunError, match="different images"):
        compare_runs(softmax_run, other)


def test_reliability_bins_and_expected_calibration_error():
    result = reliability([0.95, 0.85, 0.15, 0.05], [1, 0, 0, 1], bins=10)
    # gaps 0.05, 0.85, 0.15, 0.95, one image each
    assert result.expected_calibration_error == pytest.approx(0.5)
    assert result.bins["count"].tolist() == [1, 1, 0, 0, 0, 0, 0, 0, 1, 1]
    assert result.bins.loc[9, "accuracy"] == 1.0
    assert np.isnan(result.bins.loc[5, "confidence"])
    coarse = reliability([0.95, 0.85, 0.15, 0.05], [1, 0, 0, 1], bins=2)
    assert coarse.expected_calibration_error == pytest.approx(0.4)
    edge = reliability([0.5, 0.0, 1.0], [1, 0, 1], bins=2)
    assert edge.bins["count"].tolist() == [2, 1]  # 0.5 belongs to (0, 0.5]
    assert edge.to_dict()["bins"][0]["count"] == 2


def test_top_label_and_classwise_reliability():
    probabilities = torch.tensor([[0.8, 0.3], [0.6, 0.1]])
    targets = torch.tensor([0, 1])
    top = top_label_reliability(probabilities, targets, bins=10)
    # confidences 0.8 (right) and 0.6 (wrong)
    assert top.expected_calibration_error == pytest.approx((0.2 + 0.6) / 2)
    every = classwise_reliability(probabilities, targets, bins=10)
    # 0.8 -> 1, 0.3 -> 0, 0.6 -> 0, 0.1 -> 1
    assert every.expected_calibration_error == pytest.approx((0.2 + 0.3 + 0.6 + 0.9) / 4)
    assert every.count == 4
