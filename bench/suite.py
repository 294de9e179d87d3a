"""The bench's sections in the order they run, each printing its tables and returning its
results as plain data for `--json`. `python -m bench` (bench/__main__.py) only parses options
and calls `run_bench`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bench import accuracy, analysis_speed, gpu, latency, scaling, targets
from bench.baseline import NUM_WORKERS, BaselineResult, baseline_epochs, write_mnist_folder
from bench.engine_run import EngineRun, run_engine
from bench.flops import training_flops_per_image
from bench.machine import describe_machine, load_average, matmul_flops_per_second
from bench.report import format_value, table
from bench.startup import startup_section
from bench.throughput import Comparison, Throughput, combined_speedup
from engine.config import DataConfig, RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.datasets.loading import load_dataset
from engine.models import build_model

MODES = ("multi-label", "multi-class")  # the default mode first


@dataclass
class MatmulSamples:
    """The matrix-multiply rate sampled between the timed sections, so the ceiling reflects
    the machine as it was during the run, not at one moment."""

    device: torch.device
    size: int = 2048
    dtype: torch.dtype = torch.float32
    samples: list[float] = field(default_factory=list)

    def sample(self, repeats: int = 3) -> float:
        rate = matmul_flops_per_second(self.device, self.size, repeats, self.dtype)
        self.samples.append(rate)
        return rate

    @property
    def best(self) -> float:
        return max(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    def to_dict(self) -> dict[str, Any]:
        return {
            "size": self.size,
            "dtype": str(self.dtype).removeprefix("torch."),
            "samples": self.samples,
            "best": self.best,
            "median": self.median,
        }


def model_factory(config: RunConfig, split: DatasetSplit) -> Callable[[], nn.Module]:
    """The engine's network for this data, built fresh (the caller seeds it)."""
    return lambda: build_model(config.model, split.num_classes, split.image_shape)


@dataclass
class TrainingResults:
    """What sections 1 and 2 produce; later sections reuse the engine's fits."""

    comparisons: list[Comparison]
    engine_runs: dict[str, EngineRun]
    baseline_runs: dict[str, BaselineResult]
    matmul: MatmulSamples

    @property
    def speedup(self) -> float | None:
        return combined_speedup(self.comparisons)


class BetweenEngineEpochs:
    """Called after each engine epoch: the baseline's next epoch, then a torch.mm sample.

    fit() may train on fewer threads than PyTorch's default (TrainConfig.cpu_threads); the
    baseline and the machine's ceiling get the process's default, and when the engine's count
    differs, torch.mm is also sampled at the engine's count (kept apart from the ceiling).
    """

    def __init__(
        self, baseline_steps: Iterator[BaselineResult], matmul: MatmulSamples, threads: int
    ) -> None:
        self.baseline_steps = baseline_steps
        self.matmul = matmul
        self.default_threads = threads
        self.engine_threads = threads
        self.samples: list[float] = []
        self.engine_thread_samples: list[float] = []
        self.baseline: BaselineResult | None = None

    def __call__(self) -> None:
        self.engine_threads = torch.get_num_threads()
        if self.engine_threads != self.default_threads:
            matmul = self.matmul
            rate = matmul_flops_per_second(matmul.device, matmul.size, 3, matmul.dtype)
            self.engine_thread_samples.append(rate)
        torch.set_num_threads(self.default_threads)
        try:
            self.baseline = next(self.baseline_steps, self.baseline)
            self.samples.append(self.matmul.sample())
        finally:
            torch.set_num_threads(self.engine_threads)

    def finish(self) -> BaselineResult:
        """The baseline's result, after training any epochs the engine did not wait for
        (when a callback stopped it early)."""
        for snapshot in self.baseline_steps:
            self.baseline = snapshot
        if self.baseline is None:
            raise RuntimeError("the baseline trained no epoch")
        return self.baseline


