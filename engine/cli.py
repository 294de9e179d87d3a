"""The command line: `python -m engine train|runs|predict|analyze|teach-none|datasets|models`.

The commands, options and `--json` fields are a contract that scripts rely on (see the README).
Each handler turns arguments into one engine call and prints its result. Any failure a user
can cause becomes one `error: ...` line on stderr and exit status 2, never a traceback; bugs
still raise, so they are seen.
"""

from __future__ import annotations

import argparse
import errno
import json
import math
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from engine.config_options import add_config_options, config_from_options
from engine.errors import EngineError
from engine.text_table import text_table

USER_ERROR = 2
INTERRUPTED = 130
# The training settings `teach-none` takes; it sets none_examples itself (with and without).
TEACH_NONE_SETTINGS = ("dataset", "name", "epochs", "device", "seed", "threshold", "limit")


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one `error: ...` line (exit 2) like every other error."""

    def error(self, message: str) -> Any:  # argparse's hook; must not return
        self.exit(USER_ERROR, f"error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="python -m engine",
        description="Train image classifiers multi-class or multi-label, list runs, predict.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    def runs_dir(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--runs-dir", type=Path, help="runs folder (default: $LME_RUNS_DIR or ./runs)"
        )

    fit = commands.add_parser("train", help="train a model and save it as a run")
    fit.set_defaults(settings=add_config_options(fit))
    fit.add_argument("--quiet", action="store_true", help="no progress bar or epoch lines")
    fit.add_argument(
        "--config",
        type=Path,
        metavar="JSON",
        help='train the settings in this file (a run.json\'s "config") instead of the options',
    )
    fit.add_argument(
        "--run-id-file", type=Path, help="write the run id here as soon as the run folder exists"
    )
    runs_dir(fit)
    fit.set_defaults(handler=train_command)

    listing = commands.add_parser("runs", help="list saved runs and their last metrics")
    listing.add_argument("--json", action="store_true", help="a JSON list, one object per run")
    runs_dir(listing)
    listing.set_defaults(handler=runs_command)

    predict = commands.add_parser("predict", help="predict images with a saved run")
    predict.add_argument("run_id", metavar="RUN_ID", help="a run id, or a run folder's path")
    predict.add_argument("images", metavar="IMAGE", nargs="+", type=Path)
    predict.add_argument(
        "--threshold",
        type=_threshold_argument,
        help="a number, or 'tuned' for the per-class thresholds saved with the run; default: "
        "the run's threshold",
    )
    predict.add_argument("--json", action="store_true")
    runs_dir(predict)
    predict.set_defaults(handler=predict_command)

    analyze = commands.add_parser("analyze", help="where the sigmoids reveal confusion")
    analyze.add_argument("run_id", metavar="RUN_ID")
    analyze.add_argument("--threshold", type=float, help="default: the run's threshold")
    analyze.add_argument("--compare", metavar="RUN_ID", help="a second run to read against")
    analyze.add_argument("--json", action="store_true")
    runs_dir(analyze)
    analyze.set_defaults(handler=analyze_command)

    teach = commands.add_parser(
        "teach-none",
        help='train a sigmoid model without and with all-zero "none" examples and compare',
    )
    teach.set_defaults(settings=add_config_options(teach, TEACH_NONE_SETTINGS))
    teach.add_argument(
        "--none-examples", type=int, default=1000, help="all-zero examples to add (default 1000)"
    )
    teach.add_argument(
        "--hold-out",
        nargs="*",
        default=["letters"],
        metavar="KIND",
        help="non-digit kinds never taught as 'none', measured apart (default: letters)",
    )
    teach.add_argument("--json", action="store_true")
    teach.set_defaults(handler=teach_none_command)

    datasets = commands.add_parser("datasets", help="list dataset names")
    datasets.add_argument("--json", action="store_true")
    datasets.set_defaults(handler=datasets_command)

    models = commands.add_parser("models", help="list model names")
    models.add_argument("--json", action="store_true")
    models.set_defaults(handler=models_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help(sys.stderr)
        return USER_ERROR
    try:
        return int(args.handler(args) or 0)
    except EngineError as error:
        return _fail(str(error))
    except BrokenPipeError:  # the reader of stdout left (`| head`); __main__ ends quietly
        raise
    except OSError as error:  # missing files, unwritable folders: the user's environment
        where = f": {error.filename}" if error.filename else ""
        if error.errno == errno.ENOSPC:
            return _fail(f"the disk is full{where}: free some space and try again")
        return _fail(f"{error.strerror or error}{where}")
    except KeyboardInterrupt:
        print("stopped by Ctrl-C", file=sys.stderr)
        return INTERRUPTED


def _fail(message: str) -> int:
    _end_progress_line()
    print(f"error: {' '.join(message.split())}", file=sys.stderr)
    return USER_ERROR


def _store(args: argparse.Namespace) -> Any:
    from engine.runs import RunStore

    return RunStore(args.runs_dir)


def _print_json(value: Any) -> None:
    """Always valid JSON: NaN and infinities (which JSON lacks) are written as null."""
    from engine.json_values import json_text

    print(json_text(value))


# ---------------------------------------------------------------------------------------------
# train


def _config_from(args: argparse.Namespace) -> Any:
    from engine.config import RunConfig

    if args.config is not None:
        try:
            return RunConfig.from_dict(json.loads(args.config.read_text(encoding="utf-8")))
        except EngineError as error:
            raise EngineError(f"{args.config}: {error}") from None
        except (ValueError, TypeError, AttributeError, RecursionError) as error:
            raise EngineError(f"{args.config} does not hold a run config ({error})") from None
    return config_from_options(args, args.settings)


class _CtrlC:
    """First Ctrl-C (or SIGTERM, as `docker stop` sends) asks training to stop after the
    current batch, so the run is saved as stopped; a second one quits at once."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self) -> None:
        self.requested = False
        self.signal_number = 0
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for number in self.SIGNALS:
            self._previous[number] = signal.signal(number, self._handle)

    def restore(self) -> None:
        for number, handler in self._previous.items():
            signal.signal(number, handler)
        self._previous.clear()

    @property
    def exit_status(self) -> int:
        return 128 + self.signal_number

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signal_number = signum
        print("\nstopping after this batch (Ctrl-C again to quit now)", file=sys.stderr, flush=True)


