"""Training throughput, engine against baseline: images per second over whole epochs, the
ratio, and the efficiency against the machine's own matrix-multiply ceiling.

Efficiency = images/s x training FLOPs per image / matrix-multiply FLOP/s. On a shared machine
the compute available moves from second to second, so each epoch's efficiency is taken against
the matrix-multiply rate sampled right after it, and the epochs are summarised by their median
(robust to a disturbed epoch) and their best.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from bench.measure import ratio


@dataclass
class Throughput:
    """One side's training speed, from the seconds each whole epoch took."""

    side: str  # "engine" or "baseline"
    mode: str
    images_per_epoch: int
    epoch_seconds: list[float]

    @property
    def per_epoch(self) -> list[float]:
        return [self.images_per_epoch / seconds for seconds in self.epoch_seconds]

    @property
    def median_images_per_second(self) -> float:
        return self.images_per_epoch / statistics.median(self.epoch_seconds)

    @property
    def best_images_per_second(self) -> float:
        return self.images_per_epoch / min(self.epoch_seconds)

    @property
    def mean_images_per_second(self) -> float:
        """Every image of the run over every epoch's seconds."""
        return self.images_per_epoch * len(self.epoch_seconds) / sum(self.epoch_seconds)

    def to_dict(self) -> dict[str, object]:
        return {
            "side": self.side,
            "mode": self.mode,
            "images_per_epoch": self.images_per_epoch,
            "epochs": len(self.epoch_seconds),
            "epoch_seconds": self.epoch_seconds,
            "median_images_per_second": self.median_images_per_second,
            "best_images_per_second": self.best_images_per_second,
            "mean_images_per_second": self.mean_images_per_second,
        }


def efficiency(
    images_per_second: float, flops_per_image: float, matmul_flops_per_second: float
) -> float:
    """The share of the matrix-multiply ceiling that training turns into useful FLOPs."""
    return images_per_second * flops_per_image / matmul_flops_per_second


@dataclass
class Comparison:
    """Engine against baseline in one mode, with the ceiling sampled after every epoch pair."""

    engine: Throughput
    baseline: Throughput
    flops_per_image: float
    matmul_samples: list[float]  # FLOP/s, one per epoch (or fewer: the last is reused)

    @property
    def speedup(self) -> float | None:
        """Engine / baseline, median epochs."""
        return ratio(self.engine.median_images_per_second, self.baseline.median_images_per_second)

    @property
    def best_speedup(self) -> float | None:
        return ratio(self.engine.best_images_per_second, self.baseline.best_images_per_second)

    @property
    def matmul_flops_per_second(self) -> float:
        return statistics.median(self.matmul_samples)

    @property
    def ceiling_images_per_second(self) -> float:
        return self.matmul_flops_per_second / self.flops_per_image

    def epoch_efficiencies(self, side: Throughput) -> list[float]:
        samples = self.matmul_samples
        return [
            efficiency(rate, self.flops_per_image, samples[min(epoch, len(samples) - 1)])
            for epoch, rate in enumerate(side.per_epoch)
        ]

    def efficiency_of(self, side: Throughput) -> float:
        """Median over epochs of each epoch's efficiency."""
        return statistics.median(self.epoch_efficiencies(side))

    def best_efficiency_of(self, side: Throughput) -> float:
        return max(self.epoch_efficiencies(side))

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.engine.mode,
            "engine": self.engine.to_dict(),
            "baseline": self.baseline.to_dict(),
            "speedup": self.speedup,
            "best_speedup": self.best_speedup,
            "flops_per_image": self.flops_per_image,
            "matmul_samples": self.matmul_samples,
            "matmul_flops_per_second": self.matmul_flops_per_second,
            "ceiling_images_per_second": self.ceiling_images_per_second,
            "engine_efficiency": self.efficiency_of(self.engine),
            "engine_best_efficiency": self.best_efficiency_of(self.engine),
            "baseline_efficiency": self.efficiency_of(self.baseline),
            "baseline_best_efficiency": self.best_efficiency_of(self.baseline),
        }


def combined_speedup(comparisons: list[Comparison]) -> float | None:
    """Engine / baseline over all modes: the ratio of summed median epoch rates."""
    engine = sum(c.engine.median_images_per_second for c in comparisons)
    baseline = sum(c.baseline.median_images_per_second for c in comparisons)
    return ratio(engine, baseline)
