"""Co-activation, confusion, confused pairs and both/neither on four hand-made images."""

import numpy as np
import pytest
import torch

from engine.analysis import coactivation, confused_pairs, confusion_matrix, firing_sets
from engine.errors import LabelShapeError
from tests.engine.synthetic import FOUR_NAMES, FOUR_PROBABILITIES, FOUR_TARGETS

NAMES, PROBABILITIES, TARGETS = FOUR_NAMES, FOUR_PROBABILITIES, FOUR_TARGETS


def test_coactivation_counts_images_where_both_fire():
    result = coactivation(PROBABILITIES, TARGETS, NAMES, threshold=0.5)
    np.testing.assert_array_equal(result.counts, [[2, 1, 0], [1, 2, 1], [0, 1, 1]])


def test_strength_is_mean_minimum_over_the_pairs_own_images():
    result = coactivation(PROBABILITIES, TARGETS, NAMES, threshold=0.5)
    # a/b: images 0, 1, 3 are truly a or b: min = 0.8, 0.2, 0.1
    assert result.strength[0, 1] == pytest.approx(1.1 / 3)
    # a/c: images 0, 2, 3: 0.1, 0.25, 0.1;  b/c: images 1, 2: 0.6, 0.2
    assert result.strength[0, 2] == pytest.approx(0.45 / 3)
    assert result.strength[1, 2] == pytest.approx(0.4)
    np.testing.assert_allclose(result.strength, result.strength.T)
    assert result.mean_minimum[0, 1] == pytest.approx(1.3 / 4)
    assert result.strength[1, 1] == 0


def test_without_targets_strength_is_the_mean_over_all_images():
    result = coactivation(PROBABILITIES, None, NAMES)
    assert result.strength[1, 2] == pytest.approx(1.0 / 4)


def test_coactivation_frame_has_one_row_per_ordered_pair():
    frame = coactivation(PROBABILITIES, TARGETS, NAMES).to_frame()
    assert len(frame) == 6
    row = frame[(frame.a == "c") & (frame.b == "b")].iloc[0]
    assert row["count"] == 1
    assert row["strength"] == pytest.approx(0.4)


def test_per_class_thresholds_change_what_fires():
    result = coactivation(PROBABILITIES, TARGETS, NAMES, threshold=[0.5, 0.75, 0.2])
    # b fires only on image 0 now; c fires on images 1 and 2
    np.testing.assert_array_equal(result.counts, [[2, 1, 0], [1, 1, 0], [0, 0, 2]])


def test_confusion_matrix_from_argmax():
    matrix = confusion_matrix(PROBABILITIES, TARGETS, NAMES)
    np.testing.assert_array_equal(matrix.to_numpy(), [[2, 0, 0], [0, 1, 0], [1, 0, 0]])
    assert matrix.loc["c", "a"] == 1


def test_confused_pairs_ranked_by_strength_with_counts_and_examples():
    pairs = confused_pairs(PROBABILITIES, TARGETS, NAMES, threshold=0.5)
    assert list(zip(pairs.a, pairs.b, strict=True)) == [("b", "c"), ("a", "b"), ("a", "c")]
    np.testing.assert_allclose(pairs.strength, [0.4, 1.1 / 3, 0.15], rtol=1e-6)
    first = pairs.iloc[0]
    assert (first.both_count, first.true_a, first.true_b, first.true_other) == (1, 1, 0, 0)
    assert first.true_both == 0
    assert first.share_true_a == 1.0
    assert first.examples == [1, 2]  # images truly b or c, most ambiguous first
    assert pairs.iloc[1].examples == [0, 1, 3]
    last = pairs.iloc[2]
    assert (last.confused_a_as_b, last.confused_b_as_a) == (0, 1)  # the c read as a
    assert np.isnan(last.share_true_a)  # a and c never fire together


def test_confused_pairs_top_and_example_limit():
    pairs = confused_pairs(PROBABILITIES, TARGETS, NAMES, top=1, examples=1)
    assert len(pairs) == 1
    assert pairs.iloc[0].examples == [1]


def test_both_and_neither_sets_with_counts_per_true_class():
    sets = firing_sets(PROBABILITIES, TARGETS, NAMES, threshold=0.5)
    np.testing.assert_array_equal(sets.both, [0, 1])
    np.testing.assert_array_equal(sets.neither, [2])
    assert (sets.both_count, sets.neither_count) == (2, 1)
    np.testing.assert_array_equal(sets.fired_count, [2, 2, 0, 1])
    assert sets.per_class.loc["a"].tolist() == [2, 1, 0]
    assert sets.per_class.loc["b"].tolist() == [1, 1, 0]
    assert sets.per_class.loc["c"].tolist() == [1, 0, 1]


def test_both_and_neither_without_targets():
    sets = firing_sets(PROBABILITIES, None, NAMES, threshold=0.65)
    np.testing.assert_array_equal(sets.both, [0])  # image 1 now fires only b
    np.testing.assert_array_equal(sets.neither, [2, 3])
    assert sets.per_class["images"].isna().all()


def test_multi_hot_targets_count_each_true_class():
    multi_hot = torch.tensor([[1.0, 1, 0], [0, 1, 0], [0, 0, 1], [1, 0, 0]])
    pairs = confused_pairs(PROBABILITIES, multi_hot, NAMES)
    a_b = pairs[(pairs.a == "a") & (pairs.b == "b")].iloc[0]
    # image 0 really holds a and b: firing both is right, so it counts as true_both and
    # leaves the strength, now over images 1 (b, min 0.2) and 3 (a, min 0.1)
    assert (a_b.true_a, a_b.true_b, a_b.true_both, a_b.true_other) == (0, 0, 1, 0)
    assert a_b.strength == pytest.approx(0.15)
    assert a_b.examples == [1, 3]
    sets = firing_sets(PROBABILITIES, multi_hot, NAMES)
    assert sets.per_class.loc["b"].tolist() == [2, 2, 0]


def test_numpy_input_and_mismatched_targets():
    result = coactivation(PROBABILITIES.numpy(), TARGETS.numpy(), NAMES)
    assert result.counts[0, 1] == 1
    with pytest.raises(LabelShapeError, match="same validation set"):
        coactivation(PROBABILITIES, TARGETS[:3], NAMES)
    with pytest.raises(LabelShapeError, match="0..2"):
        coactivation(PROBABILITIES, torch.tensor([0, 1, 2, 3]), NAMES)


def test_many_classes_are_computed_in_blocks(monkeypatch):
    """A bounded block of minimums gives the same answer as one big block."""
    import engine.analysis.pairs as module

    generator = torch.Generator().manual_seed(0)
    probabilities = torch.rand(50, 12, generator=generator)
    targets = torch.randint(0, 12, (50,), generator=generator)
    names = [str(i) for i in range(12)]
    whole = confused_pairs(probabilities, targets, names)
    monkeypatch.setattr(module, "_BLOCK_ELEMENTS", 120)  # 2 pairs per block
    blocked = confused_pairs(probabilities, targets, names)
    np.testing.assert_allclose(blocked.strength, whole.strength)
    assert blocked.examples.tolist() == whole.examples.tolist()
