"""Teaching "none": does adding all-zero targets to a sigmoid model's training set make it say
"none of the classes" for inputs that are no digit, and what does it cost on digits?

The forum's "none of the above" advice, measured: the same sigmoid (multi-label) model is
trained twice on the same split, once as is and once with generated non-digits (blank, noise,
letters, shapes, strokes) whose targets are all zeros
(engine.datasets.none_examples.add_non_digits), then both
are shown non-digits drawn with another seed, so none of them was seen in training.

Unseen images of the kinds it was taught are the easy test. The honest one holds a whole kind
out of training (letters, by default): how often the model says "neither" for a kind of input
it was never shown is what "none of the above" buys against inputs unlike anything seen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import torch

from engine.analysis.neither import UNSEEN_NON_DIGIT_SEED, fit_images_to_shape, model_logits
from engine.analysis.outputs import fired
from engine.analysis.readings import read_outputs
from engine.callbacks import Callback
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.datasets.loading import load_dataset
from engine.datasets.none_examples import add_non_digits
from engine.errors import EngineError
from engine.modes import ReadingKey
from engine.nondigits import NON_DIGIT_KINDS, make_non_digits
from engine.training import FitResult, fit

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class TeachingNone:
    """Both models' numbers, side by side."""

    none_examples: int  # all-zero examples added to the second model's training set
    test_count: int  # unseen non-digits shown to both
    threshold: float
    results: pd.DataFrame  # index "without", "with": digit and non-digit numbers
    per_kind: pd.DataFrame  # index kind, columns "without", "with" ("neither" rate), "taught"
    explanation: str
    held_out_kinds: tuple[str, ...] = ()  # kinds never among the all-zero training examples

    def to_dict(self) -> dict[str, Any]:
        return {
            "none_examples": self.none_examples,
            "test_count": self.test_count,
            "threshold": self.threshold,
            "results": self.results.reset_index(names="model").to_dict(orient="records"),
            "per_kind": self.per_kind.to_dict(orient="index"),
            "held_out_kinds": list(self.held_out_kinds),
            "explanation": self.explanation,
        }


def teach_none(
    config: RunConfig | None = None,
    none_examples: int = 1000,
    test_count: int = 500,
    split: DatasetSplit | None = None,
    callbacks: Sequence[Callback] = (),
    progress: Progress | None = None,
    held_out_kinds: Sequence[str] = ("letters",),
) -> TeachingNone:
    """Train a sigmoid model without and with `none_examples` all-zero examples (the config's
    mode and none_examples are overridden) and measure both on digits and unseen non-digits.

    The all-zero examples are of every kind but `held_out_kinds`; the unseen non-digits are of
    every kind, so the per-kind table shows the taught kinds and the never-taught ones apart.
    `split` skips loading `config.data` (tests pass a tiny one); the threshold is the config's.
    """
    from engine.config import MAX_NONE_EXAMPLES

    if not isinstance(none_examples, int) or not 1 <= none_examples <= MAX_NONE_EXAMPLES:
        raise EngineError(
            f"teaching 'none' needs 1 to {MAX_NONE_EXAMPLES:,} all-zero examples, "
            f"got {none_examples}"
        )
    held_out = tuple(dict.fromkeys(held_out_kinds))
    unknown = [kind for kind in held_out if kind not in NON_DIGIT_KINDS]
    taught_kinds = [kind for kind in NON_DIGIT_KINDS if kind not in held_out]
    if unknown or not taught_kinds:
        raise EngineError(
            f"held-out kinds must be some, not all, of {', '.join(NON_DIGIT_KINDS)}"
            + (f" (unknown: {', '.join(unknown)})" if unknown else "")
        )
    base = (config or RunConfig()).with_changes(mode="multi-label", none_examples=0)
    threshold = base.train.threshold
    report = progress or (lambda message, fraction: None)
    if split is None:
        report("Loading the dataset", 0.0)
        split = load_dataset(base.data)
    taught = add_non_digits(split, none_examples, kinds=taught_kinds)
    images, kinds = make_non_digits(test_count, seed=UNSEEN_NON_DIGIT_SEED)
    images = fit_images_to_shape(images, split.image_shape)

    rows: dict[str, dict[str, float]] = {}
    per_kind: dict[str, pd.Series] = {}
    for step, (name, train_split, added) in enumerate(
        [("without", split, 0), ("with", taught, none_examples)]
    ):
        report(f"Training the model {name} all-zero examples", step / 2)
        config = base.with_changes(none_examples=added)
        result = fit(config, train_split, callbacks)
        rows[name], neither = _measure(result, images, threshold)
        rows[name]["none_examples"] = added
        per_kind[name] = pd.Series(neither.float().numpy()).groupby(pd.Series(kinds)).mean()
    report("Done", 1.0)
    results = pd.DataFrame.from_dict(rows, orient="index")
    kind_table = pd.DataFrame(per_kind)
    kind_table.index.name = "kind"
    kind_table["taught"] = [kind not in held_out for kind in kind_table.index]
    explanation = _explain(results, none_examples, test_count, threshold)
    if held_out:
        explanation += " " + _explain_held_out(kind_table, held_out)
    return TeachingNone(
        none_examples=none_examples,
        test_count=test_count,
        threshold=threshold,
        results=results,
        per_kind=kind_table,
        explanation=explanation,
        held_out_kinds=held_out,
    )


