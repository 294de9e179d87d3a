"""Label modes: conversion both ways, the loss and activation per mode, and clear messages for
targets that do not fit (never PyTorch's raw `Target size ... must be the same as ...`)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from engine.errors import EngineError, LabelShapeError
from engine.labels import (
    LABEL_MODES,
    activation,
    check_mode,
    check_targets,
    is_multi_hot,
    loss_function,
    targets_for_mode,
    to_multi_class,
    to_multi_label,
)


def test_the_two_modes():
    assert LABEL_MODES == ("multi-class", "multi-label")
    assert check_mode("multi-label") == "multi-label"
    with pytest.raises(LabelShapeError, match="use 'multi-class' or 'multi-label'"):
        check_mode("multilabel")


def test_label_shape_errors_are_engine_errors():
    assert issubclass(LabelShapeError, EngineError)


# --- conversion ------------------------------------------------------------------------------


def test_indices_to_one_hot_and_back():
    indices = torch.tensor([2, 0, 1, 2])
    one_hot = to_multi_label(indices, 3)
    assert one_hot.dtype == torch.float32
    assert one_hot.tolist() == [[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]]
    back = to_multi_class(one_hot)
    assert back.dtype == torch.int64
    assert torch.equal(back, indices)


def test_conversions_leave_targets_already_in_form_alone():
    multi_hot = torch.tensor([[1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    assert torch.equal(to_multi_label(multi_hot, 3), multi_hot)
    indices = torch.tensor([1, 0])
    assert torch.equal(to_multi_class(indices), indices)
    assert is_multi_hot(multi_hot) and not is_multi_hot(indices)


def test_targets_for_mode_converts_either_form():
    indices = torch.tensor([0, 2])
    one_hot = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.equal(targets_for_mode(indices, "multi-label", 3), one_hot)
    assert torch.equal(targets_for_mode(one_hot, "multi-class", 3), indices)
    assert torch.equal(targets_for_mode(indices, "multi-class", 3), indices)


def test_out_of_range_indices_name_the_valid_range():
    with pytest.raises(LabelShapeError, match=r"class indices must lie in 0\.\.2, found 0\.\.3"):
        to_multi_label(torch.tensor([0, 3]), 3)
    with pytest.raises(LabelShapeError, match=r"found -1\.\.1"):
        to_multi_label(torch.tensor([-1, 1]), 3)


def test_float_indices_say_to_use_long():
    with pytest.raises(LabelShapeError, match=r"targets\.long\(\)"):
        to_multi_label(torch.tensor([0.0, 1.0]), 3)
    with pytest.raises(LabelShapeError, match=r"targets\.long\(\)"):
        to_multi_class(torch.tensor([0.0, 1.0]))


def test_multi_hot_rows_cannot_become_one_class():
    two_labels = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(LabelShapeError) as error:
        to_multi_class(two_labels)
    message = str(error.value)
    assert "2 target rows are not one-hot (row 1 has 2 labels)" in message
    assert "'multi-label' mode" in message


def test_multi_hot_with_the_wrong_class_count():
    with pytest.raises(LabelShapeError, match="4 columns but there are 3 classes"):
        to_multi_label(torch.zeros(2, 4), 3)


def test_targets_that_are_neither_form():
    with pytest.raises(LabelShapeError, match="neither class indices"):
        to_multi_label(torch.zeros(2, 3, 4, dtype=torch.long), 3)


# --- loss and activation ---------------------------------------------------------------------


def test_loss_and_activation_per_mode():
    assert isinstance(loss_function("multi-class"), nn.CrossEntropyLoss)
    assert isinstance(loss_function("multi-label"), nn.BCEWithLogitsLoss)
    logits = torch.tensor([[2.0, 0.0, -2.0]])
    softmax = activation(logits, "multi-class")
    assert softmax.sum().item() == pytest.approx(1.0)
    sigmoid = activation(logits, "multi-label")
    assert sigmoid.tolist()[0] == pytest.approx([0.8808, 0.5, 0.1192], abs=1e-4)


def test_the_same_logits_train_in_both_modes_once_targets_are_converted():
    logits = torch.randn(4, 10)
    indices = torch.tensor([1, 7, 7, 0])
    for mode in LABEL_MODES:
        targets = targets_for_mode(indices, mode, 10)
        check_targets(logits, targets, mode)
        assert loss_function(mode)(logits, targets).item() > 0


# --- the classic mismatch ----------------------------------------------------------------------


def test_pytorch_alone_gives_the_raw_size_message():
    """What a user meets without the check: this is the message we replace."""
    with pytest.raises(ValueError, match=r"Target size .*64.* must be the same as input size"):
        nn.BCEWithLogitsLoss()(torch.randn(64, 10), torch.randint(0, 10, (64,)).float())


def test_class_indices_in_multi_label_mode_say_how_to_convert():
    with pytest.raises(LabelShapeError) as error:
        check_targets(torch.randn(64, 10), torch.randint(0, 10, (64,)), "multi-label")
    message = str(error.value)
    assert "multi-label mode needs one-hot targets of shape (64, 10)" in message
    assert "class indices of shape (64,)" in message
    assert "to_multi_label(targets, num_classes)" in message
    assert "'multi-class' mode" in message


def test_one_hot_in_multi_class_mode_says_how_to_convert():
    targets = to_multi_label(torch.tensor([0, 1]), 10)
    with pytest.raises(LabelShapeError, match=r"to_multi_class\(targets\)"):
        check_targets(torch.randn(2, 10), targets, "multi-class")


def test_head_width_mismatch_points_at_reset_classifier():
    with pytest.raises(LabelShapeError, match=r"reset_classifier\(model, num_classes\)"):
        check_targets(torch.randn(4, 10), torch.zeros(4, 3), "multi-label")
    with pytest.raises(LabelShapeError, match=r"class indices must lie in 0\.\.2"):
        check_targets(torch.randn(2, 3), torch.tensor([0, 9]), "multi-class")


def test_integer_one_hot_in_multi_label_mode_says_to_use_float():
    targets = torch.nn.functional.one_hot(torch.tensor([0, 1]), 3)
    with pytest.raises(LabelShapeError, match=r"targets\.float\(\)"):
        check_targets(torch.randn(2, 3), targets, "multi-label")


def test_batch_size_mismatch_and_float_indices_in_multi_class_mode():
    with pytest.raises(LabelShapeError, match="do not match a batch of 4 images"):
        check_targets(torch.randn(4, 3), torch.tensor([0, 1]), "multi-class")
    with pytest.raises(LabelShapeError, match=r"targets\.long\(\)"):
        check_targets(torch.randn(2, 3), torch.tensor([0.0, 1.0]), "multi-class")


def test_matching_targets_pass_silently():
    check_targets(torch.randn(3, 4), torch.tensor([0, 3, 1]), "multi-class")
    check_targets(torch.randn(3, 4), torch.zeros(3, 4), "multi-label")
