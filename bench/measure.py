"""Clocks: wall time that waits for the device, and medians over repeated runs."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def synchronize(device: torch.device | str) -> None:
    """Wait for queued GPU work, so a clock read afterwards includes it."""
    device = torch.device(device)
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def median_seconds(
    function: Callable[[], object],
    repeats: int,
    warmup: int = 1,
    device: torch.device | str = "cpu",
) -> float:
    """Median wall time of `function` over `repeats` calls, after `warmup` untimed calls.

    The median, not the mean: on a shared machine a few runs are slowed by other work, and the
    median ignores them.
    """
    for _ in range(warmup):
        function()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or the denominator is zero."""
    if numerator is None or not denominator:
        return None
    return numerator / denominator
