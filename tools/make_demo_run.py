"""Train the demo runs that ship in `engine/assets/`, so Explore, Compare and Predict work on a
fresh or hosted copy before anyone trains.

    python -m tools.make_demo_run     # from the project root: all three demo runs, CPU
    python -m tools.make_demo_run --only demo-pairs    # one of them

(`python tools/make_demo_run.py` works too once the project is installed, `pip install -e .`.)

Each is a normal run folder (run.json, metrics.json, weights.pt, validation.npz) trained on the
full MNIST (60,000 training digits; validation = MNIST's 10,000 test digits) with augmentation
(per-sample random affine transforms and stroke-width jitter) and otherwise the engine's
defaults: "demo" in multi-label mode, so its sigmoids can say "both" and "neither", and
"demo-softmax" in multi-class mode, its twin for the three readings. The sigmoid run also
trains on generated non-digits (blank pages, noise, shapes, scribbles; letters are held out
for evaluation) with all-zero targets, so that a blank page or a scribble reads "none of the
classes". "demo-pairs" is a multi-label run on `two-digits` (two digits side by side, both
labels set: genuinely multi-label data), so Explore shows its multi-label-data view and Predict
reads a photo of two digits as "1 and 7". run.json records all of this under "made_with".
Every RunStore lists them read-only under those ids (engine.runs.DEMO_RUNS).
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
from engine.datasets.registry import available_datasets
from engine.pipeline import train_run
from engine.runs import DEMO_RUNS, RUN_FILE, RunStore

DEMO_MODES = {"demo": "multi-label", "demo-softmax": "multi-class", "demo-pairs": "multi-label"}
DEMO_EPOCHS = 10
# demo-pairs trains on its own dataset, for its own number of epochs (the others: --dataset,
# the full MNIST by default, for DEMO_EPOCHS); it learns no non-digits.
PAIRS_DEMO = "demo-pairs"
PAIRS_DATASET = "two-digits"
PAIRS_EPOCHS = 30
NONE_EXAMPLES = 6000  # one per ten digits, for the sigmoid run only
NONE_KINDS = ("blank", "noise", "shapes", "strokes")  # letters stay unseen, for evaluation


def make_demo_run(
    demo_id: str = "demo",
    epochs: int | None = None,
    destination: Path | None = None,
    dataset: str | None = None,
    limit: int | None = None,
    none_count: int = NONE_EXAMPLES,
) -> Path:
    """Train into a scratch runs folder, then move the finished run into `destination`."""
    destination = destination or DEMO_RUNS[demo_id]
    mode = DEMO_MODES[demo_id]
    pairs = demo_id == PAIRS_DEMO
    dataset = PAIRS_DATASET if pairs else dataset or "mnist"
    epochs = epochs or (PAIRS_EPOCHS if pairs else DEMO_EPOCHS)
    none_examples = none_count if mode == "multi-label" and not pairs else 0
    if limit is not None:
        none_examples = min(none_examples, limit // 10)
    config = RunConfig().with_changes(
        dataset=dataset,
        mode=mode,
        device="cpu",
        cpu_threads=1,
        augment=True,
        epochs=epochs,
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
        f"{len(split.valid)} images ({_description(dataset)})",
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


def _description(dataset: str) -> str:
    return next((i.description for i in available_datasets() if i.name == dataset), dataset)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--epochs", type=int, help=f"default: {DEMO_EPOCHS} ({PAIRS_DEMO}: {PAIRS_EPOCHS})"
    )
    parser.add_argument("--only", choices=sorted(DEMO_MODES), help="make just this demo run")
    parser.add_argument(
        "--dataset", help=f"default: mnist (the full MNIST); {PAIRS_DEMO}: always {PAIRS_DATASET}"
    )
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
