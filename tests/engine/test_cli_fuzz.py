"""Hostile values for every option of the command line: each ends either in success or in one
`error:` line with exit status 2, never a traceback; and the training settings that used to be
accepted as nonsense (batch size 1, an infinite learning rate, 1e23 epochs, a full disk) are
refused in words, or stopped with a message."""

from __future__ import annotations

import errno
import json
import math
import shutil
import zipfile
from collections import namedtuple
from pathlib import Path

import pytest
import torch
from torch import nn

import engine.pipeline
import engine.runs.writer
from engine.cli import build_parser
from engine.config import RunConfig
from engine.errors import EngineError, TrainingError
from engine.prediction import predict_images
from engine.runs import RunStore
from engine.training import fit
from tests.engine.synthetic import blocks_split
from tests.engine.test_cli import assert_one_error_line, cli, digit_png

# Cheap enough that a hostile value that is accepted only costs a tiny training.
BASE_TRAIN = {
    "--dataset": "mnist-5k",
    "--limit": "40",
    "--epochs": "1",
    "--batch-size": "8",
    "--cpu-threads": "1",
    "--device": "cpu",
}
BASE_TEACH = {"--limit": "60", "--epochs": "1", "--none-examples": "10", "--device": "cpu"}
HOSTILE = [
    "nan",
    "inf",
    "-inf",
    "-1",
    "0",
    "-0",
    "1e23",
    "1e999",
    "1.5",
    "99999999999999999999999",
    "",
    "x" * 300,
    "../../outside",
    " 2 ",
]


def options(command: str) -> list[str]:
    """Every option of `command` that takes a value (flags have nothing to fuzz)."""
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command")
    sub = subparsers.choices[command]
    return sorted(
        option
        for action in sub._actions
        if action.option_strings and action.nargs != 0 and action.dest != "help"
        for option in action.option_strings[:1]
    )


def assert_contract(status: int, out: str, err: str) -> None:
    assert "Traceback" not in err
    if status == 0:
        return
    assert_one_error_line(status, err)


def arguments(base: dict[str, str], option: str, value: str) -> list[str]:
    chosen = {**base, option: value}
    return [part for pair in chosen.items() for part in pair]


