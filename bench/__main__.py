"""`python -m bench [--quick] [--json PATH] [--device cpu|cuda] [--no-gpu] [--scaling-sizes N,N]`.

The last line printed is always `speedup: X.XX`, the engine's training throughput over the
tutorial baseline's, measured in this run.
"""

from __future__ import annotations

import argparse
import sys

from bench.report import save_json
from bench.scaling import SIZES
from bench.suite import run_bench
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
    args = parser.parse_args(argv)
    try:
        sizes = tuple(int(size) for size in args.scaling_sizes.split(","))
    except ValueError:
        parser.error("--scaling-sizes takes whole numbers separated by commas, e.g. 1000,5000")
    try:
        resolve_device(args.device)
        results = run_bench(
            quick=args.quick, device=args.device, gpu_too=not args.no_gpu, scaling_sizes=sizes
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
