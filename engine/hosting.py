"""Hosting one server for many strangers: who owns which run and upload, what each visitor may
keep, and the clean-up that keeps the disk bounded.

Switched on by the environment variable `LME_PUBLIC=1` (the Dockerfile sets it). Then every
visitor is known only by a random, unguessable key their browser keeps (dashboard/visitor.py);
a run records the *owner*, a one-way hash of that key, never the key itself, so neither
run.json nor `python -m engine runs` can be used to act as someone else. A visitor sees the
shipped demo runs, runs nobody owns (trained from the command line by whoever runs the
server), their own runs, and a run someone shared with them: a share link carries a token
that only this server can compute for that one run (an HMAC of the run id under a secret
kept in the runs folder), so it opens that run and nothing else.

Without `LME_PUBLIC` (one person on their own machine) nothing here restricts anything: every
run is visible and the command line is unaffected.

Every limit is a `HostingLimits` field read from an environment variable (`LIMIT_SETTINGS`
names them; the README lists them). This module decides and measures; the training queue is
engine.work_queue's, the run files engine.runs'.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import hmac
import os
import re
import secrets
import tempfile
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import EngineError
from engine.states import RunState

if TYPE_CHECKING:
    from engine.config import RunConfig
    from engine.runs import RunStore, RunSummary

PUBLIC_VARIABLE = "LME_PUBLIC"
UPLOADS_DIR_VARIABLE = "LME_UPLOADS_DIR"
SECRET_FILE = ".share-secret"  # in the runs folder: hidden, so the run list never shows it
MB = 1024 * 1024
_VISITOR_KEY = re.compile(r"[A-Za-z0-9_-]{20,64}")
_TRUE = ("1", "true", "yes", "on")


class QuotaError(EngineError):
    """A visitor or the server reached one of the hosting limits; the message says which."""


def cpu_cores() -> int:
    """Cores this process may use (its CPU affinity where the system says it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def is_public(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the server is a hosted demo shared by strangers (`LME_PUBLIC=1`)."""
    environ = os.environ if environ is None else environ
    return environ.get(PUBLIC_VARIABLE, "").strip().lower() in _TRUE


# ---------------------------------------------------------------------------------------------
# The limits


@dataclass(frozen=True)
class HostingLimits:
    """Every bound a server puts on its visitors. The per-visitor ones apply when `public`;
    the training queue (`max_trainings`, `max_waiting`) applies on every server."""

    public: bool = False
    # trainings at once, each with (cores - 1) / max_trainings CPU threads: more only makes
    # every one of them slower (2 cores: 1 training, on 1 thread)
    max_trainings: int = max(1, cpu_cores() // 2)
    max_waiting: int = 16  # trainings and dataset loads waiting for a slot, all visitors
    max_runs_per_visitor: int = 10
    max_upload_mb_per_visitor: float = 100.0  # uploaded zips kept for one visitor
    max_runs_disk_mb: float = 2048.0  # every run folder of the server together
    max_age_hours: float = 24.0  # a visitor's runs and uploads are removed after this
    # one training's work: epochs x training images x FLOPs of a forward and backward pass;
    # the default CNN on mnist-5k for 5 epochs is 0.23, resnet18 for 100 epochs about 34
    max_training_tflop: float = 10.0
    # a visitor's training is stopped once no page of theirs has asked about it for this long
    # (the tab was closed); it is saved as stopped
    abandoned_seconds: float = 120.0

    @property
    def threads_per_training(self) -> int:
        """CPU threads each training gets: the cores but one (kept for the pages, uploads and
        predictions), shared by the trainings running at once; at least one. More threads
        than free cores spin against each other: a 3 s training took 56 s beside one other
        busy job on 2 cores."""
        return max(1, (cpu_cores() - 1) // self.max_trainings)


# field -> (environment variable, what it bounds), for parsing and for the README's table
LIMIT_SETTINGS: dict[str, tuple[str, str]] = {
    "max_trainings": ("LME_MAX_TRAININGS", "trainings running at once on the server"),
    "max_waiting": ("LME_MAX_WAITING", "trainings and dataset loads waiting for a slot"),
    "max_runs_per_visitor": ("LME_MAX_RUNS_PER_VISITOR", "runs one visitor keeps"),
    "max_upload_mb_per_visitor": ("LME_MAX_UPLOAD_MB_PER_VISITOR", "MB of zips one visitor"),
    "max_runs_disk_mb": ("LME_MAX_RUNS_DISK_MB", "MB of run folders on the server"),
    "max_age_hours": ("LME_MAX_AGE_HOURS", "hours a visitor's runs and uploads are kept"),
    "max_training_tflop": ("LME_MAX_TRAINING_TFLOP", "TFLOP of work in one training"),
    "abandoned_seconds": ("LME_ABANDONED_SECONDS", "seconds before a closed tab's job ends"),
}


def hosting_limits(environ: Mapping[str, str] | None = None) -> HostingLimits:
    """The limits in force: the defaults, changed by the variables of `LIMIT_SETTINGS`.

    A value that is not a positive number is an EngineError naming the variable.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, object] = {"public": is_public(environ)}
    kinds = {item.name: item.type for item in fields(HostingLimits)}
    for name, (variable, _what) in LIMIT_SETTINGS.items():
        raw = environ.get(variable, "").strip()
        if not raw:
            continue
        integer = kinds[name] in (int, "int")
        try:
            value = int(raw) if integer else float(raw)
        except ValueError:
            value = -1
        if not value > 0 or value == float("inf"):
            kind = "a whole number" if integer else "a number"
            raise EngineError(f"{variable}={raw!r} is not usable: give {kind} above 0")
        values[name] = value
    return HostingLimits(**values)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Visitors, owners and share links


def new_visitor_key() -> str:
    """A fresh random key for a visitor's browser (128 bits, URL-safe)."""
    return secrets.token_urlsafe(16)


def is_visitor_key(text: object) -> bool:
    return isinstance(text, str) and _VISITOR_KEY.fullmatch(text) is not None


def owner_of(visitor_key: str) -> str:
    """The owner recorded in a visitor's runs: a one-way hash of their key."""
    return hashlib.sha256(f"label-mode-explorer owner {visitor_key}".encode()).hexdigest()[:32]


def _server_secret(root: Path) -> bytes:
    """The secret share tokens are made with, created once per runs folder (mode 0600)."""
    path = Path(root) / SECRET_FILE
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another session made it at the same moment: use theirs
        time.sleep(0.05)
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text(encoding="ascii").strip())


