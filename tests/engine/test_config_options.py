"""The command line's training options are read off the config fields: every setting marked for
the command line is an option with the dataclass's default, its values land in the config, and
booleans take `--x` and `--no-x`."""

from __future__ import annotations

from dataclasses import fields

import pytest

from engine.cli import _config_from, build_parser
from engine.config import DataConfig, ModelConfig, RunConfig, TrainConfig
from engine.config_options import config_settings


def train(*argv: str) -> RunConfig:
    return _config_from(build_parser().parse_args(["train", *argv]))


def test_no_options_train_the_default_config() -> None:
    assert train() == RunConfig()


def test_every_setting_reaches_its_field() -> None:
    changed = {
        "--dataset": ("two-digits", "dataset"),
        "--data-root": ("/tmp/data", "root"),
        "--valid-fraction": ("0.25", "valid_fraction"),
        "--limit": ("300", "limit"),
        "--none-examples": ("7", "none_examples"),
        "--model": ("mlp", "name"),
        "--mode": ("multi-class", "mode"),
        "--epochs": ("3", "epochs"),
        "--batch-size": ("64", "batch_size"),
        "--lr": ("0.01", "lr"),
        "--weight-decay": ("0.5", "weight_decay"),
        "--device": ("cpu", "device"),
        "--seed": ("4", "seed"),
        "--threshold": ("0.3", "threshold"),
        "--cpu-threads": ("2", "cpu_threads"),
    }
    argv = [part for flag, (value, _) in changed.items() for part in (flag, value)]
    flags = ["--download", "--pretrained", "--freeze-body", "--augment"]
    config = train(*argv, *flags)
    expected = RunConfig().with_changes(
        dataset="two-digits",
        root="/tmp/data",
        valid_fraction=0.25,
        limit=300,
        none_examples=7,
        name="mlp",
        mode="multi-class",
        epochs=3,
        batch_size=64,
        lr=0.01,
        weight_decay=0.5,
        device="cpu",
        seed=4,
        threshold=0.3,
        cpu_threads=2,
        download=True,
        pretrained=True,
        freeze_body=True,
        augment=True,
    )
    assert config == expected
    offered = {item.name for _, _, item in config_settings()}
    assert offered == {field for _, field in changed.values()} | {
        "download",
        "pretrained",
        "freeze_body",
        "augment",
    }


def test_booleans_can_be_turned_off_again() -> None:
    assert train("--augment", "--no-augment").train.augment is False
    assert train("--no-freeze-body").model.freeze_body is False


def test_settings_kept_off_the_command_line_have_help_text_all_the_same() -> None:
    every = [item for part in (DataConfig, ModelConfig, TrainConfig) for item in fields(part)]
    assert all(item.metadata["help"] for item in every)
    hidden = {item.name for item in every if not item.metadata["on_command_line"]}
    assert hidden == {"split_seed", "mixed_precision"}
    with pytest.raises(SystemExit):
        train("--split-seed", "1")
    with pytest.raises(ValueError, match="split_seed"):  # asking for one is a bug, said so
        config_settings(["epochs", "split_seed"])


def test_teach_none_shares_the_training_options_it_uses() -> None:
    parser = build_parser()
    args = parser.parse_args(["teach-none", "--model", "mlp", "--threshold", "0.4"])
    assert (args.name, args.threshold, args.epochs) == ("mlp", 0.4, TrainConfig().epochs)
    assert args.none_examples == 1000  # its own option: examples taught as "none"
