"""The label-mode vocabulary: the two names, the check, and the keys of the three readings,
importable without torch (the command line's parser and the configs need them before any tensor
exists). What each mode means for targets, losses and activations lives in engine/labels.py.
"""

from __future__ import annotations

from enum import StrEnum

from engine.errors import LabelShapeError


class LabelMode(StrEnum):
    """The two label modes; each member is the plain string used on disk and on the command
    line, and compares equal to it."""

    MULTI_CLASS = "multi-class"  # softmax + CrossEntropyLoss: one class per image
    MULTI_LABEL = "multi-label"  # a sigmoid per class + BCEWithLogitsLoss: any number


LABEL_MODES: tuple[str, ...] = tuple(mode.value for mode in LabelMode)


class ReadingKey(StrEnum):
    """The forum question's three readings of logits (engine.analysis.readings.READINGS says
    what each is); each member is the letter shown on screen and written in reports."""

    SOFTMAX_ARGMAX = "a"  # a softmax-trained model read with softmax argmax
    SOFTMAX_AS_SIGMOIDS = "b"  # the same model read with a sigmoid per logit
    SIGMOID = "c"  # a sigmoid-trained (BCE) model read with sigmoids at the threshold


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known label mode, else raise a clear error."""
    if mode not in LABEL_MODES:
        raise LabelShapeError(f"unknown label mode {mode!r}: use 'multi-class' or 'multi-label'")
    return mode


def other_mode(mode: str) -> str:
    """The label mode a run's twin is trained in."""
    return "multi-class" if mode == "multi-label" else "multi-label"
