"""Prediction latency: one uploaded PNG, and a batch of 64, through `engine.predict_images`
(decode, preprocess, normalise, forward), each the median of many runs, with the time of each
step for one image beside it.

The uploads look like what people send: a validation digit drawn dark on a light background
and enlarged to 280x280, saved as PNG, so the digit preprocessing (invert, crop to the ink,
fit, centre by mass) does its full work.
"""

from __future__ import annotations

import io
import tempfile
from dataclasses import asdict, dataclass

import torch
from PIL import Image

from bench.measure import median_seconds
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit
from engine.images import decode_image, preprocess
from engine.prediction import predict_images, predict_tensor
from engine.runs import LoadedRun, RunStore
from engine.training import FitResult

UPLOAD_SIDE = 280
BATCH = 64


def upload_png(image: torch.Tensor, side: int = UPLOAD_SIDE) -> bytes:
    """A uint8 (1, H, W) light-on-dark digit as a dark-on-light `side` x `side` PNG."""
    picture = Image.fromarray(255 - image[0].numpy(), mode="L")
    picture = picture.resize((side, side), Image.Resampling.BILINEAR)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


def saved_run(config: RunConfig, split: DatasetSplit, result: FitResult, root: str) -> LoadedRun:
    """Save a fit into a run store under `root` and load it back, as the dashboard would."""
    store = RunStore(root, include_demo=False)
    writer = store.create_run(config, split)
    writer.finish(result, split)
    return store.load_run(writer.id)


@dataclass
class Latency:
    one_image_seconds: float  # predict_images on one PNG: decode + preprocess + forward
    batch_seconds: float  # predict_images on 64 PNGs
    batch_size: int
    decode_seconds: float  # the steps of one image, timed apart
    preprocess_seconds: float
    forward_seconds: float

    def to_dict(self) -> dict[str, float]:
        return {**asdict(self), "batch_seconds_per_image": self.batch_seconds / self.batch_size}


def measure_latency(
    run: LoadedRun, images: torch.Tensor, repeats: int = 100, batch_repeats: int = 20
) -> Latency:
    """Median latencies of predicting PNGs made from `images` (uint8 (N, 1, H, W), N >= 64)."""
    uploads = [(f"digit_{i}.png", upload_png(images[i])) for i in range(BATCH)]
    one = uploads[:1]
    decoded = decode_image(one[0][1], one[0][0])
    prepared = preprocess(decoded, run.preprocess, run.image_shape)[None]
    return Latency(
        one_image_seconds=median_seconds(lambda: predict_images(run, one), repeats, warmup=3),
        batch_seconds=median_seconds(lambda: predict_images(run, uploads), batch_repeats),
        batch_size=BATCH,
        decode_seconds=median_seconds(lambda: decode_image(one[0][1], one[0][0]), repeats),
        preprocess_seconds=median_seconds(
            lambda: preprocess(decoded, run.preprocess, run.image_shape), repeats
        ),
        forward_seconds=median_seconds(
            lambda: predict_tensor(run.model, prepared, run.normalization), repeats
        ),
    )


def latency_of_fit(
    config: RunConfig, split: DatasetSplit, result: FitResult, repeats: int = 100
) -> Latency:
    """Save the fit as a run in a temporary folder, load it back, and time predictions."""
    with tempfile.TemporaryDirectory(prefix="bench-run-") as root:
        run = saved_run(config, split, result, root)
        return measure_latency(run, split.valid.images, repeats, max(1, repeats // 5))