def _measure(
    result: FitResult, non_digits: torch.Tensor, threshold: float
) -> tuple[dict[str, float], torch.Tensor]:
    digits = read_outputs(result.valid_logits, result.valid_targets, ReadingKey.SIGMOID, threshold)
    logits = model_logits(result.model, non_digits, result.normalization)
    neither = ~fired(logits.sigmoid(), threshold).any(dim=1)
    row = {
        "digit_accuracy": digits.accuracy,
        "digit_argmax_accuracy": digits.argmax_accuracy,
        "digit_neither_rate": digits.neither_count / max(digits.count, 1),
        "non_digit_neither_rate": float(neither.float().mean()) if len(neither) else 0.0,
        "seconds": float(sum(epoch.get("seconds", 0.0) for epoch in result.history)),
    }
    return row, neither


def _explain(results: pd.DataFrame, none_examples: int, test_count: int, threshold: float) -> str:
    before, after = results.loc["without"], results.loc["with"]
    change = after.non_digit_neither_rate - before.non_digit_neither_rate
    verb = "raised" if change > 0.005 else "lowered" if change < -0.005 else "left"
    accuracy_change = (after.digit_accuracy - before.digit_accuracy) * 100
    accuracy_text = (
        f"{abs(accuracy_change):.1f} points {'higher' if accuracy_change > 0 else 'lower'}"
        if abs(accuracy_change) >= 0.05
        else "unchanged"
    )
    rates = (
        f"from {before.non_digit_neither_rate * 100:.0f}% to "
        f"{after.non_digit_neither_rate * 100:.0f}%"
        if verb != "left"
        else f"at {after.non_digit_neither_rate * 100:.0f}%"
    )
    return (
        f'Adding {none_examples} all-zero examples {verb} the "neither" rate on {test_count} '
        f"unseen non-digits {rates}, with digit accuracy {accuracy_text} "
        f"({before.digit_accuracy * 100:.1f}% to {after.digit_accuracy * 100:.1f}%, exact "
        f"match at threshold {threshold:g})."
    )


def _explain_held_out(kind_table: pd.DataFrame, held_out: tuple[str, ...]) -> str:
    never = kind_table.loc[~kind_table["taught"]]
    taught = kind_table.loc[kind_table["taught"]]
    return (
        f"On {' and '.join(held_out)}, a kind it was never shown as 'none', it went from "
        f"{never['without'].mean() * 100:.0f}% to {never['with'].mean() * 100:.0f}% "
        f"(taught kinds: {taught['without'].mean() * 100:.0f}% to "
        f"{taught['with'].mean() * 100:.0f}%)."
    )
