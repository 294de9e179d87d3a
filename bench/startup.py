"""Command-line start-up: how long `python -m engine --help` and the listings take, each the
median of a few fresh processes, beside a bare interpreter and `import torch` measured in the
same run. The parser, the configs and the dataset and model listings load without torch, so
each of these should cost about as much as the interpreter itself.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.measure import median_seconds, ratio
from bench.report import table

ROOT = Path(__file__).resolve().parents[1]
COMMANDS: dict[str, list[str]] = {
    "python -c pass (the interpreter alone)": ["-c", "pass"],
    "python -c 'import torch'": ["-c", "import torch"],
    "python -m engine --help": ["-m", "engine", "--help"],
    "python -m engine train --help": ["-m", "engine", "train", "--help"],
    "python -m engine datasets": ["-m", "engine", "datasets"],
    "python -m engine models": ["-m", "engine", "models"],
}


@dataclass
class Startup:
    command: str
    seconds: float
    over_interpreter: float | None  # this command's time / the bare interpreter's
    over_torch_import: float | None  # this command's time / `import torch`'s


def _run(arguments: list[str]) -> None:
    subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, check=True, timeout=120
    )


def measure_startup(repeats: int = 5) -> list[Startup]:
    """Median wall time of each command in fresh processes (after one warm-up run each)."""
    seconds = {
        name: median_seconds(lambda a=arguments: _run(a), repeats)
        for name, arguments in COMMANDS.items()
    }
    interpreter, torch_import = list(seconds.values())[:2]
    return [
        Startup(name, value, ratio(value, interpreter), ratio(value, torch_import))
        for name, value in seconds.items()
    ]


def startup_text(results: list[Startup]) -> str:
    rows = [(r.command, r.seconds, r.over_interpreter, r.over_torch_import) for r in results]
    headers = ("command", "seconds (median)", "x interpreter", "x import torch")
    return table("Command-line start-up", headers, rows)


def startup_section(repeats: int = 5) -> list[dict[str, object]]:
    results = measure_startup(repeats)
    print(startup_text(results), flush=True)
    return [asdict(result) for result in results]
