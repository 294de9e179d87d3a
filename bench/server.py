"""A dashboard server for a real browser: `streamlit run dashboard/app.py` headless on a free
loopback port (nothing leaves the machine), waited for until healthy, stopped after.

The load round (`python -m bench.load`) and the browser tests (tests/e2e) both start it here.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 120  # a cold start imports torch and streamlit: seconds on a busy machine


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def streamlit_server(runs_dir: Path, log_path: Path, **settings: str) -> Iterator[tuple[str, int]]:
    """The app on the run store `runs_dir`, logging to `log_path`, with `settings` as more
    environment variables (e.g. LME_PUBLIC="1"): (base URL, server pid) once healthy; stopped
    after. RuntimeError with the log's end when it exits early or never becomes healthy."""
    port = free_port()
    environment = {
        **os.environ,
        "LME_RUNS_DIR": str(runs_dir),
        "PYTHONPATH": str(REPO_ROOT),
        "STREAMLIT_BROWSER_GATHER_USAGE_STATS": "false",
        **settings,
    }
    command = [
        sys.executable,
        *("-m", "streamlit", "run", "dashboard/app.py"),
        *("--server.port", str(port), "--server.address", "127.0.0.1"),
        *("--server.headless", "true", "--server.fileWatcherType", "none"),
        *("--browser.gatherUsageStats", "false"),
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(base_url, process, log_path)
        yield base_url, process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _wait_for_health(base_url: str, process: subprocess.Popen, log_path: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{base_url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"streamlit did not become healthy:\n{log_path.read_text()[-3000:]}")