@pytest.mark.slow
@pytest.mark.parametrize("option", options("train"))
def test_every_train_option_survives_hostile_values(
    option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # relative paths (--runs-dir, --run-id-file) land here
    base = {**BASE_TRAIN, "--runs-dir": str(tmp_path / "runs")}
    for value in HOSTILE:
        status, out, err = cli("train", "--quiet", *arguments(base, option, value))
        assert_contract(status, out, err)
        if status == 0:
            assert out.strip().splitlines()[-1].startswith("run: ")


@pytest.mark.slow
@pytest.mark.parametrize("option", options("teach-none"))
def test_every_teach_none_option_survives_hostile_values(
    option: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for value in HOSTILE:
        status, out, err = cli("teach-none", "--json", *arguments(BASE_TEACH, option, value))
        assert_contract(status, out, err)
        if status == 0:
            json.loads(out)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    store = RunStore(tmp_path_factory.mktemp("runs"), include_demo=False)
    config = RunConfig().with_changes(epochs=1, batch_size=8, device="cpu", cpu_threads=1)
    return store.root, engine.pipeline.train_run(config, store, split=blocks_split())


@pytest.mark.parametrize("command", ["predict", "analyze", "runs"])
@pytest.mark.slow
def test_every_option_of_the_reading_commands_survives_hostile_values(
    command: str, tiny_run: tuple[Path, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runs_dir, run_id = tiny_run
    image = str(digit_png(tmp_path / "one.png"))
    base = {"--runs-dir": str(runs_dir)}
    positional = {"predict": [run_id, image], "analyze": [run_id], "runs": []}[command]
    for option in options(command):
        for value in HOSTILE:
            status, out, err = cli(command, *positional, *arguments(base, option, value))
            assert_contract(status, out, err)
    for value in HOSTILE:  # the positional arguments: a run id, image paths
        if command == "predict":
            for args in ([value, image], [run_id, value]):
                assert_contract(*cli(command, *args, "--runs-dir", str(runs_dir)))
        elif command == "analyze":
            assert_contract(*cli(command, value, "--runs-dir", str(runs_dir)))


# ---------------------------------------------------------------------------------------------
# --config files with hostile values


@pytest.mark.parametrize(
    "text, words",
    [
        ('{"train": {"epochs": 1e999}}', "epochs must be a whole number"),
        ('{"train": {"batch_size": 1.5}}', "batch size must be a whole number"),
        ('{"data": {"limit": "300"}}', "limit must be a whole number"),
        ('{"train": {"lr": Infinity}}', "learning rate must be a finite number"),
        ('{"train": {"weight_decay": NaN}}', "weight decay must be a finite number"),
        ('{"train": {"seed": 1e23}}', "seed must be a whole number"),
        ('{"data": {"none_examples": 100000000000}}', "none_examples must be a whole number"),
        ('{"train": {"mode": ["multi-label"]}}', "mode must be text"),
        ('{"model": {"pretrained": "yes"}}', "pretrained must be true or false"),
        ("[1, 2]", "does not hold a run config"),
        ("[" * 100_000 + "]" * 100_000, "does not hold a run config"),
    ],
)
def test_hostile_config_files_are_one_error_line(text: str, words: str, tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_text(text)
    status, _, err = cli("train", "--config", str(path), "--runs-dir", str(tmp_path / "runs"))
    assert_one_error_line(status, err, words)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    "option, value, words",
    [
        ("--weight-decay", "nan", "weight decay must be a finite number"),
        ("--weight-decay", "-1", "weight decay must be a finite number from 0"),
        ("--seed", "100000000000000000000000", "seed must be a whole number"),
        ("--lr", "inf", "learning rate must be a finite number"),
        ("--epochs", "100000000000000000000000", "epochs must be a whole number from 1 to 1,000"),
        ("--batch-size", "1", "batch size must be at least 2"),
        ("--valid-fraction", "0", "valid_fraction must be a finite number strictly between"),
        ("--valid-fraction", "1.5", "valid_fraction must be a finite number strictly between"),
        ("--none-examples", "1000000000000", "none_examples must be a whole number"),
    ],
)
def test_nonsense_settings_are_refused_before_any_run_exists(
    option: str, value: str, words: str, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    args = arguments({**BASE_TRAIN, "--runs-dir": str(runs)}, option, value)
    assert_one_error_line(*cli("train", *args)[::2], words)
    assert not runs.exists() or not any(runs.iterdir())


def test_teach_none_refuses_a_huge_none_examples() -> None:
    status, _, err = cli("teach-none", "--none-examples", "1000000000000", "--limit", "60")
    assert_one_error_line(status, err, "needs 1 to 100,000 all-zero examples")


def test_a_fixed_split_says_it_ignores_the_validation_fraction(tmp_path: Path) -> None:
    args = arguments({**BASE_TRAIN, "--runs-dir": str(tmp_path)}, "--valid-fraction", "0.5")
    status, _, err = cli("train", *args)
    assert status == 0
    assert "warning: mnist-5k has a fixed split" in err and "0.5 was ignored" in err


def test_one_training_image_is_refused_with_a_reason(tmp_path: Path) -> None:
    """`--limit 2` leaves one training image; resnet18's batch norm cannot learn from it."""
    args = arguments({**BASE_TRAIN, "--runs-dir": str(tmp_path)}, "--limit", "2") + [
        "--model",
        "resnet18",
        "--quiet",
    ]
    status, _, err = cli("train", *args)
    assert_one_error_line(status, err, "training needs at least 2 training images")
    [summary] = RunStore(tmp_path, include_demo=False).list_runs()
    assert summary.state == "failed" and "at least 2 training images" in summary.problem


# ---------------------------------------------------------------------------------------------
# Divergence, valid JSON, the progress line, a full disk


class Exploding(nn.Module):
    """A model whose outputs are infinite: any loss on them is not a number."""

    def __init__(self, classes: int) -> None:
        super().__init__()
        self.linear = nn.Linear(28 * 28, classes)
        with torch.no_grad():
            self.linear.weight.fill_(math.inf)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.linear(images.flatten(1))


def test_a_non_finite_loss_stops_training_with_a_message() -> None:
    config = RunConfig().with_changes(epochs=2, batch_size=8, device="cpu")
    with pytest.raises(TrainingError, match="training diverged in epoch 1"):
        fit(config, blocks_split(), model=Exploding(3))


def test_json_outputs_are_valid_json_even_with_non_finite_numbers(
    tiny_run: tuple[Path, str], tmp_path: Path
) -> None:
    runs_dir, run_id = tiny_run
    folder = tmp_path / run_id
    shutil.copytree(runs_dir / run_id, folder)
    metrics = json.loads((folder / "metrics.json").read_text())
    metrics[-1]["val_accuracy_multi"] = float("inf")  # an old run written before the checks
    (folder / "metrics.json").write_text(json.dumps(metrics))
    for command in (["runs", "--json"],):
        status, out, _ = cli(*command, "--runs-dir", str(tmp_path))
        assert status == 0
        json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))
    image = str(digit_png(tmp_path / "one.png"))
    for command in (["predict", run_id, image, "--json"], ["analyze", run_id, "--json"]):
        status, out, _ = cli(*command, "--runs-dir", str(runs_dir))
        assert status == 0
        json.loads(out, parse_constant=lambda name: pytest.fail(f"{name} in JSON output"))


def test_an_error_after_the_progress_line_starts_a_line_of_its_own(tmp_path: Path) -> None:
    archive = tmp_path / "one-class.zip"
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("cats/a.png", digit_png(tmp_path / "a.png").read_bytes())
    status, _, err = cli("train", "--dataset", f"zip:{archive}", "--runs-dir", str(tmp_path))
    assert status == 2
    lines = err.splitlines()
    [error] = [line for line in lines if "error:" in line]
    assert error.startswith("error: ")  # so `grep ^error:` finds it
    assert "lme-zip-" not in error and "one-class.zip" in error


@pytest.mark.parametrize("failure", ["torch", "errno"])
def test_a_full_disk_says_the_disk_is_full(
    failure: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def full_disk(*args, **kwargs):
        if failure == "torch":  # what torch.save raises when the disk fills up
            raise RuntimeError("PytorchStreamWriter failed writing file data/0: file write failed")
        raise OSError(errno.ENOSPC, "No space left on device")

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(engine.runs.writer.torch, "save", full_disk)
    monkeypatch.setattr(engine.runs.writer.shutil, "disk_usage", lambda path: usage(100, 100, 0))
    args = arguments(BASE_TRAIN, "--runs-dir", str(tmp_path))
    status, _, err = cli("train", "--quiet", *args)
    assert_one_error_line(status, err, "the disk is full")
    assert "RuntimeError" not in err
    [summary] = RunStore(tmp_path, include_demo=False).list_runs()
    assert summary.state == "failed" and "disk is full" in summary.problem


def test_non_finite_outputs_never_reach_a_verdict(tiny_run: tuple[Path, str]) -> None:
    """A std of 0 (say, from a run loaded before the checks) gives a message, not NaN
    probabilities read as "none of the classes"."""
    runs_dir, run_id = tiny_run
    run = RunStore(runs_dir).load_run(run_id)
    run.normalization = ([0.1], [0.0])
    image = digit_png(runs_dir.parent / "one.png").read_bytes()
    with pytest.raises(EngineError, match="NaN or infinite"):
        predict_images(run, [("one.png", image)])
