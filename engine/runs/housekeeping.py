"""What a crash leaves behind, and a runs folder that cannot be used.

`clean_leftovers` (run by every store that opens) removes hidden `.staging`/`.deleting` run
folders, `.tmp` files and `lme-zip-*`/`lme-job-*` scratch folders whose writer, named in them
by host tag and pid (engine.atomic_files), has ended. `storage_problem` says in words why no
run can be saved under a folder.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
import time
from pathlib import Path

from engine.runs.processes import writer_gone

_LEFTOVER = re.compile(r"^\..*\.([0-9a-f]{6})-(\d+)(?:[.-].*)?(\.tmp|\.staging|\.deleting)$")
_UNTAGGED_LEFTOVER = re.compile(r"^\..*(\.tmp|\.staging)$")  # written before writers were tagged
_UNTAGGED_LEFTOVER_SECONDS = 3600
# Scratch folders other modules make in the system temp folder, named `PREFIX<tag>-...`
# (engine.atomic_files.scratch_prefix): extracted zips (engine.datasets.folders) and
# torchrun jobs' files (engine.torchrun_jobs).
_SCRATCH = re.compile(r"^lme-(?:zip|job)-([0-9a-f]{6})-(\d+)-")


def clean_leftovers(root: Path | str) -> list[Path]:
    """Remove what killed writes left: hidden `.staging`/`.deleting` run folders and `.tmp`
    files in the runs folder and its run folders, and `lme-zip-*`/`lme-job-*` scratch folders
    in the system temp, each only when the process that made it no longer runs. Never raises;
    returns what it removed."""
    removed: list[Path] = []
    root = Path(root)
    try:
        candidates = [root / name for name in os.listdir(root)] if root.is_dir() else []
        for folder in list(candidates):
            if folder.is_dir() and not folder.name.startswith(".") and not folder.is_symlink():
                candidates += [folder / name for name in os.listdir(folder)]
        temp = Path(tempfile.gettempdir())
        scratch = [temp / name for name in os.listdir(temp) if _SCRATCH.match(name)]
    except OSError:
        return removed
    for path in candidates:
        match = _LEFTOVER.match(path.name)
        if match and writer_gone(match.group(1), match.group(2), path):
            _remove(path)
            removed.append(path)
        elif not match and _UNTAGGED_LEFTOVER.match(path.name) and _older(path):
            _remove(path)
            removed.append(path)
    for path in scratch:
        match = _SCRATCH.match(path.name)
        if match and writer_gone(match.group(1), match.group(2), path):
            _remove(path)
            removed.append(path)
    return removed


def storage_problem(root: Path | str) -> str | None:
    """Why no run can be saved under `root`, in words without the path, or None."""
    root = Path(root)
    if root.exists() and not root.is_dir():
        return "the runs folder (--runs-dir / LME_RUNS_DIR) is a file, not a folder"
    existing = root if root.exists() else next((p for p in root.parents if p.exists()), None)
    if existing is not None and not os.access(existing, os.W_OK | os.X_OK):
        return "the runs folder (--runs-dir / LME_RUNS_DIR) is read-only: runs cannot be saved"
    return None


def _older(path: Path, seconds: float = _UNTAGGED_LEFTOVER_SECONDS) -> bool:
    try:
        return time.time() - path.lstat().st_mtime > seconds
    except OSError:
        return False


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
