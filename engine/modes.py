"""The label-mode vocabulary: the two names and the check, importable without torch (the
command line's parser and the configs need them before any tensor exists). What each mode
means for targets, losses and activations lives in engine/labels.py.
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


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known label mode, else raise a clear error."""
    if mode not in LABEL_MODES:
        raise LabelShapeError(f"unknown label mode {mode!r}: use 'multi-class' or 'multi-label'")
    return mode


def other_mode(mode: str) -> str:
    """The label mode a run's twin is trained in."""
    return "multi-class" if mode == "multi-label" else "multi-label"
