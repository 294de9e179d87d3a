"""How runs read the held-out user-style uploads of tests/data/user_digits.npz.

    python -m tools.check_user_digits                 # the shipped demo runs
    python -m tools.check_user_digits RUN_ID ...      # runs of ./runs (or --runs-dir)
    python -m tools.check_user_digits path/to/run     # a run folder
    python -m tools.check_user_digits --set /tmp/user_digits_dev.npz   # a development set

Every file goes the user's way: engine.prediction.predict_images (decode, the run's own
preprocessing, the model, the verdict at the run's threshold). A digit is "right" when the
verdict is exactly its digit (multi-label runs) or the top class is its digit (multi-class
runs); "none" when a multi-label verdict is empty. Two-digit photos ("pair") are right when
the verdict is exactly the two digits (multi-label runs only). Non-digits should read "none".
The set is built by tools/make_user_digits.py; no run ever trains on it. `--set` reads another
set of the same form instead: a development set (`make_user_digits --dev PATH`), or the
development pair photos two-digit runs are tuned on (`make_user_digits --dev-pairs PATH`).
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from engine.prediction import predict_images
from engine.runs import RunStore, load_run_folder

REPO_ROOT = Path(__file__).resolve().parents[1]

USER_DIGITS = REPO_ROOT / "tests" / "data" / "user_digits.npz"
DIGIT_KINDS = ("font", "photo")
NON_DIGIT_KINDS = ("blank", "letters", "shapes", "strokes")


def read_user_digits(
    path: Path = USER_DIGITS, kinds: tuple[str, ...] | None = None
) -> Iterator[tuple[str, bytes, np.ndarray]]:
    """(kind, file bytes, multi-hot target) of each file, in order."""
    with np.load(path, allow_pickle=False) as archive:
        data, offsets = archive["data"], archive["offsets"]
        targets, all_kinds = archive["targets"], archive["kinds"]
    for index, kind in enumerate(all_kinds.tolist()):
        if kinds is None or kind in kinds:
            yield kind, data[offsets[index] : offsets[index + 1]].tobytes(), targets[index]


def score(run, kinds: tuple[str, ...], path: Path = USER_DIGITS) -> dict[str, float]:
    """Shares of files read right, read "none", and the count, for the files of `kinds`."""
    items = list(read_user_digits(path, kinds))
    if not items:  # a set without these kinds (the development pairs hold no non-digits)
        return {"right": 0.0, "none": 0.0, "count": 0}
    predictions = predict_images(
        run, [(f"{kind}-{i}.jpg", data) for i, (kind, data, _) in enumerate(items)]
    )
    right = none = 0
    for (_, _, target), prediction in zip(items, predictions, strict=True):
        if prediction.error is not None:
            raise SystemExit(f"{prediction.file}: {prediction.error}")
        truth = {str(d) for d in np.flatnonzero(target)}
        verdict = set(prediction.verdict)
        if run.mode == "multi-class" and len(truth) == 1:
            top = prediction.classes[int(np.argmax(prediction.softmax))]
            right += top in truth
        else:
            right += verdict == truth
        none += not verdict
    count = len(items)
    return {"right": right / count, "none": none / count, "count": count}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", default=["demo", "demo-softmax", "demo-pairs"])
    parser.add_argument("--runs-dir", default="runs")
    parser.add_argument(
        "--set",
        type=Path,
        default=USER_DIGITS,
        help="another set of the same format (make_user_digits --dev or --dev-pairs)",
    )
    args = parser.parse_args()
    store = RunStore(args.runs_dir)
    for run_id in args.runs:
        folder = Path(run_id)
        run = load_run_folder(folder) if folder.is_dir() else store.load_run(run_id)
        if run.config.data.dataset == "two-digits":
            groups = {"pairs": ("pair",), "non-digits": NON_DIGIT_KINDS}
        else:
            groups = {"digits": DIGIT_KINDS, **{k: (k,) for k in DIGIT_KINDS}}
            groups["non-digits"] = NON_DIGIT_KINDS
        for name, kinds in groups.items():
            result = score(run, kinds, args.set)
            if not result["count"]:  # a set without these kinds (the development pairs)
                continue
            print(
                f"{run_id:14s} {name:11s} n={result['count']:4d}  right {result['right']:6.1%}"
                f"  none {result['none']:6.1%}"
            )


if __name__ == "__main__":
    main()
