"""Threshold metrics, average precision and F1-tuned thresholds on hand-made outputs."""

import numpy as np
import pytest
import torch

from engine.analysis import (
    accuracy_multi,
    average_precision,
    threshold_metrics,
    tune_thresholds,
)
from engine.errors import LabelShapeError
from tests.engine.synthetic import FOUR_NAMES, FOUR_PROBABILITIES, FOUR_TARGETS

NAMES, PROBABILITIES, TARGETS = FOUR_NAMES, FOUR_PROBABILITIES, FOUR_TARGETS


def test_accuracy_multi_is_fastais_cellwise_accuracy():
    # wrong cells: image 0 fires b, image 1 fires c, image 2 misses c -> 9 of 12 right
    assert accuracy_multi(PROBABILITIES, TARGETS, 0.5) == pytest.approx(0.75)
    assert accuracy_multi(PROBABILITIES, TARGETS, 0.95) == pytest.approx(8 / 12)


def test_metrics_at_a_global_threshold():
    metrics = threshold_metrics(PROBABILITIES, TARGETS, NAMES, threshold=0.5)
    assert metrics.accuracy_multi == pytest.approx(0.75)
    assert metrics.exact_match == pytest.approx(0.25)
    table = metrics.per_class
    np.testing.assert_allclose(table.precision, [1.0, 0.5, 0.0])
    np.testing.assert_allclose(table.recall, [1.0, 1.0, 0.0])
    np.testing.assert_allclose(table.f1, [1.0, 2 / 3, 0.0])
    assert table.support.tolist() == [2, 1, 1]
    assert table.predicted.tolist() == [2, 2, 1]
    assert metrics.macro_f1 == pytest.approx(5 / 9)
    np.testing.assert_allclose(table.average_precision, [1.0, 0.5, 0.5])
    assert metrics.mean_average_precision == pytest.approx(2 / 3)


def test_average_precision_takes_tied_scores_together():
    scores = torch.tensor([[0.5], [0.5], [0.5], [0.5]])
    assert average_precision(scores, torch.tensor([[1.0], [0], [0], [0]]))[0] == 0.25
    # ranked: T, F, T -> (1/2)*1 + (1/2)*(2/3)
    ranked = torch.tensor([[0.9], [0.8], [0.7]])
    assert average_precision(ranked, torch.tensor([[1.0], [0], [1]]))[0] == pytest.approx(5 / 6)


def test_average_precision_is_nan_for_a_class_without_positives():
    result = average_precision(PROBABILITIES, torch.tensor([0, 1, 1, 0]))
    assert np.isnan(result[2])
    metrics = threshold_metrics(PROBABILITIES, torch.tensor([0, 1, 1, 0]), NAMES)
    assert metrics.mean_average_precision == pytest.approx(np.nanmean(result))
    assert metrics.to_dict()["per_class"][2]["average_precision"] is None


def test_tuned_thresholds_maximise_each_class_f1():
    thresholds = tune_thresholds(PROBABILITIES, TARGETS)
    # a: keep 0.9, 0.6 -> halfway to 0.3; b: keep 0.8, 0.7 -> halfway to 0.2;
    # c: keep 0.6, 0.25 -> halfway to the tied 0.1s
    np.testing.assert_allclose(thresholds, [0.45, 0.45, 0.175], rtol=1e-6)
    tuned = threshold_metrics(PROBABILITIES, TARGETS, NAMES, threshold=thresholds)
    np.testing.assert_allclose(tuned.per_class.f1, [1.0, 2 / 3, 2 / 3])
    assert tuned.macro_f1 == pytest.approx(7 / 9)
    assert tuned.threshold == pytest.approx([0.45, 0.45, 0.175])


def test_tuning_prefers_the_higher_threshold_on_equal_f1_and_keeps_default_without_positives():
    scores = torch.tensor([[0.9, 0.3], [0.8, 0.2], [0.7, 0.2], [0.1, 0.1]])
    targets = torch.tensor([[1.0, 0], [0, 0], [0, 0], [1, 0]])
    # class 0: keeping 1 image or all 4 both give F1 2/3 -> keep 1 (threshold 0.85)
    np.testing.assert_allclose(tune_thresholds(scores, targets, default=0.4), [0.85, 0.4])


def test_threshold_count_must_match_classes():
    with pytest.raises(LabelShapeError, match="one per class"):
        threshold_metrics(PROBABILITIES, TARGETS, NAMES, threshold=[0.5, 0.5])
    with pytest.raises(LabelShapeError, match="between 0 and 1"):
        accuracy_multi(PROBABILITIES, TARGETS, 1.0)
