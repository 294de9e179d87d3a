"""Train the demo run that ships in `engine/assets/demo_run/`, so Explore and Predict work on a
fresh or hosted copy before anyone trains.

    python tools/make_demo_run.py            # mnist-5k, multi-label, the default CNN, on the CPU

It is a normal run folder (run.json, metrics.json, weights.pt, validation.npz) trained with the
engine's defaults in multi-label mode, so its sigmoids can say "both" and "neither". Every
RunStore lists it read-only under the id "demo".
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from engine.callbacks import ProgressPrinter  # noqa: E402
from engine.config import RunConfig  # noqa: E402
from engine.runs import DEMO_RUN_DIR, DEMO_RUN_ID, RUN_FILE, RunStore, train_run  # noqa: E402


def make_demo_run(epochs: int | None = None, destination: Path = DEMO_RUN_DIR) -> Path:
    """Train into a scratch runs folder, then move the finished run into `destination`."""
    config = RunConfig().with_changes(dataset="mnist-5k", mode="multi-label", device="cpu")
    if epochs is not None:
        config = config.with_changes(epochs=epochs)
    with tempfile.TemporaryDirectory() as scratch:
        store = RunStore(scratch, include_demo=False)
        run_id = train_run(config, store, callbacks=[ProgressPrinter()])
        folder = Path(scratch) / run_id
        record = json.loads((folder / RUN_FILE).read_text())
        record.update(id=DEMO_RUN_ID, trained_as=run_id)
        for machine_detail in ("pid", "host"):
            record.pop(machine_detail, None)
        (folder / RUN_FILE).write_text(json.dumps(record, indent=2) + "\n")
        if destination.exists():
            shutil.rmtree(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder, destination)
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help="default: the engine's default")
    parser.add_argument("--destination", type=Path, default=DEMO_RUN_DIR)
    args = parser.parse_args()
    destination = make_demo_run(args.epochs, args.destination)
    size = sum(path.stat().st_size for path in destination.iterdir())
    history = json.loads((destination / "metrics.json").read_text())
    print(f"demo run written to {destination} ({size / 1024:.0f} KB): {history[-1]}")


if __name__ == "__main__":
    main()
