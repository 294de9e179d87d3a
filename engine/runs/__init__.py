"""The run store: every training becomes a folder that reloads exactly, and a crash never
breaks the listing.

A run is `RUNS_DIR/<run_id>/` holding `run.json` (config, classes, status), `metrics.json`
(one dict per finished epoch), `weights.pt` (a state_dict, loaded with `weights_only=True`) and
`validation.npz` (validation logits, targets and images, for analysis). Every file is written
atomically (engine.atomic_files), so a reader sees the previous version or the new one, never
half of one. `run.json` turns "complete" only after everything else is on disk.

This package's face: what callers use, re-exported from the module that owns it.

    layout            file names, the runs folder, run ids, time stamps, fingerprints
    demos             DEMO_RUNS, the runs that ship with the program
    checks            every value read from a run folder checked before use
    records           RunSummary, LoadedRun, ValidationOutputs, run_warnings
    processes         whether a run's or a leftover's writer still runs (/proc)
    health            summarize_run: complete, incomplete or damaged, and why
    loading           load_run_folder, load_state_dict
    writer            RunWriter
    housekeeping      clean_leftovers, storage_problem
    store             RunStore
    tuned_thresholds  per-class thresholds saved beside run.json

Training lives in engine.training, models in engine.models, and the load-fit-save pipeline in
engine.pipeline; this package only saves and loads what they produce.
"""

from __future__ import annotations

from engine.runs.demos import DEMO_RUN_DIR, DEMO_RUN_ID, DEMO_RUNS
from engine.runs.health import summarize_run
from engine.runs.housekeeping import clean_leftovers, storage_problem
from engine.runs.layout import (
    METRICS_FILE,
    RUN_FILE,
    RUNS_DIR_VARIABLE,
    THRESHOLDS_FILE,
    VALIDATION_FILE,
    WEIGHTS_FILE,
    default_runs_dir,
)
from engine.runs.loading import load_run_folder, load_state_dict
from engine.runs.records import LoadedRun, RunSummary, ValidationOutputs
from engine.runs.store import RunStore
from engine.runs.tuned_thresholds import (
    TunedThresholds,
    read_tuned_thresholds,
    save_tuned_thresholds,
)
from engine.runs.writer import RunWriter

__all__ = [
    "DEMO_RUNS",
    "DEMO_RUN_DIR",
    "DEMO_RUN_ID",
    "METRICS_FILE",
    "RUNS_DIR_VARIABLE",
    "RUN_FILE",
    "THRESHOLDS_FILE",
    "VALIDATION_FILE",
    "WEIGHTS_FILE",
    "LoadedRun",
    "RunStore",
    "RunSummary",
    "RunWriter",
    "TunedThresholds",
    "ValidationOutputs",
    "clean_leftovers",
    "default_runs_dir",
    "load_run_folder",
    "load_state_dict",
    "read_tuned_thresholds",
    "save_tuned_thresholds",
    "storage_problem",
    "summarize_run",
]