def share_token(root: Path | str, run_id: str) -> str:
    """The token a share link carries for `run_id`: it opens that run, read-only, only."""
    digest = hmac.new(_server_secret(Path(root)), run_id.encode(), hashlib.sha256).hexdigest()
    return digest[:32]


def shared_runs(root: Path | str, run_ids: Iterable[str], tokens: Iterable[str]) -> set[str]:
    """Which of `run_ids` one of `tokens` opens."""
    tokens = {token for token in tokens if isinstance(token, str) and token}
    if not tokens:
        return set()
    return {run_id for run_id in run_ids if share_token(root, run_id) in tokens}


def can_see(summary: RunSummary, owner: str | None, shared: Iterable[str] = ()) -> bool:
    """Whether a visitor (`owner`, None on a private server) may see a run: demos and runs
    nobody owns always, their own runs, and runs shared with them."""
    if owner is None or summary.read_only or summary.owner is None:
        return True
    return summary.owner == owner or summary.id in set(shared)


def owns(summary: RunSummary, owner: str | None) -> bool:
    """Whether a visitor may delete a run: theirs, and never a shipped demo."""
    if summary.read_only:
        return False
    return owner is None or summary.owner == owner


# ---------------------------------------------------------------------------------------------
# Quotas


def folder_bytes(folder: Path) -> int:
    """Bytes of every regular file under `folder` (0 when it does not exist)."""
    total = 0
    for directory, _folders, files in os.walk(folder):
        for name in files:
            try:
                total += os.lstat(os.path.join(directory, name)).st_size
            except OSError:
                pass
    return total


@functools.lru_cache(maxsize=64)
def forward_flops(model: str, num_classes: int, image_shape: tuple[int, int, int]) -> float:
    """FLOPs of one image's forward pass through `model`, counted by PyTorch."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from engine.config import ModelConfig
    from engine.models import build_model

    network = build_model(ModelConfig(name=model), num_classes, image_shape).eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        network(torch.zeros(2, *image_shape))
    return counter.get_total_flops() / 2


def training_tflop(config: RunConfig, train_size: int, num_classes: int, image_shape) -> float:
    """The work of a training in TFLOP: epochs x images x (forward + backward ~ 3 forwards).
    0 when the model cannot be built for this data: the training then fails with the
    engine's own message, which says more than a quota could."""
    try:
        per_image = forward_flops(config.model.name, num_classes, tuple(image_shape))
    except Exception:  # an unknown model, or a shape it cannot take
        return 0.0
    return config.train.epochs * train_size * 3 * per_image / 1e12