def _stop_callback(ctrl_c: _CtrlC) -> Any:
    from engine.callbacks import Callback, StopTraining

    class StopOnCtrlC(Callback):
        def after_batch(self, state: Any) -> None:
            if ctrl_c.requested:
                raise StopTraining("stopped by Ctrl-C")

    return StopOnCtrlC()


_progress_line_open = False  # a progress line is drawn on stderr without its newline yet


def _data_progress(message: str, fraction: float) -> None:
    """Slow data steps (download, decoding) as a line on stderr, redrawn in place."""
    global _progress_line_open
    end = "\n" if fraction >= 1.0 else ""
    print(f"\r{message} {100 * fraction:3.0f}%", end=end, file=sys.stderr, flush=True)
    _progress_line_open = not end


def _end_progress_line() -> None:
    """End a progress line left open, so the next message starts a line of its own."""
    global _progress_line_open
    if _progress_line_open:
        print(file=sys.stderr, flush=True)
        _progress_line_open = False


def train_command(args: argparse.Namespace) -> int:
    from engine.atomic_files import atomic_write_bytes
    from engine.callbacks import ProgressPrinter
    from engine.datasets.loading import load_dataset
    from engine.distributed import is_main_process
    from engine.models import freeze_warning
    from engine.pipeline import train_run
    from engine.runs import summarize_run

    config = _config_from(args)
    store = _store(args)
    if freeze_warning(config.model) and is_main_process():
        print(f"warning: {freeze_warning(config.model)}", file=sys.stderr, flush=True)
    main_process = is_main_process()  # under torchrun, rank 0 alone prints and saves
    quiet = args.quiet or not main_process
    try:
        split = load_dataset(config.data, progress=None if quiet else _data_progress)
    finally:
        _end_progress_line()
    if main_process:
        for warning in split.warnings:  # e.g. files of a folder that were skipped
            print(f"warning: {warning}", file=sys.stderr, flush=True)
    if not quiet:
        print(
            f"{split.name}: {len(split.train)} training and {len(split.valid)} validation "
            f"images, {split.num_classes} classes, {config.train.mode}",
            file=sys.stderr,
            flush=True,
        )
    ctrl_c = _CtrlC()
    callbacks = [_stop_callback(ctrl_c)]
    if not quiet:
        callbacks.insert(0, ProgressPrinter())

    def announce(run_id: str) -> None:
        if args.run_id_file is not None:
            atomic_write_bytes(args.run_id_file, run_id.encode())

    ctrl_c.install()
    try:
        run_id = train_run(config, store, callbacks=callbacks, split=split, on_created=announce)
    finally:
        ctrl_c.restore()
    sys.stderr.flush()
    if run_id is None:  # another rank of a torchrun job: rank 0 saved the run and says so
        return ctrl_c.exit_status if ctrl_c.requested else 0
    if ctrl_c.requested:
        print("stopped: the run was saved as stopped", file=sys.stderr, flush=True)
    for warning in summarize_run(store.run_path(run_id)).warnings:
        print(f"warning: {warning}", file=sys.stderr, flush=True)
    print(f"run: {run_id}", flush=True)
    return ctrl_c.exit_status if ctrl_c.requested else 0


