"""`python -m engine ...` and the `lme` command: the command line (engine/cli.py)."""

from __future__ import annotations

import os
import sys

from engine.cli import main


def _started_by_torchrun() -> bool:
    return (os.environ.get("WORLD_SIZE") or "1").strip() not in ("", "0", "1")


def run() -> None:
    """Run the command line and exit with its status (the `lme` console script)."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `python -m engine runs | head`: the reader left, not an error
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        status = 0
    if _started_by_torchrun():
        # The run is saved (atomically) and the process group destroyed, but tearing down the
        # interpreter after Gloo could abort a worker ("terminate called without an active
        # exception", about 1 run in 15 on a busy machine), failing the whole torchrun. End
        # the worker here instead, with its status, once its output is out.
        sys.stderr.flush()
        os._exit(status)
    raise SystemExit(status)


if __name__ == "__main__":
    run()
