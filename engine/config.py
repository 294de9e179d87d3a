"""What a run is made of: frozen dataclasses for data, model and training, composed into a
`RunConfig`. Frozen means hashable, so Streamlit caches can key on them, and a run saves its
config beside its weights so it reloads exactly.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from engine.errors import EngineError
from engine.modes import check_mode


@dataclass(frozen=True)
class DataConfig:
    dataset: str = "mnist-5k"  # a name from engine.available_datasets(), or folder:/zip: PATH
    root: str | None = None  # where downloadable datasets live; None = engine default
    download: bool = False  # torchvision sets: fetch when missing (needs the internet)
    valid_fraction: float = 0.2  # ignored by mnist-5k, whose 4,000/1,000 split is fixed
    split_seed: int = 0  # seeds the stratified split, kept apart from the training seed
    limit: int | None = None  # use at most this many images (quick looks at big sets)
    none_examples: int = 0  # generated non-digits with all-zero targets (multi-label only)


@dataclass(frozen=True)
class ModelConfig:
    name: str = "cnn"  # a name from engine.available_models()
    pretrained: bool = False  # torchvision weights, only when present locally
    freeze_body: bool = False  # train the head alone


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
        check_mode(self.mode)
        if self.epochs < 1:
            raise EngineError("epochs must be at least 1")
        if self.batch_size < 1:
            raise EngineError("batch size must be at least 1")
        if not self.lr > 0:
            raise EngineError("learning rate must be positive")
        if self.cpu_threads < 0:
            raise EngineError("cpu_threads must be 0 (PyTorch's default) or more")
        if not 0.0 < self.threshold < 1.0:
            raise EngineError("threshold must lie strictly between 0 and 1")


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