def train_side_by_side(
    config: RunConfig,
    split: DatasetSplit,
    matmul: MatmulSamples,
    autocast_dtype: torch.dtype | None = None,
    evaluate: bool = True,
    modes: tuple[str, ...] = MODES,
    num_workers: int = NUM_WORKERS,
) -> TrainingResults:
    """For each mode, the engine's fit and the baseline on the same data, config and network,
    epoch by epoch in turn (engine epoch, baseline epoch, matrix-multiply sample, ...) so that
    on a shared machine both sides and the ceiling see the same load."""
    device = torch.device(config.train.device)
    default_threads = torch.get_num_threads()
    comparisons, engine_runs, baseline_runs = [], {}, {}
    with tempfile.TemporaryDirectory(prefix="bench-mnist-") as root:
        write_mnist_folder(split, Path(root))
        for mode in modes:
            mode_config = config.with_changes(mode=mode)
            flops = training_flops_per_image(
                model_factory(mode_config, split)(),
                split.image_shape,
                split.num_classes,
                mode,
                mode_config.train.batch_size,
            )
            baseline_steps = baseline_epochs(
                model_factory(mode_config, split),
                Path(root),
                mode_config.train,
                split.num_classes,
                device,
                evaluate=evaluate,
                num_workers=num_workers,
                autocast_dtype=autocast_dtype,
            )
            between = BetweenEngineEpochs(baseline_steps, matmul, default_threads)
            engine = run_engine(mode_config, split, between_epochs=between)
            baseline = between.finish()
            engine_runs[mode], baseline_runs[mode] = engine, baseline
            comparisons.append(
                Comparison(
                    engine=Throughput(
                        "engine", mode, engine.images_per_epoch, engine.epoch_seconds
                    ),
                    baseline=Throughput(
                        "baseline", mode, baseline.images_per_epoch, baseline.epoch_seconds
                    ),
                    flops_per_image=flops,
                    matmul_samples=between.samples,
                    engine_threads=between.engine_threads,
                    engine_thread_samples=between.engine_thread_samples,
                )
            )
    for comparison in comparisons:  # the ceiling: the best sample of the whole run so far
        comparison.ceiling_flops_per_second = matmul.best
    return TrainingResults(comparisons, engine_runs, baseline_runs, matmul)


def throughput_text(results: TrainingResults, title: str) -> str:
    rows = []
    for comparison in results.comparisons:
        for side in (comparison.engine, comparison.baseline):
            rows.append(
                [
                    side.mode,
                    side.side,
                    side.images_per_epoch,
                    len(side.epoch_seconds),
                    side.images_per_epoch / side.best_images_per_second,
                    side.best_images_per_second,
                    side.median_images_per_second,
                    f"{comparison.efficiency_of(side):.0%}",
                ]
            )
    headers = [
        "mode", "side", "images", "epochs", "best s/epoch", "img/s best", "img/s median",
        "efficiency",
    ]  # fmt: skip
    lines = [table(title, headers, rows)]
    first = results.comparisons[0]
    matmul = results.matmul
    samples = [sample for c in results.comparisons for sample in c.matmul_samples]
    lines.append(
        f"FLOPs per training image (forward+backward): {first.flops_per_image / 1e6:.1f} M; "
        f"{matmul.size}x{matmul.size} {str(matmul.dtype).removeprefix('torch.')} torch.mm "
        f"({torch.get_num_threads()} threads): best {first.matmul_flops_per_second / 1e9:.0f} "
        f"GFLOP/s in the run so far, median {statistics.median(samples) / 1e9:.0f} over this "
        f"table's {len(samples)} samples (one after each epoch pair); ceiling "
        f"{format_value(first.ceiling_images_per_second)} img/s"
    )
    lines.append("efficiency: best epoch img/s x FLOPs per image / best torch.mm FLOP/s")
    if first.engine_thread_samples:
        lines.append(
            f"the engine trained on {first.engine_threads} of {torch.get_num_threads()} threads "
            f"(TrainConfig.cpu_threads): torch.mm on {first.engine_threads} thread(s) best "
            f"{max(first.engine_thread_samples) / 1e9:.0f} GFLOP/s; engine efficiency against "
            "that: "
            + ", ".join(
                f"{c.engine.mode} {c.own_thread_efficiency:.0%}" for c in results.comparisons
            )
        )
    for comparison in results.comparisons:
        lines.append(
            f"{comparison.engine.mode}, {comparison.engine.images_per_epoch:,} images: "
            f"engine / baseline = {format_value(comparison.speedup)}x (best epochs), "
            f"{format_value(comparison.paired_speedup)}x (median of epoch pairs)"
        )
    return "\n".join(lines)


def accuracy_rows(results: TrainingResults) -> list[dict[str, Any]]:
    rows = []
    for mode in results.engine_runs:
        for side, run in (
            ("engine", results.engine_runs[mode]),
            ("baseline", results.baseline_runs[mode]),
        ):
            if not run.val_accuracy:
                continue
            rows.append(
                {
                    "mode": mode,
                    "side": side,
                    "seconds_to": accuracy.times_to_targets(
                        run.val_accuracy, run.elapsed_at_epoch_end
                    ),
                    "final_accuracy": run.val_accuracy[-1],
                    "best_accuracy": max(run.val_accuracy),
                    "seconds_total": run.elapsed_at_epoch_end[-1],
                    "epochs": len(run.val_accuracy),
                }
            )
    return rows