# ---------------------------------------------------------------------------------------------
# runs


RUN_COLUMNS = (
    "id",
    "status",
    "dataset",
    "mode",
    "model",
    "epochs",
    "val_accuracy",
    "val_exact_match",
    "val_accuracy_multi",
    "warning",
)


def runs_command(args: argparse.Namespace) -> int:
    from engine.states import RunHealth

    store = _store(args)
    problem = store.storage_problem()
    if problem:  # the demos still list; say why nothing else does, or nothing can be saved
        print(f"warning: {problem} ({store.root})", file=sys.stderr)
    summaries = store.list_runs()
    if args.json:
        _print_json([summary.to_dict() for summary in summaries])
        return 0
    if not summaries:
        print(f"no runs in {_store(args).root}: train one with `python -m engine train`")
        return 0
    rows = []
    for summary in summaries:
        epochs = f"{summary.epochs_done}/{summary.epochs}" if summary.epochs else "-"
        rows.append(
            (
                summary.id,
                summary.status if summary.status == RunHealth.COMPLETE else f"{summary.status}*",
                summary.dataset or "-",
                summary.mode or "-",
                summary.model or "-",
                epochs,
                _percent(summary.metrics.get("val_accuracy")),
                _percent(summary.metrics.get("val_exact_match")),
                _percent(summary.metrics.get("val_accuracy_multi")),
                "AT CHANCE (see below)" if summary.warnings else "",
            )
        )
    print(text_table(RUN_COLUMNS, rows))
    notes = [s for s in summaries if s.status != RunHealth.COMPLETE and s.problem]
    for summary in notes:
        print(f"* {summary.id}: {summary.problem}")
    for summary in summaries:
        for warning in summary.warnings:
            print(f"! {summary.id}: {warning}")
    if any(summary.metrics.get("val_accuracy_multi") is not None for summary in summaries):
        print(
            "val_accuracy_multi counts every (image, class) decision: a model that fires "
            "nothing scores 90% on ten classes; read val_exact_match beside it"
        )
    return 0


def _percent(value: Any) -> str:
    if not isinstance(value, int | float) or math.isnan(value):
        return "-"
    return f"{100 * value:.2f}%"


# ---------------------------------------------------------------------------------------------
# predict and analyze


def _load(args: argparse.Namespace, run_id: str) -> Any:
    """A run by id, or by the path of a run folder (handy for copies outside the runs dir)."""
    from engine.runs import RUN_FILE, load_run_folder

    candidate = Path(run_id)
    if ("/" in run_id or "\\" in run_id) and (candidate / RUN_FILE).is_file():
        return load_run_folder(candidate)
    return _store(args).load_run(run_id)


def _read_image(path: Path) -> bytes:
    from engine.images.decode import MAX_UPLOAD_BYTES

    if path.is_dir():
        raise EngineError(f"{path} is a folder: pass image files")
    try:
        with path.open("rb") as handle:
            return handle.read(MAX_UPLOAD_BYTES + 1)  # decode_image refuses anything longer
    except FileNotFoundError:
        raise EngineError(f"image file not found: {path}") from None
    except OSError as error:
        raise EngineError(f"cannot read {path}: {error.strerror or error}") from None


