"""The bench's pieces run end to end on tiny sizes and give sane numbers (no timing goals:
speed is the bench's business, run with `python -m bench`)."""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from torch import nn
from torchvision import datasets

from bench import accuracy, analysis_speed, latency, scaling, targets
from bench.baseline import write_mnist_folder
from bench.flops import training_flops_per_image
from bench.mnist_full import MnistResults, MnistSettings, SideRun, Trial, mnist_section, mnist_text
from bench.report import save_json, table
from bench.suite import MatmulSamples, accuracy_rows, train_side_by_side
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset


def _digit_split(train: int = 96, valid: int = 64, classes: int = 4) -> DatasetSplit:
    """Learnable 28x28 images: class k is a bright bar in row band k, plus noise."""
    generator = torch.Generator().manual_seed(0)

    def part(count: int) -> ImageDataset:
        targets = torch.arange(count) % classes
        images = torch.randint(0, 40, (count, 1, 28, 28), generator=generator, dtype=torch.uint8)
        for index, target in enumerate(targets.tolist()):
            images[index, 0, 4 + 5 * target : 7 + 5 * target, 6:22] = 255
        return ImageDataset(images, targets, tuple(str(k) for k in range(classes)))

    return DatasetSplit("bars", part(train), part(valid), preprocess="digit")


