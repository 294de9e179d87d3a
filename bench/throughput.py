"""Training throughput, engine against baseline: images per second over whole epochs, the
ratio, and the efficiency against the machine's own matrix-multiply ceiling.

Efficiency = images/s x training FLOPs per image / matrix-multiply FLOP/s, all measured in the
same run (see `Comparison` for how a shared machine's noise is kept out).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

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
    """Engine against baseline in one mode, their epochs run in turn, with the matrix-multiply
    rate sampled after every epoch pair.

    On a shared machine other work comes and goes within seconds, and it slows the baseline's
    worker processes more than the engine. The headline compares best epochs: what each side
    does when the machine is quiet, which is also when the best matrix-multiply sample was
    taken, so efficiency uses them too. The median of the epoch-pair ratios (an engine epoch
    and the baseline epoch right after it) is kept beside it: it shows what the load did.
    """

    engine: Throughput
    baseline: Throughput
    flops_per_image: float
    matmul_samples: list[float]  # FLOP/s, one after each epoch pair
    ceiling_flops_per_second: float | None = None  # the run's best sample; else these samples'
    engine_threads: int = 0  # intra-op threads the engine trained on
    engine_thread_samples: list[float] = field(default_factory=list)  # torch.mm at those

    @property
    def pair_ratios(self) -> list[float]:
        pairs = zip(
            self.engine.per_epoch, self.baseline.per_epoch, strict=False
        )  # as far as both go
        return [engine / baseline for engine, baseline in pairs]

    @property
    def speedup(self) -> float | None:
        """Engine / baseline: best epoch against best epoch (the headline)."""
        return ratio(self.engine.best_images_per_second, self.baseline.best_images_per_second)

    @property
    def paired_speedup(self) -> float | None:
        """Engine / baseline: the median over epoch pairs (moves with the machine's load)."""
        ratios = self.pair_ratios
        return statistics.median(ratios) if ratios else None

    @property
    def matmul_flops_per_second(self) -> float:
        """The ceiling: the best matrix-multiply sample, taken when nothing else ran."""
        return self.ceiling_flops_per_second or max(self.matmul_samples)

    @property
    def ceiling_images_per_second(self) -> float:
        return self.matmul_flops_per_second / self.flops_per_image

    def efficiency_of(self, side: Throughput) -> float:
        """Best epoch's img/s x FLOPs per image / best matrix-multiply rate."""
        return efficiency(
            side.best_images_per_second, self.flops_per_image, self.matmul_flops_per_second
        )

    @property
    def own_thread_efficiency(self) -> float | None:
        """The engine's best epoch against torch.mm on the engine's own thread count."""
        if not self.engine_thread_samples:
            return None
        return efficiency(
            self.engine.best_images_per_second,
            self.flops_per_image,
            max(self.engine_thread_samples),
        )

    def median_efficiency_of(self, side: Throughput) -> float:
        """The same at the medians: lower when the machine was busy for much of the run."""
        return efficiency(
            side.median_images_per_second,
            self.flops_per_image,
            statistics.median(self.matmul_samples),
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "mode": self.engine.mode,
            "engine": self.engine.to_dict(),
            "baseline": self.baseline.to_dict(),
            "speedup": self.speedup,
            "paired_speedup": self.paired_speedup,
            "pair_ratios": self.pair_ratios,
            "flops_per_image": self.flops_per_image,
            "matmul_samples": self.matmul_samples,
            "matmul_flops_per_second": self.matmul_flops_per_second,
            "ceiling_images_per_second": self.ceiling_images_per_second,
            "engine_efficiency": self.efficiency_of(self.engine),
            "engine_median_efficiency": self.median_efficiency_of(self.engine),
            "baseline_efficiency": self.efficiency_of(self.baseline),
            "baseline_median_efficiency": self.median_efficiency_of(self.baseline),
            "engine_threads": self.engine_threads,
            "engine_thread_matmul_samples": self.engine_thread_samples,
            "engine_own_thread_efficiency": self.own_thread_efficiency,
        }


def combined_speedup(comparisons: list[Comparison]) -> float | None:
    """Engine / baseline over every mode: the median of the modes' best-epoch ratios."""
    ratios = [c.speedup for c in comparisons if c.speedup is not None]
    return statistics.median(ratios) if ratios else None
