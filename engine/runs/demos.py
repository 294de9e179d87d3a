"""The runs that ship with the program (engine/assets/), listed read-only by every store.

DEMO_RUNS is the one list of them: the store lists and loads them, refuses to delete them or
to save thresholds with them, and tools/make_demo_run.py trains them again under these ids.
"""

from __future__ import annotations

from pathlib import Path

DEMO_RUN_ID = "demo"
DEMO_RUN_DIR = Path(__file__).resolve().parent.parent / "assets" / "demo_run"
# The sigmoid-trained demo for Explore and Predict, its softmax-trained twin so Compare
# shows the three readings of the same validation images on a fresh copy, and a sigmoid run
# on two-digits (two labels per image) for Explore's multi-label-data view and Predict's
# "1 and 7".
DEMO_RUNS: dict[str, Path] = {
    DEMO_RUN_ID: DEMO_RUN_DIR,
    "demo-softmax": DEMO_RUN_DIR.with_name("demo_run_softmax"),
    "demo-pairs": DEMO_RUN_DIR.with_name("demo_run_pairs"),
}


def is_demo_folder(path: Path) -> bool:
    """Whether `path` is one of the shipped runs' folders (read-only)."""
    return path in DEMO_RUNS.values()