@pytest.mark.slow
def test_bench_pieces_run_on_tiny_sizes_and_give_sane_numbers():
    split = _digit_split()

    # FLOPs: a single Linear layer costs 2*in*out forward and 2*in*out for the weight gradient.
    linear = nn.Sequential(nn.Flatten(), nn.Linear(784, 10))
    assert training_flops_per_image(linear, (1, 28, 28), 10) == 4 * 784 * 10

    # The baseline's MNIST folder reads back through torchvision's own class, unchanged.
    with tempfile.TemporaryDirectory() as root:
        write_mnist_folder(split, Path(root))
        mnist = datasets.MNIST(root, train=True, download=False)
        assert torch.equal(mnist.data, split.train.images[:, 0])
        assert torch.equal(mnist.targets, split.train.targets)
        assert len(datasets.MNIST(root, train=False, download=False)) == len(split.valid)

    # Engine and baseline, interleaved epoch by epoch, in both label modes.
    config = RunConfig().with_changes(epochs=2, batch_size=32, device="cpu", lr=1e-2)
    matmul = MatmulSamples(torch.device("cpu"), size=64)
    default_threads = torch.get_num_threads()
    results = train_side_by_side(config, split, matmul, num_workers=0)
    # The engine may train on its own thread count; the baseline trains on the default one.
    assert torch.get_num_threads() == default_threads
    assert {run.threads for run in results.baseline_runs.values()} == {default_threads}
    engine_threads = config.train.cpu_threads or default_threads
    assert {c.engine_threads for c in results.comparisons} == {engine_threads}
    if engine_threads != default_threads:  # a ceiling at the engine's own thread count too
        assert all(len(c.engine_thread_samples) == 2 for c in results.comparisons)
        assert all(c.own_thread_efficiency > 0 for c in results.comparisons)
    assert [c.engine.mode for c in results.comparisons] == ["multi-label", "multi-class"]
    for comparison in results.comparisons:
        assert len(comparison.engine.epoch_seconds) == len(comparison.baseline.epoch_seconds) == 2
        assert len(comparison.matmul_samples) == 2 and min(comparison.matmul_samples) > 0
        assert comparison.engine.images_per_epoch == comparison.baseline.images_per_epoch == 96
        assert comparison.speedup == (
            comparison.engine.best_images_per_second / comparison.baseline.best_images_per_second
        )
        assert math.isfinite(comparison.paired_speedup) and comparison.paired_speedup > 0
        assert comparison.flops_per_image > 1e6  # DigitCNN: about 11 MFLOP per image
        assert len(comparison.pair_ratios) == 2 and min(comparison.pair_ratios) > 0
        assert comparison.median_efficiency_of(comparison.engine) > 0
        # Best against best: the best epoch's rate over the run's best matrix-multiply sample.
        assert comparison.matmul_flops_per_second == max(matmul.samples)
        best_rate = comparison.engine.best_images_per_second
        assert comparison.efficiency_of(comparison.engine) == (
            best_rate * comparison.flops_per_image / max(matmul.samples)
        )
    assert results.speedup is not None and results.speedup > 0

    rows = accuracy_rows(results)
    assert {(row["mode"], row["side"]) for row in rows} == {
        (mode, side) for mode in ("multi-label", "multi-class") for side in ("engine", "baseline")
    }
    for row in rows:
        assert 0.0 <= row["final_accuracy"] <= 1.0 and row["seconds_total"] > 0
    engine_accuracy = results.engine_runs["multi-class"].val_accuracy
    assert engine_accuracy[-1] > 0.5  # the bars are easy: a working loop learns them

    # Time to accuracy: the end of the first epoch at or above each target.
    assert accuracy.times_to_targets([0.9, 0.96, 0.98], [1.0, 2.0, 3.0]) == {
        "0.95": 2.0,
        "0.97": 3.0,
        "0.975": 3.0,
    }
    assert accuracy.time_to_accuracy([0.9], [1.0], 0.95) is None

    # Prediction latency through a saved and reloaded run.
    run = results.engine_runs["multi-label"]
    timed = latency.latency_of_fit(
        config.with_changes(mode="multi-label"), split, run.result, repeats=2
    )
    assert timed.batch_size == 64 and timed.one_image_seconds > 0 and timed.batch_seconds > 0

    # Analysis times on tiled real outputs.
    analysed = analysis_speed.measure_analysis(
        run.result.valid_logits, run.result.valid_targets, split.class_names, (50,), repeats=1
    )
    assert analysed[0].outputs == 50 and analysed[0].total_seconds > 0

    # Scaling: exact sizes, originals first, shifted copies keep their pixels.
    grown = scaling.grow_training_set(split, 250)
    assert len(grown.train) == 250 and len(grown.valid) == len(split.valid)
    assert torch.equal(grown.train.images[:96], split.train.images)
    assert torch.equal(grown.train.targets[96:192], split.train.targets)
    assert [scaling.epochs_for(size) for size in (1_000, 5_000, 20_000, 60_000)] == [5, 4, 2, 2]
    moved = scaling.shifted(torch.eye(5, dtype=torch.uint8)[None, None] * 9, 1, -1)
    assert moved[0, 0, 2, 0].item() == 9 and moved.sum().item() == 9 * 3  # (i, i) -> (i+1, i-1)

    # Tables print every row with its figures: names left, figures right.
    text = table("t", ["name", "b"], [["x", 1234.5], ["yy", None]])
    assert text.splitlines() == ["== t", "name      b", "x     1,234", "yy        -"]

    # Targets: met or missed, and by how much.
    checked = {
        target.name: target
        for target in targets.check_targets(
            {
                "speedup": 1.5,
                "training": [{"engine_efficiency": 0.9}],
                "accuracy": [
                    {"side": "engine", "seconds_to": {"0.975": 2.0}},
                    {"side": "engine", "seconds_to": {"0.975": 4.0}},
                    {"side": "baseline", "seconds_to": {"0.975": 30.0}},
                ],
                "latency": {"one_image_seconds": 0.01},
                "startup": [{"command": "python -m engine --help", "seconds": 0.25}],
            }
        )
    }
    speed = checked["CPU training: engine / baseline"]
    assert speed.met is False and speed.margin == 0.75
    assert checked["CPU training: share of the matmul ceiling"].met is True
    slowest = checked["CPU: seconds to 97.5% validation accuracy (both modes)"]
    assert slowest.measured == 4.0 and slowest.met is True and slowest.margin == 1.25
    assert checked["CPU predict: one uploaded PNG"].margin == 0.5
    assert checked["python -m engine --help"].margin == 4.0


