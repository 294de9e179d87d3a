"""Whether the process that wrote something still runs: a run still training (its run.json
names the pid, host and start time) or a leftover's writer (its name carries a host tag and a
pid, engine.atomic_files). Same machine only; another host's writer is judged by age.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from engine.atomic_files import HOST_TAG

FOREIGN_LEFTOVER_SECONDS = 24 * 3600  # another host's (a shared NFS folder): only when old


def process_start(pid: int) -> int | None:
    """When process `pid` started (clock ticks since boot; Linux), to tell a reused pid apart:
    a restarted container often gives the new server the old one's pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
    except (OSError, ValueError, IndexError):
        return None


def process_alive(record: Mapping[str, Any]) -> bool:
    """Whether the process that is writing this run still runs (same machine only)."""
    pid = record.get("pid")
    if not isinstance(pid, int) or record.get("host") != socket.gethostname():
        return False
    started = record.get("process_start")
    if isinstance(started, int) and process_start(pid) not in (None, started):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def writer_gone(host_tag: str, pid: str, path: Path) -> bool:
    """Whether the writer named in a leftover's name (host tag, pid) has ended, so `path`
    can be removed; another host's leftover only once it is a day old."""
    if host_tag != HOST_TAG:
        try:
            return time.time() - path.lstat().st_mtime > FOREIGN_LEFTOVER_SECONDS
        except OSError:
            return False
    if int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, OSError, OverflowError):
        return False
    return False
