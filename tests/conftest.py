"""What every test shares: one torch thread, and two tiny saved runs built once per session.

Markers (declared in pyproject.toml): `slow` for the integration tests that train in real
processes or run for many seconds, `browser` for tests/e2e. The fast subset is
`pytest -m "not slow and not browser"`; `bash tests/run_tests.sh` runs everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def _one_torch_thread_for_the_session() -> Iterator[None]:
    """Tiny tensors gain nothing from a second thread, and on a busy 2-core machine the
    threads wait on each other (training here ran 5-20x slower with two)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def _one_torch_thread(_one_torch_thread_for_the_session: None) -> None:
    """Every test starts on one thread, whatever the test before it set."""
    if torch.get_num_threads() != 1:
        torch.set_num_threads(1)


class TinyRuns(NamedTuple):
    root: Path  # the run store holding both
    multi_label: str  # run ids
    multi_class: str


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory: pytest.TempPathFactory) -> TinyRuns:
    """Two tiny saved runs of the same data, one multi-label and one multi-class.

    Three epochs on 1,500 mnist-5k images each: a few seconds, enough for real logits (a
    third of the multi-label run's validation images read exactly right) whose analysis the
    tests recompute with the engine and compare to what the pages show.
    """
    from engine.config import RunConfig
    from engine.pipeline import train_run
    from engine.runs import RunStore

    root = tmp_path_factory.mktemp("tiny-runs")
    store = RunStore(root)
    ids = {}
    for mode in ("multi-label", "multi-class"):
        config = RunConfig().with_changes(
            mode=mode, epochs=3, limit=1500, batch_size=64, device="cpu"
        )
        ids[mode] = train_run(config, store)
    return TinyRuns(root, ids["multi-label"], ids["multi-class"])
