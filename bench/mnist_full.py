"""The full MNIST: epochs and seconds to a test accuracy (99.0%), the engine against the
tutorial baseline, with and without augmentation, on the CPU and, when CUDA is present, the GPU.

Both sides read the same files: the engine's `mnist` dataset (MNIST's IDX files shipped in
engine/assets/mnist, extracted into the data root: 60,000 training digits, scored on the
10,000 test digits) and, for the baseline, `torchvision.datasets.MNIST` over that same root
with a `DataLoader` and per-image transforms (bench/baseline.py). Both train the engine's
network, batch size, optimiser, one-cycle schedule (over `max_epochs`) and loss, and are scored
on the 10,000 test digits (argmax accuracy) after every epoch.

On a loaded shared machine wall time drifts, so two figures are kept apart:
- epochs to the target, which the load cannot change;
- seconds per epoch (the training part; scoring left out), engine and baseline epochs run in
  turn (engine epoch, baseline epoch, torch.mm sample, ...), each side's min / median / max and
  the median of the pair-by-pair ratios, as farm-bench reports them.
Seconds to the target = epochs to it x the median epoch. Augmentation's cost per epoch is
measured apart (`augmentation_cost_in_turn`): plain and augmented epochs in turn on each side.
The two settings' trainings run one after the other, so their epochs are compared only as a
rough figure, scaled by the torch.mm rate sampled beside each epoch.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from bench import gpu
from bench.baseline import NUM_WORKERS, BaselineResult, baseline_epochs, write_mnist_folder
from bench.engine_run import model_factory, run_engine
from bench.machine import load_average, matmul_flops_per_second
from bench.measure import ratio
from bench.report import format_value, table
from engine.callbacks import Callback, StopTraining, TrainState
from engine.config import DataConfig, RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.datasets.loading import load_dataset
from engine.datasets.registry import default_data_root


@dataclass(frozen=True)
class MnistSettings:
    """What the section measures and how long it may take."""

    target: float = 0.99  # test accuracy to reach
    max_epochs: int = 8  # the cap, and the one-cycle schedule's length on both sides
    min_epochs: int = 3  # epoch pairs timed at least, even when both reached the target
    threads: int = 1  # torch threads for both sides (the baseline's workers use 1 each)
    num_workers: int = NUM_WORKERS  # the baseline DataLoader's worker processes
    root: str | None = None  # the data root holding MNIST/raw; None = the engine's default
    matmul_size: int = 1024  # the load probe sampled after each epoch pair
    cost_images: int = 10_000  # augmentation's cost: training digits per timed epoch
    cost_repeats: int = 3  # augmentation's cost: plain/augmented epoch pairs per side


def data_root(settings: MnistSettings) -> Path:
    """Where both sides read MNIST/raw: the engine extracts its shipped copy there first."""
    return Path(settings.root).expanduser() if settings.root else default_data_root()


@dataclass
class SideRun:
    """One side's epochs in one setting: training seconds and test accuracy per epoch."""

    side: str  # "engine" or "baseline"
    epoch_seconds: list[float]
    test_accuracy: list[float]

    def epochs_to(self, target: float) -> int | None:
        """The first epoch (from 1) whose test accuracy reached `target`; None if none did."""
        for epoch, accuracy in enumerate(self.test_accuracy, start=1):
            if accuracy >= target:
                return epoch
        return None

    @property
    def median_epoch(self) -> float:
        return statistics.median(self.epoch_seconds)

    def seconds_to(self, target: float) -> float | None:
        epochs = self.epochs_to(target)
        return None if epochs is None else epochs * self.median_epoch

    def to_dict(self, target: float) -> dict[str, Any]:
        return {
            "side": self.side,
            "epoch_seconds": self.epoch_seconds,
            "test_accuracy": self.test_accuracy,
            "epochs_to_target": self.epochs_to(target),
            "min_epoch_seconds": min(self.epoch_seconds),
            "median_epoch_seconds": self.median_epoch,
            "max_epoch_seconds": max(self.epoch_seconds),
            "seconds_to_target": self.seconds_to(target),
        }