def _threshold_argument(text: str) -> float | str:
    if text.strip().lower() == "tuned":
        return "tuned"
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid threshold {text!r}: give a number between 0 and 1, or 'tuned'"
        ) from None


def _tuned_thresholds(run: Any) -> list[float]:
    from engine.runs import read_tuned_thresholds

    tuned = read_tuned_thresholds(run)
    if tuned is None:
        raise EngineError(
            f"run {run.id!r} has no tuned thresholds: tune and save them on the dashboard's "
            "Explore page, or give a number"
        )
    return list(tuned.values)


def _threshold(args: argparse.Namespace, run: Any) -> float:
    threshold = run.config.train.threshold if args.threshold is None else args.threshold
    if not 0.0 < threshold < 1.0:
        raise EngineError("threshold must lie strictly between 0 and 1")
    return threshold


def predict_command(args: argparse.Namespace) -> int:
    run = _load(args, args.run_id)
    tuned = args.threshold == "tuned"
    threshold = _tuned_thresholds(run) if tuned else _threshold(args, run)
    images = [(str(path), _read_image(path)) for path in args.images]
    from engine.prediction import (
        READING_NAMES,
        near_miss_text,
        other_reading_text,
        predict_images,
        verdict_text,
    )

    predictions = predict_images(run, images, threshold=threshold)
    if args.json:
        _print_json([prediction.to_dict() for prediction in predictions])
    else:
        for prediction in predictions:
            print(f"{prediction.file}: {verdict_text(prediction)}")
            if prediction.error is not None:
                continue
            print(f"  read with {READING_NAMES[prediction.reading]}, as the model was trained")
            print(f"  {other_reading_text(prediction)}")
            if prediction.near_misses:
                print(f"  {near_miss_text(prediction)}")
            ranked = sorted(
                zip(prediction.classes, prediction.sigmoid, prediction.softmax, strict=False),
                key=lambda item: -item[1],
            )
            for name, sigmoid, softmax in ranked[:3]:
                print(f"  {name:>12}  sigmoid {sigmoid:.3f}  softmax {softmax:.3f}")
    failed = [prediction for prediction in predictions if prediction.error]
    if failed:  # the readable ones are printed above; the exit status still says "failed"
        more = f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""
        return _fail(f"{failed[0].error}{more}")
    return 0


def analyze_command(args: argparse.Namespace) -> int:
    run = _load(args, args.run_id)
    compare = _load(args, args.compare) if args.compare else None
    from engine.analysis import analysis_report, format_report

    report = analysis_report(run, threshold=_threshold(args, run), compare=compare)
    if args.json:
        _print_json(report)
    else:
        print(format_report(report))
    return 0


def teach_none_command(args: argparse.Namespace) -> int:
    from engine.analysis import teach_none

    config = config_from_options(args, args.settings)

    def progress(message: str, fraction: float) -> None:
        if not args.json:
            print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    result = teach_none(
        config,
        none_examples=args.none_examples,
        progress=progress,
        held_out_kinds=tuple(args.hold_out),
    )
    if args.json:
        _print_json(result.to_dict())
        return 0
    print(result.results.round(4).to_string())
    print()
    print('"Neither" rate by kind of unseen non-digit:')
    print(result.per_kind.round(3).to_string())
    print()
    print(result.explanation)
    return 0


# ---------------------------------------------------------------------------------------------
# datasets and models


def datasets_command(args: argparse.Namespace) -> int:
    from engine.datasets.registry import available_datasets

    infos = available_datasets()
    if args.json:
        _print_json([info.listing() for info in infos])
        return 0
    rows = [(i.name, "yes" if i.offline else "download", i.title) for i in infos]
    print(text_table(("name", "offline", "title"), rows))
    print("also: folder:/path (one sub-folder per class), zip:/path.zip")
    return 0


def models_command(args: argparse.Namespace) -> int:
    from engine.model_names import available_models

    names = available_models()
    if args.json:
        _print_json(names)
    else:
        print("\n".join(names))
    return 0
