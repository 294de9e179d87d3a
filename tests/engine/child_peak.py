"""Peak memory measured in a child process, for the tests that bound it.

The child reads its own peak: /proc's VmHWM starts afresh at exec, where getrusage's ru_maxrss
can carry the forking parent's size over (Linux), which made a bound read a big test runner.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
PEAK_SNIPPET = (
    "def peak_mb():\n"
    "    for line in open('/proc/self/status'):\n"
    "        if line.startswith('VmHWM:'):\n"
    "            return int(line.split()[1]) // 1024\n"
)


def run_child(body: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `body` in a fresh Python from the repository root, with `peak_mb()` defined and
    `args` as its sys.argv[1:]; its output is text."""
    return subprocess.run(
        [sys.executable, "-c", PEAK_SNIPPET + body, *args],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
