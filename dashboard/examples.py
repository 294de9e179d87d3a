"""Example images for the Predict page, so a visitor without an image of their own sees a
reading at once: the run's most clearly read validation image, the most ambiguous image of the
run's most confused pair, and a generated letter (no digit at all, from engine.nondigits).

Each comes as PNG bytes, the way an upload does, so it goes through the same preprocessing and
prediction cards. The numbers behind the choice come from `engine.analysis`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image

from engine.analysis import confused_pairs
from engine.analysis.outputs import truth_matrix
from engine.images import to_display
from engine.labels import activation
from engine.nondigits import make_non_digits

# The choices as shown, which are also the values of the `example` query parameter (a bound
# widget's link carries the shown text), so they stay the same for every run.
CLEAR, AMBIGUOUS, NON_DIGIT = "a clear digit", "a confused pair", "no digit at all"
EXAMPLE_KEYS = (CLEAR, AMBIGUOUS, NON_DIGIT)
EXAMPLE_PREFIX = "Example: "  # how every example's card title starts
PAIR_THRESHOLD = 0.5  # examples stay put while the page's threshold slider moves


@dataclass(frozen=True)
class Example:
    key: str  # one of EXAMPLE_KEYS
    label: str  # the thumbnail's caption: "a clear 3"
    name: str  # the prediction card's title
    image: np.ndarray  # (H, W) or (H, W, C) uint8, for st.image
    data: bytes  # PNG, as an upload would be


def _png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def _example(key: str, label: str, name: str, image_chw: np.ndarray) -> Example:
    image = to_display(np.asarray(image_chw, dtype=np.uint8))
    return Example(key=key, label=label, name=name, image=image, data=_png(image))


def clearest_index(probabilities, targets, num_classes: int) -> int | None:
    """The image of exactly one class whose own sigmoid most exceeds every other one."""
    truth = truth_matrix(targets, num_classes)
    single = truth.sum(dim=1) == 1
    if not bool(single.any()):
        return None
    own = (probabilities * truth).sum(dim=1)
    others = probabilities.masked_fill(truth, float("-inf")).max(dim=1).values
    margin = (own - others).masked_fill(~single, float("-inf"))
    return int(margin.argmax())


def run_examples(run) -> list[Example]:
    """The run's examples (engine.runs.LoadedRun), in EXAMPLE_KEYS order; a kind the run
    cannot give (no pair in a one-class run) is left out."""
    images = run.validation.images.numpy()
    names = list(run.class_names)
    probabilities = activation(run.validation.logits, "multi-label")
    examples = []
    clear = clearest_index(probabilities, run.validation.targets, len(names))
    if clear is not None:
        truth = names[int(truth_matrix(run.validation.targets, len(names))[clear].nonzero()[0])]
        examples.append(
            _example(CLEAR, f"a clear {truth}", f"{EXAMPLE_PREFIX}a clear {truth}", images[clear])
        )
    pairs = confused_pairs(
        probabilities, run.validation.targets, names, PAIR_THRESHOLD, top=1, examples=1
    )
    if not pairs.empty and len(pairs["examples"].iloc[0]):
        a, b = str(pairs["a"].iloc[0]), str(pairs["b"].iloc[0])
        index = int(pairs["examples"].iloc[0][0])
        examples.append(
            _example(
                AMBIGUOUS,
                f"{a} or {b}?",
                f"{EXAMPLE_PREFIX}{a} or {b}? (the run's most confused pair)",
                images[index],
            )
        )
    letters, _ = make_non_digits(1, seed=3, size=images.shape[-1], kinds=("letters",))
    examples.append(
        _example(
            NON_DIGIT, "a letter", f"{EXAMPLE_PREFIX}a letter, no digit at all", letters[0].numpy()
        )
    )
    return examples
