"""What a run is made of: frozen dataclasses for data, model and training, composed into a
`RunConfig`. Frozen means hashable, so Streamlit caches can key on them, and a run saves its
config beside its weights so it reloads exactly.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from engine.device import DEVICE_CHOICES
from engine.errors import EngineError
from engine.modes import LABEL_MODES, LabelMode, check_mode

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


def setting(
    default: Any,
    help: str,
    *,
    flag: str | None = None,
    choices: tuple[str, ...] | None = None,
    on_command_line: bool = True,
) -> Any:
    """A config field with its one help text, read by the command line (engine/config_options.py)
    to build its option: `flag` when the option is not the field's name with dashes, `choices`
    when only these values are offered there."""
    metadata = {"help": help, "flag": flag, "choices": choices, "on_command_line": on_command_line}
    return field(default=default, metadata=metadata)


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
    dataset: str = setting(
        "mnist-5k", "a name from `python -m engine datasets`, or folder:PATH or zip:PATH"
    )
    # None: engine.datasets.registry.default_data_root()
    root: str | None = setting(None, "where downloadable datasets live", flag="--data-root")
    download: bool = setting(False, "download a torchvision dataset when it is missing")
    # mnist-5k ignores it: its 4,000/1,000 split is fixed
    valid_fraction: float = setting(0.2, "share of the images held out for validation")
    # kept apart from the training seed, so the same images are held out whatever the seed
    split_seed: int = setting(0, "seeds the stratified split", on_command_line=False)
    limit: int | None = setting(None, "use at most N images (a quick look at a big set)")
    none_examples: int = setting(
        0, "add N generated non-digits with all-zero targets, to train multi-label"
    )

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
    name: str = setting("cnn", "a name from `python -m engine models`", flag="--model")
    pretrained: bool = setting(False, "start from torchvision weights found locally")
    freeze_body: bool = setting(False, "train the head alone")

    def __post_init__(self) -> None:
        _text("model name", self.name)
        _flag("pretrained", self.pretrained)
        _flag("freeze_body", self.freeze_body)


@dataclass(frozen=True)
class TrainConfig:
    mode: str = setting(
        LabelMode.MULTI_LABEL.value,
        "multi-class (softmax + cross-entropy) or multi-label (a sigmoid per class + BCE)",
        choices=LABEL_MODES,
    )
    # the built-in CNN reaches ~98.5% on mnist-5k in 5, in both modes
    epochs: int = setting(5, "passes over the training images")
    # 64-128 ran fastest on a 2-core CPU; 512 was slower
    batch_size: int = setting(128, "images per step")
    lr: float = setting(5e-3, "peak learning rate of the one-cycle schedule")
    weight_decay: float = setting(1e-2, "AdamW's decoupled weight decay")
    device: str = setting("auto", "auto picks CUDA, then MPS, then CPU", choices=DEVICE_CHOICES)
    seed: int = setting(0, "seeds the initial weights and the batch order")
    threshold: float = setting(0.5, "sigmoid cut-off for accuracy_multi and verdicts")
    mixed_precision: bool = setting(
        True, "bf16/fp16 autocast, used on CUDA only", on_command_line=False
    )
    # 0 = PyTorch's default (all cores), the fastest on a machine of one's own (2 cores: 2.2 s
    # instead of 3.0 s for the default run, 81% of the matmul ceiling). 1 suits a machine
    # shared with other busy work, where threads spin waiting for each other (seen 5-10x
    # slower), and gives the same weights whatever the core count.
    cpu_threads: int = setting(
        0, "CPU threads for training: 0 = all cores, 1 on a busy shared machine"
    )
    # Per-sample augmentation, engine/augment.py. Slower per epoch; on the full MNIST it makes
    # a model read other people's digits.
    augment: bool = setting(
        False,
        "random rotation, scale, shear, shift and, for digits, stroke width per image, "
        "instead of plain 2-pixel shifts",
    )

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