def accuracy_text(rows: list[dict[str, Any]], title: str) -> str:
    levels = [f"{level:g}" for level in accuracy.TARGETS]
    headers = [
        "mode",
        "side",
        *[f"s to {float(level):.1%}" for level in levels],
        "final",
        "total s",
    ]
    body = [
        [
            row["mode"],
            row["side"],
            *[row["seconds_to"][level] for level in levels],
            f"{row['final_accuracy']:.2%}",
            row["seconds_total"],
        ]
        for row in rows
    ]
    note = "seconds from the call to the end of the epoch that reached it (validation included); "
    note += "'-' = not reached"
    return table(title, headers, body) + "\n" + note


def other_threads_section(
    config: RunConfig, split: DatasetSplit, matmul: MatmulSamples
) -> dict[str, Any]:
    """The engine with the other CPU thread setting against the baseline again: one thread
    when the default uses every core (`cpu_threads=0`), every core when it uses fewer. Shows
    what the setting costs or saves on this machine under its present load."""
    threads = 1 if config.train.cpu_threads == 0 else 0
    measured = train_side_by_side(
        config.with_changes(cpu_threads=threads), split, matmul, evaluate=False, modes=(MODES[0],)
    )
    used = threads or torch.get_num_threads()
    title = f"Training throughput, engine with cpu_threads={threads} ({used} thread(s))"
    print(throughput_text(measured, title), flush=True)
    return {"cpu_threads": threads, **measured.comparisons[0].to_dict()}


def latency_section(config: RunConfig, split: DatasetSplit, run: EngineRun) -> dict[str, Any]:
    measured = latency.latency_of_fit(config, split, run.result).to_dict()
    rows = [
        ["one PNG, predict_images", measured["one_image_seconds"] * 1e3],
        [f"{measured['batch_size']} PNGs, predict_images", measured["batch_seconds"] * 1e3],
        ["  per image in the batch", measured["batch_seconds_per_image"] * 1e3],
        ["one image: decode only", measured["decode_seconds"] * 1e3],
        ["one image: preprocess only", measured["preprocess_seconds"] * 1e3],
        ["one image: forward only", measured["forward_seconds"] * 1e3],
    ]
    print(table("Prediction latency (CPU, median ms)", ["what", "ms"], rows), flush=True)
    return measured


def analysis_section(run: EngineRun, split: DatasetSplit) -> list[dict[str, Any]]:
    result = run.result
    measured = analysis_speed.measure_analysis(
        result.valid_logits, result.valid_targets, split.class_names
    )
    rows = [
        [
            m.outputs,
            m.coactivation_seconds * 1e3,
            m.pairs_seconds * 1e3,
            m.thresholds_seconds * 1e3,
            m.total_seconds * 1e3,
        ]
        for m in measured
    ]
    headers = ["outputs", "co-activation", "pair ranking", "thresholds", "total"]
    print(table("Analysis time (median ms)", headers, rows), flush=True)
    return [m.to_dict() for m in measured]


def scaling_section(
    config: RunConfig,
    split: DatasetSplit,
    matmul: MatmulSamples,
    sizes: tuple[int, ...] = scaling.SIZES,
    epochs: int = 2,
    autocast_dtype: torch.dtype | None = None,
    title: str = "Scaling",
) -> list[dict[str, Any]]:
    """Engine and baseline throughput and time per epoch on growing training sets (default
    mode, no validation for the baseline), from each side's best epoch. Small sets get more
    epochs (`scaling.epochs_for`), so that each has a few quiet ones to pick the best from."""
    results, rows = [], []
    for size in sizes:
        grown = scaling.grow_training_set(split, size)
        measured = train_side_by_side(
            config.with_changes(epochs=scaling.epochs_for(size, epochs)),
            grown,
            matmul,
            autocast_dtype=autocast_dtype,
            evaluate=False,
            modes=(config.train.mode,),
        )
        comparison = measured.comparisons[0]
        engine, baseline = comparison.engine, comparison.baseline
        results.append({"images": size, **comparison.to_dict()})
        rows.append(
            [
                size,
                size / engine.best_images_per_second,
                engine.best_images_per_second,
                f"{comparison.efficiency_of(engine):.0%}",
                size / baseline.best_images_per_second,
                baseline.best_images_per_second,
                comparison.speedup,
            ]
        )
        print(f"  scaling: {size:,} images done", flush=True)
    headers = [
        "images", "engine s/epoch", "engine img/s", "efficiency", "base s/epoch", "base img/s",
        "ratio",
    ]  # fmt: skip
    print(table(title, headers, rows), flush=True)
    return results


