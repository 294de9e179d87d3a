"""Atomic file writes: a reader sees the previous version of a file or the new one, never half.

Every write goes to a temporary file in the same folder, is flushed to disk, then renamed over
the old file. Temporary files (and the scratch folders other modules make in the system temp)
carry their writer, a tag of the host and the pid, so a later clean-up (engine.runs.housekeeping's
`clean_leftovers`) can tell a crash's leftovers from another process's write in progress.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import IO, Any

UMASK = os.umask(0o022)  # read once (the only portable way), then put back at once
os.umask(UMASK)
HOST_TAG = hashlib.sha256(socket.gethostname().encode()).hexdigest()[:6]
WRITER_TAG = f"{HOST_TAG}-{os.getpid()}"  # this process: host tag and pid


def scratch_prefix(kind: str) -> str:
    """The prefix of a scratch folder in the system temp (`kind` such as "lme-zip-"),
    naming this process so a later clean-up knows whether it still runs."""
    return f"{kind}{WRITER_TAG}-"


@contextmanager
def atomic_open(path: Path | str) -> Iterator[IO[bytes]]:
    """Open a temporary file beside `path`; on success it replaces `path` in one rename.

    The data is fsynced before the rename, so after a crash (even a power cut) `path` holds
    either the old content or the new, complete one. On an exception the temporary file is
    removed and `path` is untouched.
    """
    path = Path(path)
    descriptor, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.{WRITER_TAG}-", suffix=".tmp", dir=path.parent
    )
    try:
        if hasattr(os, "fchmod"):  # mkstemp makes 0600 files; runs are as readable as any file
            os.fchmod(descriptor, 0o666 & ~UMASK)
        with os.fdopen(descriptor, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)


def atomic_write_bytes(path: Path | str, data: bytes) -> None:
    with atomic_open(path) as handle:
        handle.write(data)


def atomic_write_json(path: Path | str, value: Any) -> None:
    """Run files as indented JSON. NaN is kept as `NaN` (Python's json reads it back), so a
    diverged loss is recorded as it was."""
    atomic_write_bytes(path, (json.dumps(value, indent=2, allow_nan=True) + "\n").encode())


def _fsync_folder(folder: Path) -> None:
    """Persist the rename itself; not possible (nor needed) on every platform."""
    try:
        descriptor = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        with suppress(OSError):
            os.fsync(descriptor)
    finally:
        os.close(descriptor)
