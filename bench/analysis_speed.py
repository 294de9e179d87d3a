"""Analysis time: the co-activation matrix, the ranked confused pairs and per-class thresholds
over 1,000 and 10,000 validation outputs, each the median of several runs.

The outputs are a trained run's validation logits tiled to the size asked for (with a little
noise so no two rows are equal), or, without a run, synthetic logits shaped like a good
ten-class model's: the cost depends on the counts, not on what the numbers say.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch

from bench.measure import median_seconds
from engine.analysis import coactivation, confused_pairs, threshold_metrics, tune_thresholds

SIZES = (1_000, 10_000)


def synthetic_outputs(
    count: int, num_classes: int = 10, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits where the true class is clearly ahead and a few neighbours are close."""
    generator = torch.Generator().manual_seed(seed)
    targets = torch.randint(num_classes, (count,), generator=generator)
    logits = torch.randn(count, num_classes, generator=generator) - 4.0
    logits[torch.arange(count), targets] += 9.0
    confusable = (targets + 1) % num_classes
    logits[torch.arange(count), confusable] += 4.0 * torch.rand(count, generator=generator)
    return logits, targets


def tile_outputs(
    logits: torch.Tensor, targets: torch.Tensor, count: int, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """`count` rows taken round-robin from real outputs, jittered so rows differ."""
    generator = torch.Generator().manual_seed(seed)
    rows = torch.arange(count) % len(logits)
    jitter = 0.05 * torch.randn(count, logits.shape[1], generator=generator)
    return logits[rows] + jitter, targets[rows]


@dataclass
class AnalysisTimes:
    outputs: int
    coactivation_seconds: float
    pairs_seconds: float
    thresholds_seconds: float  # tuning per-class thresholds, then every metric at them

    @property
    def total_seconds(self) -> float:
        return self.coactivation_seconds + self.pairs_seconds + self.thresholds_seconds

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "total_seconds": self.total_seconds}


def time_analysis(
    logits: torch.Tensor, targets: torch.Tensor, class_names: tuple[str, ...], repeats: int = 5
) -> AnalysisTimes:
    """Median seconds of each analysis step on these outputs, at threshold 0.5."""
    probabilities = logits.sigmoid()

    def thresholds() -> None:
        tuned = tune_thresholds(probabilities, targets)
        threshold_metrics(probabilities, targets, class_names, tuned)

    return AnalysisTimes(
        outputs=len(logits),
        coactivation_seconds=median_seconds(
            lambda: coactivation(probabilities, targets, class_names, 0.5), repeats
        ),
        pairs_seconds=median_seconds(
            lambda: confused_pairs(probabilities, targets, class_names, 0.5), repeats
        ),
        thresholds_seconds=median_seconds(thresholds, repeats),
    )


def measure_analysis(
    logits: torch.Tensor | None = None,
    targets: torch.Tensor | None = None,
    class_names: tuple[str, ...] | None = None,
    sizes: tuple[int, ...] = SIZES,
    repeats: int = 5,
) -> list[AnalysisTimes]:
    """Analysis times at each size, from real outputs when given, else synthetic ones."""
    results = []
    for size in sizes:
        if logits is None or targets is None:
            size_logits, size_targets = synthetic_outputs(size)
        else:
            size_logits, size_targets = tile_outputs(logits, targets, size)
        names = class_names or tuple(str(i) for i in range(size_logits.shape[1]))
        results.append(time_analysis(size_logits, size_targets, names, repeats))
    return results
