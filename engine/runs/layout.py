"""A run folder on disk: where runs live, what a run folder holds, how runs are named, and the
time stamps and fingerprints recorded in run.json. No torch: every other module of
engine.runs builds on these names.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from engine.config import RunConfig

RUN_FILE = "run.json"  # config, classes, status; written last, so "complete" means complete
METRICS_FILE = "metrics.json"  # one dict per finished epoch
WEIGHTS_FILE = "weights.pt"  # a state_dict, loaded with weights_only=True
VALIDATION_FILE = "validation.npz"  # validation logits, targets and images, for analysis
THRESHOLDS_FILE = "thresholds.json"  # optional: per-class thresholds tuned after training
RUNS_DIR_VARIABLE = "LME_RUNS_DIR"
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,200}")  # what run_path accepts


def default_runs_dir() -> Path:
    """`$LME_RUNS_DIR` when set, else `./runs` (git-ignored)."""
    return Path(os.environ.get(RUNS_DIR_VARIABLE) or "runs")


def new_run_id(config: RunConfig) -> str:
    """`20261125-171502-mnist-5k-multi-label-3f2a`: sortable by time, unique by the suffix."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return f"{stamp}-{_slug(config.data.dataset)}-{config.train.mode}-{secrets.token_hex(3)}"


def _slug(text: str, limit: int = 40) -> str:
    """Folder-safe piece of a run id: "folder:/data/My Pets" -> "folder-my-pets"."""
    if ":" in text:
        kind, _, rest = text.partition(":")
        name = Path(rest.rstrip("/").rstrip("\\")).stem
        text = f"{kind}-{name}"
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:limit].strip("-") or "data"


def utc_now() -> str:
    """The time stamps in run.json and thresholds.json: ISO 8601, UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def file_fingerprint(path: Path) -> dict[str, Any]:
    """Size and SHA-256 of a file, as run.json records its weights."""
    with path.open("rb") as handle:
        digest = hashlib.file_digest(handle, "sha256")
    return {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