@dataclass
class Trial:
    """Engine and baseline in one setting (augmentation on or off), their epochs in turn."""

    augment: bool
    engine: SideRun
    baseline: SideRun
    matmul_samples: list[float]  # FLOP/s of the load probe, one after each epoch pair
    load_average: tuple[float | None, float | None]  # 1-minute, at the start and the end

    @property
    def pair_ratios(self) -> list[float]:
        """Baseline epoch / engine epoch, pair by pair: how many times faster the engine was."""
        pairs = zip(self.baseline.epoch_seconds, self.engine.epoch_seconds, strict=False)
        return [baseline / engine for baseline, engine in pairs]

    @property
    def speedup(self) -> float:
        return statistics.median(self.pair_ratios)

    @property
    def setting(self) -> str:
        return "augmented" if self.augment else "plain"

    def to_dict(self, target: float) -> dict[str, Any]:
        return {
            "augment": self.augment,
            "engine": self.engine.to_dict(target),
            "baseline": self.baseline.to_dict(target),
            "pair_ratios": self.pair_ratios,
            "speedup_median_of_pairs": self.speedup,
            "speedup_of_medians": ratio(self.baseline.median_epoch, self.engine.median_epoch),
            "speedup_of_mins": ratio(
                min(self.baseline.epoch_seconds), min(self.engine.epoch_seconds)
            ),
            "time_to_target_ratio": ratio(
                self.baseline.seconds_to(target), self.engine.seconds_to(target)
            ),
            "matmul_samples": self.matmul_samples,
            "load_average": list(self.load_average),
        }


class BaselineInTurn(Callback):
    """Runs the baseline's next epoch and a load probe after each engine epoch (as the engine
    clock's `between_epochs`), and stops the fit once both sides reached the target and at
    least `min_epochs` pairs were timed."""

    def __init__(
        self, baseline_steps: Iterator[BaselineResult], settings: MnistSettings, device
    ) -> None:
        self.baseline_steps = baseline_steps
        self.settings = settings
        self.device = device
        self.baseline: BaselineResult | None = None
        self.matmul_samples: list[float] = []

    def __call__(self) -> None:
        self.baseline = next(self.baseline_steps, self.baseline)
        size = self.settings.matmul_size
        self.matmul_samples.append(matmul_flops_per_second(self.device, size, repeats=3))

    def after_epoch(self, state: TrainState) -> None:
        target = self.settings.target
        if self.baseline is not None:  # progress, so a long run can be followed in its log
            print(
                f"    epoch {state.epoch}: engine test accuracy "
                f"{state.metrics['val_accuracy']:.2%}, baseline "
                f"{self.baseline.val_accuracy[-1]:.2%}; training seconds engine "
                f"{state.history[-1]['seconds']:.1f} (with scoring), baseline "
                f"{self.baseline.epoch_seconds[-1]:.1f}",
                flush=True,
            )
        engine_reached = any(row["val_accuracy"] >= target for row in state.history)
        baseline_reached = self.baseline is not None and max(self.baseline.val_accuracy) >= target
        if engine_reached and baseline_reached and state.epoch >= self.settings.min_epochs:
            raise StopTraining


def tutorial_epochs(
    config: RunConfig,
    split: DatasetSplit,
    root: Path,
    settings: MnistSettings,
    augment: bool,
    autocast_dtype: torch.dtype | None = None,
    evaluate: bool = True,
) -> Iterator[BaselineResult]:
    """The baseline on the MNIST files under `root`, with the engine's network and config."""
    return baseline_epochs(
        model_factory(config, split),
        root,
        config.train,
        split.num_classes,
        torch.device(config.train.device),
        num_workers=settings.num_workers,
        evaluate=evaluate,
        autocast_dtype=autocast_dtype,
        augment=augment,
    )