def gpu_section(split: DatasetSplit, sizes: tuple[int, ...] = scaling.SIZES) -> dict[str, Any]:
    """Sections 1, 2 and 5 again on the GPU with mixed precision, and the profile."""
    device = torch.device("cuda")
    dtype = gpu.autocast_dtype(device)
    config = RunConfig().with_changes(device="cuda", mixed_precision=True)
    print(f"\nGPU: {torch.cuda.get_device_name(device)}, autocast {dtype}", flush=True)
    matmul = MatmulSamples(device, gpu.GPU_MATMUL_SIZE, dtype)
    training = train_side_by_side(config, split, matmul, autocast_dtype=dtype)
    print(throughput_text(training, "GPU training throughput (mnist-5k, mixed precision)"))
    rows = accuracy_rows(training)
    print(accuracy_text(rows, "GPU time to validation accuracy"), flush=True)
    scaled = scaling_section(
        config.with_changes(mode=MODES[0]),
        split,
        matmul,
        sizes,
        epochs=3,
        autocast_dtype=dtype,
        title=f"GPU scaling ({MODES[0]}, mixed precision)",
    )
    profile = gpu.outside_kernels(config, scaling.grow_training_set(split, sizes[-1]))
    print(
        f"GPU epoch of {sizes[-1]:,} images: {profile['epoch_seconds']:.3f} s, of which "
        f"{profile['kernel_seconds']:.3f} s in GPU kernels (profiled epoch): "
        f"{profile['outside_kernels_share']:.0%} of the epoch outside kernels",
        flush=True,
    )
    return {
        "device": torch.cuda.get_device_name(device),
        "autocast": str(dtype).removeprefix("torch."),
        "training": [c.to_dict() for c in training.comparisons],
        "speedup": training.speedup,
        "accuracy": rows,
        "scaling": scaled,
        "profile_largest": profile,
    }


def run_bench(
    quick: bool = False,
    device: str = "cpu",
    gpu_too: bool = True,
    scaling_sizes: tuple[int, ...] = scaling.SIZES,
) -> dict[str, Any]:
    """Every section (or only 1 and 2 when `quick`); returns the results for `--json`."""
    start = time.perf_counter()
    torch_device = torch.device(device)
    machine = describe_machine(torch_device)
    print("machine: " + ", ".join(f"{k} {v}" for k, v in machine.items()), flush=True)
    split = load_dataset(DataConfig())
    config = RunConfig().with_changes(device=device)
    train = config.train
    print(
        f"data: {split.name}, {len(split.train):,} training / {len(split.valid):,} validation "
        f"images; network {config.model.name}, batch {train.batch_size}, {train.epochs} epochs, "
        f"AdamW + one-cycle (lr {train.lr:g}); engine CPU threads: "
        f"{train.cpu_threads or torch.get_num_threads()}; baseline: torchvision MNIST + "
        f"DataLoader (num_workers={NUM_WORKERS}, {torch.get_num_threads()} torch threads)",
        flush=True,
    )
    matmul = MatmulSamples(torch_device)
    training = train_side_by_side(config, split, matmul)
    print(throughput_text(training, f"Training throughput ({device})"), flush=True)
    accuracy_results = accuracy_rows(training)
    print(accuracy_text(accuracy_results, f"Time to validation accuracy ({device})"), flush=True)
    results: dict[str, Any] = {
        "machine": machine,
        "quick": quick,
        "training": [c.to_dict() for c in training.comparisons],
        "accuracy": accuracy_results,
        "speedup": training.speedup,
    }
    if not quick:
        if torch_device.type == "cpu" and torch.get_num_threads() > 1:
            results["other_threads"] = other_threads_section(config, split, matmul)
        default_config = config.with_changes(mode=MODES[0])
        default_run = training.engine_runs[MODES[0]]
        results["latency"] = latency_section(default_config, split, default_run)
        results["analysis"] = analysis_section(default_run, split)
        results["startup"] = startup_section()
        results["scaling"] = scaling_section(
            default_config, split, matmul, scaling_sizes, title=f"Scaling ({device}, {MODES[0]})"
        )
        if gpu_too and torch.cuda.is_available():
            try:
                results["gpu"] = gpu_section(split, scaling_sizes)
            except Exception as error:  # keep the CPU figures; show what failed on the GPU
                traceback.print_exc()
                results["gpu"] = {"error": f"{type(error).__name__}: {error}"}
    checked = targets.check_targets(results)
    results["targets"] = [target.to_dict() for target in checked]
    print(targets.targets_text(checked), flush=True)
    results["seconds"] = time.perf_counter() - start
    results["load_average_at_end"] = load_average()
    print(
        f"bench took {results['seconds']:.0f} s; 1-minute load average "
        f"{machine['load_average']} at the start, {results['load_average_at_end']} at the end "
        f"({machine['cpu_count']} cores)",
        flush=True,
    )
    return results
