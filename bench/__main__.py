"""`python -m bench [--quick] [--json PATH] [--device cpu|cuda] [--no-gpu] [--scaling-sizes N,N]
[--mnist-only | --no-mnist] [--mnist-epochs N] [--mnist-target A] [--mnist-threads N]`.

The last line printed is always `speedup: X.XX`, the engine's training throughput over the
tutorial baseline's, measured in this run (with `--mnist-only`: per epoch on the full MNIST,
without augmentation).
"""

from __future__ import annotations

import argparse
import sys

from bench.mnist_full import MnistSettings
from bench.report import save_json
from bench.scaling import SIZES
from bench.suite import run_bench, run_mnist_only
from engine.device import resolve_device
from engine.errors import EngineError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the engine against the tutorial pipeline, side by side.",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="training throughput and time to accuracy only (under two minutes on 2 cores)",
    )
    parser.add_argument("--json", metavar="PATH", help="also save every figure as JSON here")
    parser.add_argument(
        "--device",
        default="cpu",
        help="where the main sections train (default cpu; the GPU section runs by itself)",
    )
    parser.add_argument(
        "--no-gpu", action="store_true", help="skip the GPU section even when CUDA is present"
    )
    parser.add_argument(
        "--scaling-sizes",
        default=",".join(str(size) for size in SIZES),
        help="training-set sizes for the scaling section, comma-separated (default %(default)s)",
    )
    defaults = MnistSettings()
    only = parser.add_mutually_exclusive_group()
    only.add_argument(
        "--mnist-only",
        action="store_true",
        help="only the full MNIST: epochs and seconds to the target test accuracy, engine vs "
        "baseline, with and without augmentation (20-40 minutes on a busy 2-core CPU)",
    )
    only.add_argument(
        "--no-mnist", action="store_true", help="leave the full MNIST out of the full run"
    )
    for flag, name, kind, what in (
        ("--mnist-epochs", "max_epochs", int, "most epochs per side and setting"),
        ("--mnist-target", "target", float, "the test accuracy to reach"),
        ("--mnist-threads", "threads", int, "torch threads for both sides"),
    ):
        default = getattr(defaults, name)
        parser.add_argument(
            flag, type=kind, default=default, help=f"full MNIST: {what} (default %(default)s)"
        )
    args = parser.parse_args(argv)
    if args.mnist_epochs < 1 or args.mnist_threads < 1 or not 0 < args.mnist_target <= 1:
        parser.error("--mnist-epochs and --mnist-threads take 1 or more, --mnist-target 0 to 1")
    mnist = MnistSettings(
        target=args.mnist_target,
        max_epochs=args.mnist_epochs,
        min_epochs=min(defaults.min_epochs, args.mnist_epochs),
        threads=args.mnist_threads,
    )
    try:
        sizes = tuple(int(size) for size in args.scaling_sizes.split(","))
    except ValueError:
        parser.error("--scaling-sizes takes whole numbers separated by commas, e.g. 1000,5000")
    try:
        resolve_device(args.device)
        if args.mnist_only:
            results = run_mnist_only(mnist, args.device, gpu_too=not args.no_gpu)
        else:
            results = run_bench(
                quick=args.quick,
                device=args.device,
                gpu_too=not args.no_gpu,
                scaling_sizes=sizes,
                mnist=None if args.no_mnist else mnist,
            )
    except EngineError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.json:
        save_json(results, args.json)
        print(f"results saved to {args.json}")
    speedup = results["speedup"]
    print(f"speedup: {speedup:.2f}" if speedup is not None else "speedup: nan")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