def run_trial(
    config: RunConfig,
    split: DatasetSplit,
    root: Path,
    augment: bool,
    settings: MnistSettings,
    autocast_dtype: torch.dtype | None = None,
) -> Trial:
    """Engine and baseline in turn, epoch by epoch, until both reached the target (and
    `min_epochs` passed) or `max_epochs` ran out."""
    config = config.with_changes(augment=augment, epochs=settings.max_epochs)
    device = torch.device(config.train.device)
    started = load_average()
    steps = tutorial_epochs(config, split, root, settings, augment, autocast_dtype)
    in_turn = BaselineInTurn(steps, settings, device)
    engine = run_engine(config, split, callbacks=[in_turn], between_epochs=in_turn)
    steps.close()  # the baseline stops where the engine stopped
    if in_turn.baseline is None:
        raise RuntimeError("the baseline trained no epoch")
    return Trial(
        augment=augment,
        engine=SideRun("engine", engine.epoch_seconds, engine.val_accuracy),
        baseline=SideRun("baseline", in_turn.baseline.epoch_seconds, in_turn.baseline.val_accuracy),
        matmul_samples=in_turn.matmul_samples,
        load_average=(started, load_average()),
    )


def augmentation_cost(plain: SideRun, augmented: SideRun, plain_rate: float, aug_rate: float):
    """(median augmented epoch / median plain epoch, the same with each epoch time scaled by
    the median torch.mm rate measured beside it: a slower machine gives a lower rate)."""
    raw = augmented.median_epoch / plain.median_epoch
    return raw, raw * aug_rate / plain_rate


@dataclass
class MnistResults:
    """The section on one device: both settings, and what they were measured with."""

    device: str
    settings: MnistSettings
    mode: str
    batch_size: int
    threads: int
    images: tuple[int, int]  # training, test
    trials: list[Trial] = field(default_factory=list)
    cost_in_turn: dict[str, dict[str, Any]] = field(default_factory=dict)

    def augmentation_costs(self) -> dict[str, dict[str, float]]:
        by_setting = {trial.augment: trial for trial in self.trials}
        if set(by_setting) != {False, True}:
            return {}
        plain, augmented = by_setting[False], by_setting[True]
        rates = [statistics.median(t.matmul_samples) for t in (plain, augmented)]
        costs = {}
        for side in ("engine", "baseline"):
            raw, adjusted = augmentation_cost(
                getattr(plain, side), getattr(augmented, side), *rates
            )
            costs[side] = {"median_epoch_ratio": raw, "load_adjusted_ratio": adjusted}
        return costs

    def to_dict(self) -> dict[str, Any]:
        target = self.settings.target
        return {
            "device": self.device,
            "target": target,
            "max_epochs": self.settings.max_epochs,
            "mode": self.mode,
            "batch_size": self.batch_size,
            "threads": self.threads,
            "baseline_num_workers": self.settings.num_workers,
            "training_images": self.images[0],
            "test_images": self.images[1],
            "trials": [trial.to_dict(target) for trial in self.trials],
            "augmentation_cost": self.cost_in_turn,
            "augmentation_cost_across_settings": self.augmentation_costs(),
            "speedup": self.trials[0].speedup if self.trials else None,
        }


def measure_mnist(
    settings: MnistSettings,
    device: str = "cpu",
    config: RunConfig | None = None,
    split: DatasetSplit | None = None,
) -> MnistResults:
    """Plain, then augmented: engine and baseline in turn on the full MNIST on `device`.

    `config` (default: the engine's defaults) gives the network, batch size, optimiser and
    mode; the section sets the device, the epochs, augmentation and, on the CPU, the threads.
    """
    root = data_root(settings)
    split = split or load_dataset(DataConfig(dataset="mnist", root=str(root)))
    config = (config or RunConfig()).with_changes(device=device)
    autocast_dtype = None
    if torch.device(device).type == "cuda":
        config = config.with_changes(mixed_precision=True)
        autocast_dtype = gpu.autocast_dtype(torch.device(device))
    else:
        config = config.with_changes(cpu_threads=settings.threads)
    previous = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    try:
        train = config.train
        images = (len(split.train), len(split.valid))
        results = MnistResults(
            device, settings, train.mode, train.batch_size, settings.threads, images
        )
        for augment in (False, True):
            trial = run_trial(config, split, root, augment, settings, autocast_dtype)
            results.trials.append(trial)
            print(f"  full MNIST ({device}): {trial.setting} done", flush=True)
        results.cost_in_turn = augmentation_cost_in_turn(config, split, settings, autocast_dtype)
    finally:
        torch.set_num_threads(previous)
    return results


