"""Training: one loop for both modes, metrics by name, callbacks that see frozen snapshots and
can stop the fit, the clear error for mismatched targets, and seeded reproducibility."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from engine.callbacks import Callback, ProgressPrinter, StopTraining, TrainState, format_metrics
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.errors import LabelShapeError
from engine.nets import DigitCNN
from engine.training import (
    channel_statistics,
    epoch_metrics,
    evaluate,
    fit,
    normalize_images,
    random_shift,
)
from tests.engine.synthetic import blocks_split

MULTI_LABEL_KEYS = {
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "val_accuracy_multi",
    "val_exact_match",
    "val_macro_f1",
    "seconds",
}


def quick_config(**changes) -> RunConfig:
    settings = {"epochs": 2, "batch_size": 8, "device": "cpu", **changes}
    return RunConfig().with_changes(**settings)


class Recorder(Callback):
    """Keeps every event and state; raises StopTraining at a chosen event."""

    def __init__(self, stop_at: tuple[str, int, int] | None = None) -> None:
        self.events: list[tuple[str, TrainState]] = []
        self.stop_at = stop_at  # (event, epoch, step)

    def _record(self, event: str, state: TrainState) -> None:
        self.events.append((event, state))
        if self.stop_at and self.stop_at == (event, state.epoch, state.step):
            raise StopTraining

    def before_fit(self, state):
        self._record("before_fit", state)

    def before_epoch(self, state):
        self._record("before_epoch", state)

    def after_batch(self, state):
        self._record("after_batch", state)

    def after_epoch(self, state):
        self._record("after_epoch", state)

    def after_fit(self, state):
        self._record("after_fit", state)

    def names(self) -> list[str]:
        return [event for event, _ in self.events]


# --- fit -------------------------------------------------------------------------------------


def test_fit_returns_history_logits_and_a_cpu_model_in_eval_mode():
    split = blocks_split()
    result = fit(quick_config(mode="multi-label"), split)
    assert [row["epoch"] for row in result.history] == [1.0, 2.0]
    assert set(result.history[0]) == MULTI_LABEL_KEYS
    assert result.valid_logits.shape == (len(split.valid), 3)
    assert result.valid_logits.dtype == torch.float32
    assert result.valid_targets is split.valid.targets
    assert not result.stopped_early and result.device == "cpu"
    assert not result.model.training
    assert all(p.device.type == "cpu" for p in result.model.parameters())


def test_multi_class_history_has_no_multi_label_metrics():
    result = fit(quick_config(mode="multi-class", epochs=1), blocks_split())
    expected = {"epoch", "train_loss", "val_loss", "val_accuracy", "seconds"}
    assert set(result.history[0]) == expected


def test_valid_logits_are_those_of_the_returned_model():
    split = blocks_split()
    result = fit(quick_config(), split)
    mean, std = result.normalization
    images = normalize_images(split.valid.images, torch.tensor(mean), torch.tensor(std), "cpu")
    with torch.no_grad():
        assert torch.allclose(result.model(images), result.valid_logits, atol=1e-5)
    last = result.history[-1]
    recomputed = epoch_metrics(result.valid_logits, split.valid.targets, "multi-label")
    assert recomputed["val_accuracy"] == pytest.approx(last["val_accuracy"])


def test_same_seed_gives_identical_weights_and_another_seed_does_not():
    split = blocks_split()
    first = fit(quick_config(seed=3), split).model.state_dict()
    second = fit(quick_config(seed=3), split).model.state_dict()
    other = fit(quick_config(seed=4), split).model.state_dict()
    assert all(torch.equal(first[key], second[key]) for key in first)
    assert not torch.equal(first["head.weight"], other["head.weight"])


def test_an_existing_model_is_trained_in_place_of_a_new_one():
    model = DigitCNN(3)
    before = model.head.weight.detach().clone()
    result = fit(quick_config(epochs=1), blocks_split(), model=model)
    assert result.model is model
    assert not torch.equal(before, model.head.weight)


def test_head_with_the_wrong_number_of_outputs_fails_before_any_batch():
    recorder = Recorder()
    with pytest.raises(LabelShapeError, match="reset_classifier"):
        fit(quick_config(mode="multi-label"), blocks_split(), [recorder], model=DigitCNN(10))
    assert recorder.events == []
    with pytest.raises(LabelShapeError, match=r"class indices must lie in 0\.\.1"):
        fit(quick_config(mode="multi-class"), blocks_split(), [recorder], model=DigitCNN(2))


def test_multi_hot_targets_cannot_train_multi_class():
    split = blocks_split()
    both = torch.zeros(len(split.train), 3)
    both[:, 0] = 1
    both[:, 1] = 1  # every image is a 0 and a 1
    two_labels = DatasetSplit("pairs", dataclasses.replace(split.train, targets=both), split.valid)
    with pytest.raises(LabelShapeError, match="train these in 'multi-label' mode"):
        fit(quick_config(mode="multi-class"), two_labels)


def test_multi_hot_targets_train_in_multi_label_mode():
    split = blocks_split()
    hot = torch.nn.functional.one_hot(split.train.targets, 3).float()
    multi_hot = DatasetSplit("hot", dataclasses.replace(split.train, targets=hot), split.valid)
    result = fit(quick_config(mode="multi-label", epochs=1), multi_hot)
    assert len(result.history) == 1


# --- callbacks -------------------------------------------------------------------------------


def test_callbacks_see_every_event_in_order_with_frozen_snapshots():
    recorder = Recorder()
    split = blocks_split()  # 36 images, batches of 8: 5 steps
    fit(quick_config(), split, [recorder])
    epoch = ["before_epoch", *["after_batch"] * 5, "after_epoch"]
    assert recorder.names() == ["before_fit", *epoch, *epoch, "after_fit"]

    batch = recorder.events[2][1]
    assert (batch.epoch, batch.step, batch.steps_per_epoch, batch.epochs) == (1, 1, 5, 2)
    assert batch.loss is not None and batch.loss > 0
    assert batch.fraction_done == pytest.approx(1 / 10)
    with pytest.raises(dataclasses.FrozenInstanceError):
        batch.loss = 0.0

    second_epoch_end = recorder.events[-2][1]
    assert second_epoch_end.metrics["epoch"] == 2.0
    assert [row["epoch"] for row in second_epoch_end.history] == [1.0, 2.0]
    assert second_epoch_end.fraction_done == 1.0
    with pytest.raises(TypeError):
        second_epoch_end.metrics["val_accuracy"] = 1.0  # type: ignore[index]
    first_epoch_end = recorder.events[7][1]
    assert len(first_epoch_end.history) == 1  # snapshots do not grow afterwards


def test_stop_training_after_an_epoch_keeps_the_epochs_finished():
    recorder = Recorder(stop_at=("after_epoch", 2, 5))
    result = fit(quick_config(epochs=5), blocks_split(), [recorder])
    assert result.stopped_early
    assert [row["epoch"] for row in result.history] == [1.0, 2.0]
    assert recorder.names()[-1] == "after_fit"
    assert recorder.events[-1][1].epoch == 2
    assert result.valid_logits.shape == (18, 3)


def test_stop_training_mid_epoch_returns_logits_for_the_weights_it_has():
    split = blocks_split()
    recorder = Recorder(stop_at=("after_batch", 1, 2))
    result = fit(quick_config(epochs=3), split, [recorder])
    assert result.stopped_early and result.history == []
    assert recorder.names().count("after_batch") == 2
    mean, std = result.normalization
    images = normalize_images(split.valid.images, torch.tensor(mean), torch.tensor(std), "cpu")
    with torch.no_grad():
        assert torch.allclose(result.model(images), result.valid_logits, atol=1e-5)


def test_progress_printer_draws_a_bar_and_prints_one_line_per_epoch(capsys):
    fit(quick_config(mode="multi-label"), blocks_split(), [ProgressPrinter(min_interval=0)])
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("epoch 1/2  train_loss ")
    assert "val_accuracy_multi" in lines[1]
    assert "\repoch 1/2 [" in captured.err and "5/5" in captured.err


def test_format_metrics_names_each_value():
    line = format_metrics({"epoch": 3.0, "train_loss": 0.25, "seconds": 1.26}, epochs=8)
    assert line == "epoch 3/8  train_loss 0.2500  1.3s"


# --- metrics ---------------------------------------------------------------------------------


def test_multi_class_metrics_on_hand_made_logits():
    logits = torch.tensor([[2.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 1.0], [5.0, 0.0, 0.0]])
    targets = torch.tensor([0, 1, 2, 1])
    metrics = epoch_metrics(logits, targets, "multi-class")
    assert metrics["val_accuracy"] == pytest.approx(0.75)
    expected = torch.nn.functional.cross_entropy(logits, targets).item()
    assert metrics["val_loss"] == pytest.approx(expected)
    assert set(metrics) == {"val_loss", "val_accuracy"}


def test_multi_label_metrics_on_hand_made_logits():
    logits = torch.tensor(
        [
            [4.0, -4.0, -4.0],  # right: only class 0
            [-4.0, 4.0, 4.0],  # argmax right (class 1), but claims class 2 too
            [-4.0, -4.0, -4.0],  # no class at all: argmax (0) is wrong, two decisions wrong
            [-4.0, -4.0, 5.0],  # right
        ]
    )
    targets = torch.tensor([0, 1, 2, 2])
    metrics = epoch_metrics(logits, targets, "multi-label", threshold=0.5)
    assert metrics["val_accuracy"] == pytest.approx(3 / 4)
    assert metrics["val_accuracy_multi"] == pytest.approx(10 / 12)
    assert metrics["val_exact_match"] == pytest.approx(2 / 4)
    # class 0: tp1 fp0 fn0 -> 1; class 1: tp1 -> 1; class 2: tp1 fp1 fn1 -> 2/4
    assert metrics["val_macro_f1"] == pytest.approx((1 + 1 + 0.5) / 3)
    one_hot = torch.nn.functional.one_hot(targets, 3).float()
    expected = torch.nn.functional.binary_cross_entropy_with_logits(logits, one_hot).item()
    assert metrics["val_loss"] == pytest.approx(expected)


def test_a_dead_multi_label_model_scores_high_accuracy_multi_but_nothing_else():
    logits = torch.full((20, 10), -3.0)  # "no class" everywhere
    targets = torch.arange(10).repeat(2)
    metrics = epoch_metrics(logits, targets, "multi-label")
    assert metrics["val_accuracy_multi"] == pytest.approx(0.9)
    assert metrics["val_exact_match"] == 0.0
    assert metrics["val_macro_f1"] == 0.0
    assert metrics["val_accuracy"] == pytest.approx(0.1)  # argmax of ties picks class 0


def test_threshold_moves_accuracy_multi():
    logits = torch.tensor([[0.5, -3.0]])  # sigmoid 0.62 for the true class
    targets = torch.tensor([0])
    assert epoch_metrics(logits, targets, "multi-label", 0.5)["val_exact_match"] == 1.0
    assert epoch_metrics(logits, targets, "multi-label", 0.7)["val_exact_match"] == 0.0


def test_multi_hot_argmax_accuracy_counts_any_true_label_and_skips_empty_rows():
    logits = torch.tensor([[3.0, 2.0, -5.0], [-5.0, -5.0, 3.0], [-5.0, -5.0, -5.0]])
    targets = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0], [0.0, 0.0, 0.0]])
    metrics = epoch_metrics(logits, targets, "multi-label")
    assert metrics["val_accuracy"] == pytest.approx(1 / 2)  # row 0 wrong, row 1 right
    assert metrics["val_exact_match"] == pytest.approx(2 / 3)  # rows 1 and 2


def test_evaluate_returns_metrics_and_cpu_logits():
    model = DigitCNN(3)
    images = torch.randn(5, 1, 28, 28)
    metrics, logits = evaluate(model, images, torch.tensor([0, 1, 2, 0, 1]), "multi-class")
    assert logits.shape == (5, 3) and not model.training
    assert set(metrics) == {"val_loss", "val_accuracy"}


# --- data preparation ------------------------------------------------------------------------


def test_channel_statistics_and_normalisation():
    images = torch.zeros(2, 2, 1, 2, dtype=torch.uint8)
    images[0, 0] = 255  # channel 0: half 1.0, half 0.0; channel 1: all 0
    mean, std = channel_statistics(images)
    assert mean.tolist() == pytest.approx([0.5, 0.0])
    assert std[0].item() == pytest.approx(math.sqrt(1 / 3))  # unbiased over 4 pixels
    normalised = normalize_images(images, mean, std, torch.device("cpu"))
    assert normalised[:, 0].mean().item() == pytest.approx(0.0, abs=1e-6)
    assert normalised.dtype == torch.float32


def test_random_shift_translates_whole_images():
    images = torch.zeros(16, 1, 9, 9)
    images[:, 0, 4, 4] = 1.0  # one lit pixel in the centre of each image
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0), groups=4)
    assert shifted.shape == images.shape
    assert torch.equal(shifted.sum(dim=(1, 2, 3)), torch.ones(16))  # nothing lost or doubled
    positions = shifted.flatten(1).argmax(dim=1)
    rows, cols = positions // 9, positions % 9
    assert ((rows - 4).abs() <= 2).all() and ((cols - 4).abs() <= 2).all()
    assert len(set(positions.tolist())) > 1
    assert torch.equal(random_shift(images, 0, torch.Generator()), images)


def test_cpu_training_uses_the_configured_threads_and_restores_them():
    class ThreadWatcher(Callback):
        def __init__(self) -> None:
            self.seen: list[int] = []

        def after_batch(self, state):
            self.seen.append(torch.get_num_threads())

    torch.set_num_threads(2)
    watcher = ThreadWatcher()
    fit(quick_config(epochs=1, cpu_threads=1), blocks_split(), [watcher])
    assert set(watcher.seen) == {1}
    assert torch.get_num_threads() == 2
