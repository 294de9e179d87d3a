"""On the shipped demo runs, Predict and Explore agree on every count at every threshold.

Predict's path: the saved model run on the prepared validation images (as predict_prepared
does), its logits read by read_logits at each threshold. Explore's: the analysis of the saved
validation logits. Both fire the same classes on the same images, so "both", "neither",
per-class firings, exact match and the softmax verdicts match."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from engine.analysis import confusion_matrix, firing_sets, threshold_metrics
from engine.labels import activation
from engine.prediction import predict_prepared, predict_tensor, read_logits
from engine.runs import RunStore

pytestmark = pytest.mark.slow  # trains or reads real models for many seconds; CI runs it

# Every value Explore's slider (0.01..0.99) and Predict's (0.05..0.95) can take.
THRESHOLDS = [round(0.01 * step, 2) for step in range(1, 100)]


@pytest.mark.parametrize("run_id", ["demo", "demo-softmax", "demo-pairs"])
def test_predict_and_explore_agree_on_every_count_at_every_threshold(run_id):
    run = RunStore(include_demo=True).load_run(run_id)
    names, targets = run.class_names, run.validation.targets
    probabilities = activation(run.validation.logits, "multi-label")  # Explore's reading
    multi_hot = targets if targets.ndim == 2 else F.one_hot(targets.long(), len(names))
    truth = [{names[k] for k in torch.nonzero(row).flatten().tolist()} for row in multi_hot]
    # One forward pass of Predict's, read at every threshold.
    logits = predict_tensor(run.model, run.validation.images, run.normalization)
    for threshold in THRESHOLDS:
        predictions = read_logits(run, logits, threshold)
        fired = [set(prediction.fired) for prediction in predictions]
        sets = firing_sets(probabilities, targets, names, threshold)
        metrics = threshold_metrics(probabilities, targets, names, threshold)
        where = f"{run_id} at {threshold}"
        assert sum(len(f) >= 2 for f in fired) == sets.both_count, where
        assert sum(len(f) == 0 for f in fired) == sets.neither_count, where
        per_class = [sum(name in f for f in fired) for name in names]
        assert per_class == list(metrics.per_class["predicted"]), where
        exact = np.mean([f == t for f, t in zip(fired, truth, strict=True)])
        assert exact == pytest.approx(metrics.exact_match), where
        if run.reading == "sigmoid":
            assert all(set(p.verdict) == f for p, f in zip(predictions, fired, strict=True))
    # The softmax verdict does not move with the threshold; it is Explore's argmax.
    predictions = predict_prepared(run, run.validation.images, 0.5)
    if run.reading == "softmax":
        confusion = confusion_matrix(run.validation.logits, targets, names)
        winners = [names.index(p.verdict[0]) for p in predictions]
        right = sum(w == int(t) for w, t in zip(winners, targets, strict=True))
        assert right == int(np.trace(confusion.to_numpy()))
