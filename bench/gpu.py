"""GPU-only measurements: the autocast precision the engine trains at, the GPU's own matrix-
multiply rate at that precision, and the share of a training epoch spent outside the GPU's
kernels (launch overhead, Python, host-device waits), measured with `torch.profiler`.
"""

from __future__ import annotations

import time

import torch
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile

from bench.measure import synchronize
from engine.callbacks import Callback, TrainState
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.training import fit

GPU_MATMUL_SIZE = 8192  # 2048 is too small to keep a large GPU busy; 8192 reaches its peak


def autocast_dtype(device: torch.device) -> torch.dtype:
    """bf16 where the GPU has it, else fp16: the same choice engine/training.py makes."""
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


class KernelTimer(Callback):
    """Profiles the training part of one epoch and sums the time the GPU spent in kernels."""

    def __init__(self, device: torch.device, epoch: int = 2) -> None:
        self.device = device
        self.epoch = epoch
        self.kernel_seconds: float | None = None
        self.profiled_seconds: float | None = None
        self._profiler: profile | None = None
        self._start = 0.0

    def before_epoch(self, state: TrainState) -> None:
        if state.epoch == self.epoch:
            synchronize(self.device)
            self._profiler = profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA])
            self._profiler.start()
            self._start = time.perf_counter()

    def after_batch(self, state: TrainState) -> None:
        if self._profiler is not None and state.step >= state.steps_per_epoch:
            synchronize(self.device)
            self.profiled_seconds = time.perf_counter() - self._start
            self._profiler.stop()
            self.kernel_seconds = device_seconds(self._profiler)
            self._profiler = None


def device_seconds(profiler: profile) -> float:
    """Seconds of GPU activity (kernels, copies) in a finished profile."""
    total_us = 0.0
    for event in profiler.events():
        if event.device_type == DeviceType.CUDA and not getattr(event, "is_user_annotation", False):
            total_us += event.self_device_time_total
    return total_us / 1e6


def outside_kernels(config: RunConfig, split: DatasetSplit, epochs: int = 3) -> dict[str, float]:
    """Fit for `epochs` on the GPU, profiling epoch 2's training part.

    The profiler slows the host side, so the share outside kernels compares the profiled
    epoch's kernel time with the wall time of an unprofiled epoch (the last one).
    """
    from bench.engine_run import EpochClock

    device = torch.device(config.train.device)
    clock = EpochClock(device, time.perf_counter())
    timer = KernelTimer(device, epoch=2)
    fit(config.with_changes(epochs=epochs), split, [clock, timer])
    wall = clock.epoch_seconds[-1]
    kernels = timer.kernel_seconds or 0.0
    return {
        "epoch_seconds": wall,
        "kernel_seconds": kernels,
        "profiled_epoch_seconds": timer.profiled_seconds or float("nan"),
        "outside_kernels_share": max(0.0, 1.0 - kernels / wall),
    }
