"""What a run is made of: frozen dataclasses for data, model and training, composed into a
`RunConfig`. Frozen means hashable, so Streamlit caches can key on them, and a run saves its
config beside its weights so it reloads exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from engine.errors import EngineError
from engine.modes import check_mode

# Bounds on every setting (stated in the README): far beyond any sensible run, near enough
# that a typo or a hostile value is refused in words instead of failing deep in PyTorch.
MAX_EPOCHS = 1000
MAX_BATCH_SIZE = 65_536
MAX_LR = 10.0
MAX_WEIGHT_DECAY = 1.0
MAX_SEED = 2**32 - 1
MAX_LIMIT = 10_000_000
MAX_NONE_EXAMPLES = 100_000
MAX_CPU_THREADS = 1024
MAX_TEXT_CHARS = 4096


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _whole(name: str, value: Any, minimum: int, maximum: int) -> None:
    if not _is_whole(value) or not minimum <= value <= maximum:
        raise EngineError(
            f"{name} must be a whole number from {minimum:,} to {maximum:,}, got {_shown(value)}"
        )


def _number(
    name: str,
    value: Any,
    minimum: float,
    maximum: float,
    open_interval: bool = False,
    upper_inclusive: bool = False,
) -> None:
    valid = isinstance(value, int | float) and not isinstance(value, bool)
    valid = valid and math.isfinite(value)
    if valid and open_interval:
        valid = minimum < value and (value <= maximum if upper_inclusive else value < maximum)
    elif valid:
        valid = minimum <= value <= maximum
    if not valid:
        if open_interval and not upper_inclusive:
            span = f"strictly between {minimum:g} and {maximum:g}"
        elif open_interval:
            span = f"above {minimum:g} and at most {maximum:g}"
        else:
            span = f"from {minimum:g} to {maximum:g}"
        raise EngineError(f"{name} must be a finite number {span}, got {_shown(value)}")


def _text(name: str, value: Any) -> None:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise EngineError(f"{name} must be text of at most {MAX_TEXT_CHARS} characters")


def _flag(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise EngineError(f"{name} must be true or false, got {_shown(value)}")


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist-5k"  # a name from engine.available_datasets(), or folder:/zip: PATH
    root: str | None = None  # where downloadable datasets live; None = engine default
    download: bool = False  # torchvision sets: fetch when missing (needs the internet)
    valid_fraction: float = 0.2  # ignored by mnist-5k, whose 4,000/1,000 split is fixed
    split_seed: int = 0  # seeds the stratified split, kept apart from the training seed
    limit: int | None = None  # use at most this many images (quick looks at big sets)
    none_examples: int = 0  # generated non-digits with all-zero targets (multi-label only)

    def __post_init__(self) -> None:
        _text("dataset", self.dataset)
        if self.root is not None:
            _text("root", self.root)
        _flag("download", self.download)
        _number("valid_fraction", self.valid_fraction, 0.0, 1.0, open_interval=True)
        _whole("split_seed", self.split_seed, 0, MAX_SEED)
        if self.limit is not None:
            _whole("limit", self.limit, 1, MAX_LIMIT)  # load_dataset says why 1 is too few
        _whole("none_examples", self.none_examples, 0, MAX_NONE_EXAMPLES)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "cnn"  # a name from engine.available_models()
    pretrained: bool = False  # torchvision weights, only when present locally
    freeze_body: bool = False  # train the head alone

    def __post_init__(self) -> None:
        _text("model name", self.name)
        _flag("pretrained", self.pretrained)
        _flag("freeze_body", self.freeze_body)


@dataclass(frozen=True)
class TrainConfig:
    mode: str = "multi-label"  # "multi-class" (softmax + CE) or "multi-label" (sigmoid + BCE)
    epochs: int = 5  # the built-in CNN reaches ~98.5% on mnist-5k in 5, in both modes
    batch_size: int = 128  # 64-128 ran fastest on a 2-core CPU; 512 was slower
    lr: float = 5e-3  # peak of the one-cycle schedule
    weight_decay: float = 1e-2  # AdamW's decoupled decay
    device: str = "auto"  # auto picks CUDA, then MPS, then CPU
    seed: int = 0
    threshold: float = 0.5  # sigmoid cut-off for accuracy_multi and verdicts
    mixed_precision: bool = True  # bf16/fp16 autocast, used on CUDA only
    # CPU threads while training; 0 = PyTorch's default (all cores), the fastest on a machine
    # of one's own (2 cores: 2.2 s instead of 3.0 s for the default run, 81% of the matmul
    # ceiling). 1 suits a machine shared with other busy work, where threads spin waiting for
    # each other (seen 5-10x slower), and gives the same weights whatever the core count.
    cpu_threads: int = 0
    # Per-sample random rotation, scale, shear and shift of each training batch, and for digit
    # data stroke-width jitter (engine/augment.py), instead of the plain 2-pixel shifts.
    # Slower per epoch; on the full MNIST it makes a model read other people's digits.
    augment: bool = False

    def __post_init__(self) -> None:
        _text("mode", self.mode)
        check_mode(self.mode)
        _whole("epochs", self.epochs, 1, MAX_EPOCHS)
        if _is_whole(self.batch_size) and self.batch_size == 1:
            raise EngineError(
                "batch size must be at least 2: batch norm cannot learn from one image at a "
                "time (with batches of 1, nothing would be trained)"
            )
        _whole("batch size", self.batch_size, 2, MAX_BATCH_SIZE)
        _number("learning rate", self.lr, 0.0, MAX_LR, open_interval=True, upper_inclusive=True)
        _number("weight decay", self.weight_decay, 0.0, MAX_WEIGHT_DECAY)
        _text("device", self.device)
        _whole("seed", self.seed, 0, MAX_SEED)
        _number("threshold", self.threshold, 0.0, 1.0, open_interval=True)
        _flag("mixed_precision", self.mixed_precision)
        _whole("cpu_threads", self.cpu_threads, 0, MAX_CPU_THREADS)


@dataclass(frozen=True)
class RunConfig:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> RunConfig:
        """Rebuild from `to_dict()` output; unknown keys (from newer versions) are ignored."""
        parts = {}
        for part in fields(cls):
            part_cls = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}[part.name]
            known = {f.name for f in fields(part_cls)}
            values = {k: v for k, v in (raw.get(part.name) or {}).items() if k in known}
            parts[part.name] = part_cls(**values)
        return cls(**parts)

    def with_changes(self, **changes: Any) -> RunConfig:
        """`replace` across parts: with_changes(mode="multi-class", name="resnet18")."""
        parts = {"data": self.data, "model": self.model, "train": self.train}
        for key, value in changes.items():
            owners = [n for n, p in parts.items() if key in {f.name for f in fields(p)}]
            if not owners:
                raise EngineError(f"unknown setting {key!r}")
            parts[owners[0]] = replace(parts[owners[0]], **{key: value})
        return RunConfig(**parts)
