"""Two tiny saved runs (one multi-label, one multi-class, same data) for the analysis pages'
tests, trained once per test process into a temporary run store.

Three epochs on 1,500 mnist-5k images each: a few seconds, enough for real logits (a third
of the multi-label run's validation images read exactly right) whose analysis
the tests recompute with the engine and compare to what the pages show.
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from functools import cache
from pathlib import Path

from engine.config import RunConfig
from engine.runs import RunStore, train_run


@cache
def tiny_runs() -> tuple[Path, str, str]:
    """(run store folder, multi-label run id, multi-class run id)."""
    root = Path(tempfile.mkdtemp(prefix="lme-tiny-runs-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    store = RunStore(root)
    ids = {}
    for mode in ("multi-label", "multi-class"):
        config = RunConfig().with_changes(
            mode=mode, epochs=3, limit=1500, batch_size=64, device="cpu"
        )
        ids[mode] = train_run(config, store)
    return root, ids["multi-label"], ids["multi-class"]