def check_training_allowed(
    store: RunStore,
    owner: str | None,
    config: RunConfig,
    train_size: int,
    num_classes: int,
    image_shape: tuple[int, int, int],
    limits: HostingLimits,
) -> None:
    """QuotaError when a visitor may not start this training now: too many runs of theirs, a
    full server store, or more work than one training may take. Nothing on a private server."""
    if not limits.public:
        return
    work = training_tflop(config, train_size, num_classes, image_shape)
    if work > limits.max_training_tflop:
        raise QuotaError(
            f"this training is too big for the shared demo: {config.train.epochs} epochs of "
            f"{train_size:,} images with {config.model.name} is about {work:.1f} TFLOP of work, "
            f"and one training may take {limits.max_training_tflop:g}. Use fewer epochs, fewer "
            "images (the image limit) or a smaller model - or run the app on your own machine"
        )
    own = [s for s in store.list_runs() if owner is not None and s.owner == owner]
    if len(own) >= limits.max_runs_per_visitor:
        raise QuotaError(
            f"you have {len(own)} saved runs, the most one visitor may keep here: delete one "
            "of them (Explore, under the run chooser) before training another"
        )
    used = folder_bytes(store.root) / MB
    if used >= limits.max_runs_disk_mb:
        raise QuotaError(
            f"the server's run storage is full ({used:,.0f} of {limits.max_runs_disk_mb:,.0f} "
            "MB): runs are removed after "
            f"{limits.max_age_hours:g} hours; try again later, or delete runs of yours"
        )


# ---------------------------------------------------------------------------------------------
# Uploaded datasets


def uploads_dir() -> Path:
    """Where uploaded zips are kept: $LME_UPLOADS_DIR, else a folder in the system temp."""
    configured = os.environ.get(UPLOADS_DIR_VARIABLE)
    return (
        Path(configured)
        if configured
        else Path(tempfile.gettempdir()) / "label-mode-explorer-uploads"
    )


def _owner_folder(owner: str | None) -> Path:
    return uploads_dir() / (owner or "local")


def save_upload(
    data: bytes, owner: str | None, limits: HostingLimits, name: str = "upload"
) -> Path:
    """Keep an uploaded zip in its visitor's folder, under its own file name in a folder named
    by its content (a re-upload reuses it), and return its path; QuotaError when it would take
    the visitor past their upload quota."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(name).stem).strip("._")[:80] or "upload"
    folder = _owner_folder(owner)
    path = folder / hashlib.sha256(data).hexdigest()[:16] / f"{stem}.zip"
    if path.is_file():
        os.utime(path)  # used again: its age starts again
        return path
    if limits.public:
        used = folder_bytes(folder)
        if (used + len(data)) / MB > limits.max_upload_mb_per_visitor:
            raise QuotaError(
                f"your uploads would take {(used + len(data)) / MB:.1f} MB, more than the "
                f"{limits.max_upload_mb_per_visitor:g} MB one visitor may keep here; uploads "
                f"are removed after {limits.max_age_hours:g} hours"
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    from engine.atomic_files import atomic_write_bytes

    atomic_write_bytes(path, data)
    return path


def discard_upload(dataset: str) -> None:
    """Remove an uploaded zip that could not be used (named `zip:PATH`); only uploads."""
    path = Path(dataset.removeprefix("zip:"))
    if dataset.startswith("zip:") and uploads_dir().resolve() in path.resolve().parents:
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # its content folder, when nothing else is in it
            path.parent.rmdir()


def may_use_dataset(dataset: str, owner: str | None) -> bool:
    """On a public server a visitor trains on the built-in datasets and their own uploads only
    (a shared run's twin must not retrain on somebody else's pictures)."""
    if owner is None:
        return True
    if dataset.startswith("folder:"):
        return False
    if not dataset.startswith("zip:"):
        return True
    path = Path(dataset.removeprefix("zip:")).resolve()
    return _owner_folder(owner).resolve() in path.parents


# ---------------------------------------------------------------------------------------------
# Clean-up


def remove_expired(store: RunStore, limits: HostingLimits, now: float | None = None) -> list[str]:
    """On a public server: remove visitors' runs and uploads older than `max_age_hours`
    (runs nobody owns and the demos stay). Returns what was removed, as names."""
    if not limits.public:
        return []
    now = time.time() if now is None else now
    cutoff = now - limits.max_age_hours * 3600
    removed = []
    for summary in store.list_runs():
        if summary.read_only or summary.owner is None or summary.state == RunState.RUNNING:
            continue
        try:
            modified = (summary.path / "run.json").stat().st_mtime
        except OSError:
            continue
        if modified < cutoff:
            try:
                store.delete_run(summary.id)
                removed.append(summary.id)
            except (EngineError, OSError):
                pass
    root = uploads_dir()
    for path in root.glob("*/*/*.zip") if root.is_dir() else ():
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed.append(path.name)
                path.parent.rmdir()
        except OSError:
            pass
    return removed
