"""One rule for "fires": a sigmoid at or above the threshold, the same in training metrics,
the analysis, prediction and the charts, so a sigmoid equal to the threshold fires everywhere."""

from __future__ import annotations

import torch

from engine.analysis import firing_sets, threshold_metrics
from engine.analysis.thresholds import accuracy_multi
from engine.labels import fires, nearly_fires
from engine.training import epoch_metrics

NAMES = ("a", "b", "c")
# Logit 0 gives a sigmoid of exactly 0.5: class a sits on the threshold in every row.
LOGITS = torch.tensor([[0.0, -6.0, -6.0], [0.0, -6.0, -6.0]])
TARGETS = torch.tensor([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0]])


def test_a_sigmoid_equal_to_the_threshold_fires():
    assert fires(torch.tensor([0.5, 0.4999]), 0.5).tolist() == [True, False]


def test_near_misses_are_the_classes_within_a_tenth_below():
    sigmoids = torch.tensor([0.5, 0.49, 0.41, 0.39])
    assert nearly_fires(sigmoids, 0.5).tolist() == [False, True, True, False]


def test_training_metrics_count_the_threshold_as_fired():
    metrics = epoch_metrics(LOGITS, TARGETS, "multi-label", threshold=0.5)
    assert metrics["val_exact_match"] == 1.0
    assert metrics["val_macro_f1"] == 1.0


def test_analysis_counts_the_threshold_as_fired():
    probabilities = LOGITS.sigmoid()
    assert threshold_metrics(probabilities, TARGETS, NAMES, 0.5).exact_match == 1.0
    assert accuracy_multi(probabilities, TARGETS, 0.5) == 1.0
    assert firing_sets(probabilities, TARGETS, NAMES, 0.5).neither_count == 0


def test_gallery_captions_count_the_threshold_as_fired():
    from dashboard import tables

    images = torch.zeros(2, 1, 4, 4, dtype=torch.uint8)
    shown = tables.gallery(images, [0], LOGITS.sigmoid(), TARGETS, NAMES, 0.5)
    assert shown.captions == ["true a → a"]
