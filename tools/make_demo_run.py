"""Train the demo runs that ship in `engine/assets/`, so Explore, Compare and Predict work on a
fresh or hosted copy before anyone trains.

    python -m tools.make_demo_run     # from the project root: mnist-5k, both label modes, CPU

(`python tools/make_demo_run.py` works too once the project is installed, `pip install -e .`.)

Each is a normal run folder (run.json, metrics.json, weights.pt, validation.npz) trained with
the engine's defaults: "demo" in multi-label mode, so its sigmoids can say "both" and
"neither", and "demo-softmax" in multi-class mode, its twin for the three readings. Every
RunStore lists them read-only under those ids (engine.runs.DEMO_RUNS).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from pathlib import Path

from engine.callbacks import ProgressPrinter
from engine.config import RunConfig
from engine.runs import DEMO_RUNS, RUN_FILE, RunStore, train_run

DEMO_MODES = {"demo": "multi-label", "demo-softmax": "multi-class"}


def make_demo_run(
    demo_id: str = "demo", epochs: int | None = None, destination: Path | None = None
) -> Path:
    """Train into a scratch runs folder, then move the finished run into `destination`."""
    destination = destination or DEMO_RUNS[demo_id]
    config = RunConfig().with_changes(dataset="mnist-5k", mode=DEMO_MODES[demo_id], device="cpu")
    if epochs is not None:
        config = config.with_changes(epochs=epochs)
    with tempfile.TemporaryDirectory() as scratch:
        store = RunStore(scratch, include_demo=False)
        run_id = train_run(config, store, callbacks=[ProgressPrinter()])
        folder = Path(scratch) / run_id
        record = json.loads((folder / RUN_FILE).read_text())
        record.update(id=demo_id, trained_as=run_id)
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
    parser.add_argument("--only", choices=sorted(DEMO_MODES), help="make just this demo run")
    args = parser.parse_args()
    for demo_id in [args.only] if args.only else DEMO_MODES:
        destination = make_demo_run(demo_id, args.epochs)
        size = sum(path.stat().st_size for path in destination.iterdir())
        history = json.loads((destination / "metrics.json").read_text())
        print(f"{demo_id} written to {destination} ({size / 1024:.0f} KB): {history[-1]}")


if __name__ == "__main__":
    main()