def augmentation_cost_in_turn(
    config: RunConfig,
    split: DatasetSplit,
    settings: MnistSettings,
    autocast_dtype: torch.dtype | None = None,
) -> dict[str, dict[str, Any]]:
    """Augmentation's cost per epoch, plain and augmented epochs run in turn on each side
    (engine plain, engine augmented, baseline plain, baseline augmented, repeated), so that a
    changing load falls on both alike: per side, the median of augmented / plain pair by pair.

    On the first `cost_images` training digits (scoring on 500 test digits, not timed); each
    engine epoch is a one-epoch fit, each baseline epoch the next of a plain and an augmented
    `baseline_epochs`.
    """
    count = min(settings.cost_images, len(split.train))
    subset = DatasetSplit(
        split.name,
        split.train.subset(torch.arange(count)),
        split.valid.subset(torch.arange(min(500, len(split.valid)))),
        split.preprocess,
    )
    config = config.with_changes(epochs=settings.cost_repeats)
    seconds: dict[str, list[list[float]]] = {"engine": [[], []], "baseline": [[], []]}
    with tempfile.TemporaryDirectory(prefix="bench-mnist-cost-") as root:
        write_mnist_folder(subset, Path(root))
        steps = [
            tutorial_epochs(config, subset, Path(root), settings, augment, autocast_dtype, False)
            for augment in (False, True)
        ]
        for _ in range(settings.cost_repeats):
            for augment in (False, True):
                one = config.with_changes(augment=augment, epochs=1)
                seconds["engine"][augment].extend(run_engine(one, subset).epoch_seconds)
            for augment in (False, True):
                seconds["baseline"][augment].append(next(steps[augment]).epoch_seconds[-1])
        for generator in steps:
            generator.close()
    costs = {}
    for side, (plain, augmented) in seconds.items():
        pairs = [a / p for p, a in zip(plain, augmented, strict=True)]
        costs[side] = {
            "images": count,
            "plain_epoch_seconds": plain,
            "augmented_epoch_seconds": augmented,
            "pair_ratios": pairs,
            "median_pair_ratio": statistics.median(pairs),
        }
    return costs


def cost_text(costs: dict[str, dict[str, Any]]) -> str:
    lines = []
    for side, cost in costs.items():
        plain, augmented = cost["plain_epoch_seconds"], cost["augmented_epoch_seconds"]
        lines.append(
            f"augmentation's cost, {side} (plain and augmented epochs of {cost['images']:,} "
            f"digits in turn): an augmented epoch takes {format_value(cost['median_pair_ratio'])}x "
            f"a plain one (median of {len(plain)} pairs; median epochs "
            f"{format_value(statistics.median(augmented))} s / "
            f"{format_value(statistics.median(plain))} s)"
        )
    return "\n".join(lines)


