"""Time to accuracy: seconds from the start of training to the end of the first epoch whose
validation accuracy (argmax, both modes) reached each target."""

from __future__ import annotations

from collections.abc import Sequence

TARGETS = (0.95, 0.97, 0.975)


def time_to_accuracy(
    val_accuracy: Sequence[float], elapsed_at_epoch_end: Sequence[float], target: float
) -> float | None:
    """Elapsed seconds when `target` was first reached; None when it never was."""
    for accuracy, elapsed in zip(val_accuracy, elapsed_at_epoch_end, strict=True):
        if accuracy >= target:
            return elapsed
    return None


def times_to_targets(
    val_accuracy: Sequence[float],
    elapsed_at_epoch_end: Sequence[float],
    targets: Sequence[float] = TARGETS,
) -> dict[str, float | None]:
    """{"0.95": seconds or None, ...} for every target."""
    return {
        f"{target:g}": time_to_accuracy(val_accuracy, elapsed_at_epoch_end, target)
        for target in targets
    }
