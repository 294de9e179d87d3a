"""The label-mode vocabulary: the two names and the check, importable without torch (the
command line's parser and the configs need them before any tensor exists). What each mode
means for targets, losses and activations lives in engine/labels.py.
"""

from __future__ import annotations

from typing import Literal

from engine.errors import LabelShapeError

LabelMode = Literal["multi-class", "multi-label"]
LABEL_MODES: tuple[str, ...] = ("multi-class", "multi-label")


def check_mode(mode: str) -> str:
    """Return `mode` if it is a known label mode, else raise a clear error."""
    if mode not in LABEL_MODES:
        raise LabelShapeError(f"unknown label mode {mode!r}: use 'multi-class' or 'multi-label'")
    return mode


def other_mode(mode: str) -> str:
    """The label mode a run's twin is trained in."""
    return "multi-class" if mode == "multi-label" else "multi-label"