def mnist_text(results: MnistResults) -> str:
    settings = results.settings
    target = settings.target
    level = f"{target:.1%}"
    rows = []
    for trial in results.trials:
        for run in (trial.engine, trial.baseline):
            epochs = run.epochs_to(target)
            rows.append(
                [
                    trial.setting,
                    run.side,
                    epochs if epochs is not None else "not reached",
                    f"{max(run.test_accuracy):.2%}",
                    len(run.epoch_seconds),
                    min(run.epoch_seconds),
                    run.median_epoch,
                    max(run.epoch_seconds),
                    run.seconds_to(target) if epochs is not None else "not reached",
                ]
            )
    headers = [
        "setting", "side", f"epochs to {level}", "best test acc", "epochs run", "s/epoch min",
        "median", "max", f"s to {level}",
    ]  # fmt: skip
    training, test = results.images
    title = (
        f"Full MNIST to {level} test accuracy ({results.device}; {training:,} training / "
        f"{test:,} test digits; {results.mode}; {results.threads} torch thread(s) each side)"
    )
    lines = [table(title, headers, rows)]
    lines.append(
        f"s to {level} = epochs to it x the median epoch (training only; scoring the {test:,} "
        f"test digits after each epoch left out); capped at {settings.max_epochs} epochs "
        "(one-cycle over the cap), stopped early once both sides reached it"
    )
    for trial in results.trials:
        ratios = trial.pair_ratios
        lines.append(
            f"{trial.setting}: engine {format_value(trial.speedup)}x faster per epoch (median of "
            f"{len(ratios)} baseline/engine epoch pairs, range {format_value(min(ratios))}-"
            f"{format_value(max(ratios))}; medians {format_value(trial.baseline.median_epoch)} s / "
            f"{format_value(trial.engine.median_epoch)} s, mins "
            f"{format_value(min(trial.baseline.epoch_seconds))} s / "
            f"{format_value(min(trial.engine.epoch_seconds))} s); to {level}: "
            + _time_to_text(trial, target)
            + f"; load average {_load_text(trial.load_average)}"
        )
    for side, cost in results.augmentation_costs().items():
        lines.append(
            f"across the two settings, {side}: an augmented epoch took "
            f"{format_value(cost['median_epoch_ratio'])}x a plain one (medians; "
            f"{format_value(cost['load_adjusted_ratio'])}x adjusted for the load by the "
            f"{settings.matmul_size}x{settings.matmul_size} torch.mm rate beside each epoch)"
        )
    if results.cost_in_turn:
        lines.append(cost_text(results.cost_in_turn))
    lines.append(
        f"baseline: torchvision.datasets.MNIST + DataLoader(batch_size={results.batch_size}, "
        f"shuffle=True, num_workers={settings.num_workers}), per-image ToTensor + Normalize "
        "(augmented: StrokeJitter + RandomAffine first); engine: fit() on the data held in "
        "memory ('plain' still shifts its images by up to 2 pixels, as the engine always does)"
    )
    return "\n".join(lines)


def _time_to_text(trial: Trial, target: float) -> str:
    engine, baseline = trial.engine.seconds_to(target), trial.baseline.seconds_to(target)
    shown = [
        f"{side} " + (f"{format_value(seconds)} s" if seconds is not None else "not reached")
        for side, seconds in (("engine", engine), ("baseline", baseline))
    ]
    times = ratio(baseline, engine)
    return ", ".join(shown) + (f" ({format_value(times)}x)" if times is not None else "")


def _load_text(load: tuple[float | None, float | None]) -> str:
    return " -> ".join(format_value(value) for value in load)


def mnist_section(
    settings: MnistSettings,
    device: str = "cpu",
    gpu_too: bool = True,
    config: RunConfig | None = None,
) -> dict[str, Any]:
    """The full MNIST on `device`, then on the GPU when `device` is the CPU and CUDA is
    present; says why the GPU was skipped otherwise. `config` as for `measure_mnist`."""
    start = time.perf_counter()
    split = load_dataset(DataConfig(dataset="mnist", root=str(data_root(settings))))
    measured = measure_mnist(settings, device, config, split)
    print(mnist_text(measured), flush=True)
    results: dict[str, Any] = {device: measured.to_dict()}
    if torch.device(device).type == "cpu":
        if not gpu_too:
            print("Full MNIST on the GPU: skipped (--no-gpu)", flush=True)
        elif not torch.cuda.is_available():
            print("Full MNIST on the GPU: no GPU: skipped (CUDA is not available)", flush=True)
        else:
            try:
                on_gpu = measure_mnist(settings, "cuda", config, split)
                print(mnist_text(on_gpu), flush=True)
                results["cuda"] = on_gpu.to_dict()
            except Exception as error:  # keep the CPU figures; show what failed on the GPU
                traceback.print_exc()
                results["cuda"] = {"error": f"{type(error).__name__}: {error}"}
    results["seconds"] = time.perf_counter() - start
    return results