@pytest.mark.slow
def test_full_mnist_section_reads_torchvision_files_and_counts_epochs_to_the_target(
    tmp_path, capsys, monkeypatch
):
    """The full-MNIST path on tiny IDX files: the engine's `mnist` dataset and the baseline's
    torchvision.datasets.MNIST both read them, and the report holds real accuracies."""
    split = _digit_split(train=96, valid=64)
    write_mnist_folder(split, tmp_path)  # MNIST/raw/{train,t10k}-*-idx*-ubyte, as torchvision
    settings = MnistSettings(
        target=0.9,
        max_epochs=3,
        min_epochs=2,
        num_workers=0,
        root=str(tmp_path),
        matmul_size=32,
        cost_images=64,
        cost_repeats=2,
    )
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    config = RunConfig().with_changes(batch_size=16, lr=1e-2)
    results = mnist_section(settings, "cpu", config=config)
    printed = capsys.readouterr().out
    assert "Full MNIST on the GPU: no GPU: skipped" in printed
    cpu = results["cpu"]
    assert (cpu["training_images"], cpu["test_images"], cpu["threads"]) == (96, 64, 1)
    assert [trial["augment"] for trial in cpu["trials"]] == [False, True]
    for trial in cpu["trials"]:
        engine, baseline = trial["engine"], trial["baseline"]
        epochs_run = len(engine["epoch_seconds"])
        assert len(baseline["epoch_seconds"]) == len(trial["pair_ratios"]) == epochs_run
        assert 2 <= epochs_run <= 3 and len(trial["matmul_samples"]) == epochs_run
        for side in (engine, baseline):
            # Scored on the 64 tiny test digits, on both sides: whole numbers of them.
            assert all(round(a * 64, 6).is_integer() for a in side["test_accuracy"])
            first = next((e for e, a in enumerate(side["test_accuracy"], 1) if a >= 0.9), None)
            assert side["epochs_to_target"] == first
            if first is not None:
                assert side["seconds_to_target"] == first * side["median_epoch_seconds"]
        if epochs_run < 3:  # stopped early: only once both had reached the target
            assert engine["epochs_to_target"] and baseline["epochs_to_target"]
    # The bars are easy: the engine's plain training reaches 90% on them.
    assert cpu["trials"][0]["engine"]["epochs_to_target"] is not None
    # Augmentation's cost: plain and augmented epochs of the first 64 digits, in turn.
    assert set(cpu["augmentation_cost"]) == {"engine", "baseline"}
    for cost in cpu["augmentation_cost"].values():
        assert cost["images"] == 64 and len(cost["pair_ratios"]) == 2
        ratios = [
            a / p
            for p, a in zip(
                cost["plain_epoch_seconds"], cost["augmented_epoch_seconds"], strict=True
            )
        ]
        assert cost["pair_ratios"] == ratios and cost["median_pair_ratio"] > 0
    assert "augmentation's cost, engine (plain and augmented epochs of 64 digits" in printed
    assert "Full MNIST to 90.0% test accuracy" in printed
    save_json(results, tmp_path / "results.json")  # what --json writes: strict JSON
    assert json.loads((tmp_path / "results.json").read_text())["cpu"]["test_images"] == 64

    # The same epochs against a target no accuracy reaches: reported as not reached.
    measured = MnistResults(
        "cpu", replace(settings, target=1.01), "multi-label", 16, 1, (96, 64),
        [Trial(False, SideRun("engine", [1.0, 3.0], [0.5, 0.95]),
               SideRun("baseline", [4.0, 5.0], [0.3, 0.99]), [1e9, 1e9], (1.0, 2.0))],
    )  # fmt: skip
    assert measured.trials[0].engine.seconds_to(1.01) is None
    assert measured.trials[0].pair_ratios == [4.0, 5.0 / 3.0]
    text = mnist_text(measured)
    assert text.count("not reached") == 6 and "to 101.0%: engine not reached" in text
    assert measured.trials[0].engine.seconds_to(0.9) == 2 * 2.0  # 2 epochs x median 2 s


def test_saved_results_are_strict_json(tmp_path: Path) -> None:
    """`--json PATH` writes through the engine's one sanitiser: numbers, never NaN."""
    path = tmp_path / "nested" / "results.json"
    results = {"speedup": float("nan"), "images": torch.tensor(3), "rates": (1.5, math.inf)}
    save_json(results, path)
    assert json.loads(path.read_text()) == {"speedup": None, "images": 3, "rates": [1.5, None]}
