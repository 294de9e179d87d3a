"""The package's public API: every exported name resolves, and `import engine` stays light."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import engine

ROOT = Path(__file__).resolve().parents[2]


def test_every_exported_name_resolves() -> None:
    for name in engine.__all__:
        assert getattr(engine, name) is not None, name
    assert engine.RunStore is __import__("engine.runs").runs.RunStore
    assert "train_run" in dir(engine)


def _python(probe: str, timeout: float = 60) -> str:
    """What a fresh interpreter prints running `probe` from the repository root."""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=timeout,
    )
    return result.stdout


@pytest.mark.parametrize(
    ("probe", "printed"),
    [
        pytest.param(
            "import sys, engine; print('streamlit' in sys.modules, 'torch' in sys.modules)",
            "False False",
            id="engine-alone",
        ),
        pytest.param(
            "import sys, engine; [getattr(engine, name) for name in engine.__all__]; "
            "import engine.cli, engine.jobs, engine.training_jobs; "
            "print('streamlit' in sys.modules)",
            "False",
            id="whole-engine",
            marks=pytest.mark.slow,
        ),
    ],
)
def test_what_importing_the_engine_loads(probe: str, printed: str) -> None:
    assert _python(probe, timeout=120).split() == printed.split()


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        engine.no_such_thing  # noqa: B018
    except AttributeError as error:
        assert "no_such_thing" in str(error)
    else:
        raise AssertionError("expected AttributeError")


# Every `--help`, the parse of a training's options, and the configs built from them: the
# command line answers these without loading torch (which alone takes seconds to import).
PARSER_PROBE = """
import argparse, contextlib, io, sys
from engine.cli import build_parser, main
from engine.config import RunConfig
parser = build_parser()
[commands] = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
helps = 0
for argv in (["--help"], *([name, "--help"] for name in commands.choices)):
    with contextlib.redirect_stdout(io.StringIO()) as out, contextlib.suppress(SystemExit):
        main(argv)
    helps += "usage:" in out.getvalue()
args = parser.parse_args(["train", "--mode", "multi-class", "--epochs", "2", "--device", "cpu"])
config = RunConfig().with_changes(mode=args.mode, epochs=args.epochs, device=args.device)
print(helps, len(commands.choices), config.train.mode, "torch" in sys.modules)
"""


def test_the_command_lines_help_parser_and_configs_load_without_torch() -> None:
    helps, commands, mode, torch_loaded = _python(PARSER_PROBE).split()
    assert int(commands) >= 7 and int(helps) == int(commands) + 1
    assert (mode, torch_loaded) == ("multi-class", "False")


# `python -m engine datasets|models`, as a script runs them: the listing on stdout, and on
# stderr whether torch was imported on the way.
LISTING_PROBE = """
import sys
from engine.cli import main
status = main(sys.argv[1:])
print("torch" in sys.modules, file=sys.stderr)
sys.exit(status)
"""

DATASETS_TABLE = """\
name           offline   title
mnist-5k       yes       MNIST 5k (built in)
two-digits     yes       Two digits (multi-label)
mnist          yes       MNIST (full, built in)
fashion-mnist  download  Fashion-MNIST (torchvision)
kmnist         download  Kuzushiji-MNIST (torchvision)
cifar10        download  CIFAR-10 (torchvision)
also: folder:/path (one sub-folder per class), zip:/path.zip
"""


def _listing(*args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-c", LISTING_PROBE, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert result.stderr.strip() == "False", f"torch was imported: {result.stderr}"
    return result.stdout


def test_listing_datasets_prints_the_same_table_without_torch() -> None:
    assert _listing("datasets") == DATASETS_TABLE


def test_listing_datasets_as_json_keeps_its_five_fields_without_torch() -> None:
    rows = json.loads(_listing("datasets", "--json"))
    assert [list(row) for row in rows] == [
        ["name", "title", "description", "offline", "preprocess"]
    ] * 6
    assert rows[1] == {
        "name": "two-digits",
        "title": "Two digits (multi-label)",
        "description": "Pairs of different mnist-5k digits side by side, both labels set: 4,000 "
        "training and 1,000 validation images. Trains in multi-label mode only.",
        "offline": True,
        "preprocess": "digit-pair",
    }


def test_listing_models_prints_the_offered_names_without_torch() -> None:
    assert _listing("models") == "cnn\nmlp\nresnet18\n"
    assert _listing("models", "--json").split() == ["[", '"cnn",', '"mlp",', '"resnet18"', "]"]
