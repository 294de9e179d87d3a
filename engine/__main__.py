"""`python -m engine ...`: the command line (engine/cli.py)."""

from __future__ import annotations

import os
import sys

from engine.cli import main

if __name__ == "__main__":
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `python -m engine runs | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 0
    raise SystemExit(status)
