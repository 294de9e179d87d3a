"""Teaching "none": two tiny sigmoid models, without and with all-zero examples."""

import json

import pytest
import torch

from engine.analysis import teach_none
from engine.config import ModelConfig, RunConfig, TrainConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.errors import EngineError


def _bars(count: int, seed: int) -> ImageDataset:
    """Class "|" is a vertical bar, class "-" a horizontal one, on faint noise."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 30, (2 * count, 1, 28, 28), generator=generator).to(torch.uint8)
    images[:count, 0, 4:24, 12:16] = 255
    images[count:, 0, 12:16, 4:24] = 255
    return ImageDataset(images, torch.tensor([0] * count + [1] * count), ("|", "-"))


def test_teaching_none_makes_unseen_non_digits_neither_and_keeps_digits():
    split = DatasetSplit("bars", _bars(30, 0), _bars(10, 1))
    config = RunConfig(
        model=ModelConfig(name="mlp"),
        train=TrainConfig(mode="multi-class", epochs=3, batch_size=32, device="cpu"),
    )
    steps = []
    result = teach_none(
        config,
        none_examples=60,
        test_count=20,
        split=split,
        progress=lambda message, fraction: steps.append(fraction),
        held_out_kinds=(),
    )
    results = result.results
    assert list(results.index) == ["without", "with"]
    assert results.loc["with", "none_examples"] == 60
    assert results.loc["without", "none_examples"] == 0
    # the bars are easy: both models get every validation image exactly right
    assert results["digit_accuracy"].tolist() == [1.0, 1.0]
    assert results.loc["with", "non_digit_neither_rate"] == 1.0
    assert results.loc["without", "non_digit_neither_rate"] < 0.5
    assert result.per_kind.loc["blank", "with"] == 1.0
    assert set(result.per_kind.index) == {"blank", "noise", "letters", "shapes", "strokes"}
    assert result.per_kind["taught"].all()
    without = results.loc["without", "non_digit_neither_rate"] * 100
    assert f'raised the "neither" rate on 20 unseen non-digits from {without:.0f}% to 100%' in (
        result.explanation
    )
    assert steps[0] == 0.0 and steps[-1] == 1.0
    assert json.loads(json.dumps(result.to_dict()))["none_examples"] == 60


def test_teaching_none_needs_examples():
    with pytest.raises(EngineError, match="needs 1 to 100,000 all-zero examples"):
        teach_none(RunConfig(), none_examples=0)


def test_a_held_out_kind_is_measured_apart_from_the_taught_ones():
    split = DatasetSplit("bars", _bars(30, 0), _bars(10, 1))
    config = RunConfig(
        model=ModelConfig(name="mlp"),
        train=TrainConfig(mode="multi-label", epochs=3, batch_size=32, device="cpu"),
    )
    result = teach_none(config, none_examples=60, test_count=20, split=split)
    assert result.held_out_kinds == ("letters",)
    table = result.per_kind
    assert table.loc["letters", "taught"] == False  # noqa: E712 - a numpy bool
    assert table.drop(index="letters")["taught"].all()
    letters = table.loc["letters"]
    taught = table.loc[table["taught"]]
    expected = (
        f"On letters, a kind it was never shown as 'none', it went from "
        f"{letters['without'] * 100:.0f}% to {letters['with'] * 100:.0f}% (taught kinds: "
        f"{taught['without'].mean() * 100:.0f}% to {taught['with'].mean() * 100:.0f}%)."
    )
    assert result.explanation.endswith(expected)
    assert json.loads(json.dumps(result.to_dict()))["held_out_kinds"] == ["letters"]


def test_held_out_kinds_must_leave_something_to_teach():
    with pytest.raises(EngineError, match="some, not all"):
        teach_none(RunConfig(), held_out_kinds=("blank", "noise", "letters", "shapes", "strokes"))
    with pytest.raises(EngineError, match="unknown: digits"):
        teach_none(RunConfig(), held_out_kinds=("digits",))
