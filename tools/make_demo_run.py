"""Train the demo runs that ship in `engine/assets/`, so Explore, Compare and Predict work on a
fresh or hosted copy before anyone trains.

    python -m tools.make_demo_run     # from the project root: full MNIST, both label modes, CPU

(`python tools/make_demo_run.py` works too once the project is installed, `pip install -e .`.)

Each is a normal run folder (run.json, metrics.json, weights.pt, validation.npz) trained on the
full MNIST (60,000 training digits; validation = MNIST's 10,000 test digits) with augmentation
(per-sample random affine transforms and stroke-width jitter) and otherwise the engine's
defaults: "demo" in multi-label mode, so its sigmoids can say "both" and "neither", and
"demo-softmax" in multi-class mode, its twin for the three readings. The sigmoid run also
trains on generated non-digits (blank pages, noise, shapes, scribbles; letters are held out
for evaluation) with all-zero targets, so that a blank page or a scribble reads "none of the
classes". run.json records all of this under "made_with". Every RunStore lists them read-only
under those ids (engine.runs.DEMO_RUNS).
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

from engine.atomic_files import atomic_write_json
from engine.callbacks import ProgressPrinter
from engine.config import RunConfig
from engine.datasets.loading import load_dataset
from engine.datasets.none_examples import NON_DIGIT_TRAIN_SEED, add_non_digits
from engine.pipeline import train_run
from engine.runs import DEMO_RUNS, RUN_FILE, RunStore

DEMO_MODES = {"demo": "multi-label", "demo-softmax": "multi-class"}
DEMO_EPOCHS = 10
NONE_EXAMPLES = 6000  # one per ten digits, for the sigmoid run only
NONE_KINDS = ("blank", "noise", "shapes", "strokes")  # letters stay unseen, for evaluation


def make_demo_run(
    demo_id: str = "demo",
    epochs: int | None = None,
    destination: Path | None = None,
    dataset: str = "mnist",
    limit: int | None = None,
    none_count: int = NONE_EXAMPLES,
) -> Path:
    """Train into a scratch runs folder, then move the finished run into `destination`."""
    destination = destination or DEMO_RUNS[demo_id]
    mode = DEMO_MODES[demo_id]
    none_examples = none_count if mode == "multi-label" else 0
    if limit is not None:
        none_examples = min(none_examples, limit // 10)
    config = RunConfig().with_changes(
        dataset=dataset,
        mode=mode,
        device="cpu",
        cpu_threads=1,
        augment=True,
        epochs=epochs or DEMO_EPOCHS,
        none_examples=none_examples,
        limit=limit,
    )
    # The split is built here so the non-digits can leave letters out (load_dataset would
    # draw every kind); the config still says how many there are.
    split = load_dataset(replace(config.data, none_examples=0))
    if none_examples:
        split = add_non_digits(split, none_examples, kinds=NONE_KINDS)
    made_with = {
        "tool": "tools/make_demo_run.py",
        "dataset": f"{dataset}: {len(split.train)} training images, validation = "
        f"{len(split.valid)} images (for mnist, MNIST's official test digits)",
        "augmentation": "per-sample random affine (rotation +-15 degrees, scale +-15%, shear, "
        "shift +-2.5 px) and stroke-width jitter (a blend towards up to two 3x3 dilations or "
        "one erosion), engine/augment.py",
        "none_examples": (
            f"{none_examples} generated non-digits with all-zero targets, kinds "
            f"{', '.join(NONE_KINDS)} (letters held out), engine/nondigits.py seed "
            f"{NON_DIGIT_TRAIN_SEED}"
            if none_examples
            else "none"
        ),
    }
    with tempfile.TemporaryDirectory() as scratch:
        store = RunStore(scratch, include_demo=False)
        run_id = train_run(config, store, callbacks=[ProgressPrinter()], split=split)
        folder = Path(scratch) / run_id
        record = json.loads((folder / RUN_FILE).read_text())
        record.update(id=demo_id, trained_as=run_id, made_with=made_with)
        for machine_detail in ("pid", "host"):
            record.pop(machine_detail, None)
        atomic_write_json(folder / RUN_FILE, record)
        if destination.exists():
            shutil.rmtree(destination)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copytree(folder, destination)
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, help=f"default: {DEMO_EPOCHS}")
    parser.add_argument("--only", choices=sorted(DEMO_MODES), help="make just this demo run")
    parser.add_argument("--dataset", default="mnist", help="default: mnist (the full MNIST)")
    parser.add_argument("--limit", type=int, help="use at most this many images (a quick try)")
    parser.add_argument("--destination", type=Path, help="write here instead of engine/assets")
    parser.add_argument(
        "--none-examples", type=int, default=NONE_EXAMPLES, help="non-digits for the sigmoid run"
    )
    args = parser.parse_args()
    for demo_id in [args.only] if args.only else DEMO_MODES:
        target = args.destination / demo_id if args.destination else None
        destination = make_demo_run(
            demo_id, args.epochs, target, args.dataset, args.limit, args.none_examples
        )
        size = sum(path.stat().st_size for path in destination.iterdir())
        history = json.loads((destination / "metrics.json").read_text())
        print(f"{demo_id} written to {destination} ({size / 1024:.0f} KB): {history[-1]}")


if __name__ == "__main__":
    main()
