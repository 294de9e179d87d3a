"""The forum's error reproduced on one real batch: class-index targets against BCE's one
float per logit, with the user's own batch size and class count, and the fix (one-hot)."""

from __future__ import annotations

import pytest

from engine.config import DataConfig
from engine.datasets.loading import load_dataset
from engine.lessons import reproduce_forum_error
from tests.engine.synthetic import blocks_split


@pytest.mark.parametrize("batch_size", [64, 17])
def test_mnist_gives_the_forums_exact_message_with_the_users_numbers(batch_size):
    error = reproduce_forum_error(load_dataset(DataConfig()), batch_size=batch_size)
    flat = batch_size * 10
    assert error.flat_message == (
        f"Target size (torch.Size([{batch_size}])) must be the same as input size "
        f"(torch.Size([{flat}]))"
    )
    assert error.flattened_logits == flat and error.logits_shape == (batch_size, 10)
    assert error.index_targets_shape == (batch_size,)
    assert f"torch.Size([{batch_size}, 10])" in error.plain_message
    assert "to_multi_label" in error.engine_message
    assert f"({batch_size}, 10)" in error.engine_message
    assert error.fixed_targets_shape == (batch_size, 10)
    assert error.first_one_hot[error.first_index] == 1 and sum(error.first_one_hot) == 1
    assert 0 < error.fixed_loss < 5 and 0 < error.cross_entropy_loss < 10
    assert not error.multi_hot_data


def test_another_class_count_and_a_batch_larger_than_the_data():
    split = blocks_split(per_class=4, num_classes=3)
    error = reproduce_forum_error(split, batch_size=500, model="mlp")
    assert error.batch_size == 12 and error.num_classes == 3
    assert "torch.Size([12])" in error.flat_message and "torch.Size([36])" in error.flat_message


def test_a_multi_label_dataset_is_flagged():
    error = reproduce_forum_error(load_dataset(DataConfig(dataset="two-digits")), batch_size=8)
    assert error.multi_hot_data and error.fixed_targets_shape == (8, 10)
