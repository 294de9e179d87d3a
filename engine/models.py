"""Architectures and their heads: build a model for a dataset, find its head, replace it,
describe it, and freeze the body behind it.

One table says where each architecture keeps its head (`HEAD_PATHS`, timm's
`'classifier': 'fc'` idea); every head function goes through it, so there is no
per-architecture branch anywhere else. The head's K logits are the same in both label modes:
switching mode changes the targets, loss and activation (engine/labels.py), never the model.
Pretrained torchvision weights are used only when they already sit in torch hub's local cache;
nothing here downloads.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
from torch import nn

from engine.config import ModelConfig
from engine.errors import ModelError
from engine.model_names import (
    TORCHVISION_MODELS,
    UNOFFERED_TORCHVISION_MODELS,
    available_models,
)
from engine.nets import MLP, DigitCNN

# Architecture (lower-cased class name, matched along the class hierarchy) -> head attribute.
HEAD_PATHS: dict[str, str] = {
    "digitcnn": "head",
    "mlp": "head",
    "resnet": "fc",
    "mobilenetv3": "classifier.3",
    "mobilenetv2": "classifier.1",
    "efficientnet": "classifier.1",
    "regnet": "fc",
    "shufflenetv2": "fc",
}


@dataclass(frozen=True)
class HeadDescription:
    """What the head is, printed the way PyTorch prints it, and what training will touch."""

    attribute: str  # where the head lives, e.g. "fc" or "classifier.3"
    text: str  # PyTorch's repr of the model's last part, e.g. "(fc): Linear(...)"
    in_features: int | None  # features the body hands the head
    out_features: int  # logits (classes); 0 when the head was removed
    trainable_params: int  # in the whole model
    frozen_params: int  # in the whole model
    head_params: int  # in the head alone

    def __str__(self) -> str:
        return (
            f"{self.text}\n"
            f"head: {self.attribute} ({self.in_features} -> {self.out_features}), "
            f"{self.head_params:,} parameters; model: {self.trainable_params:,} trainable, "
            f"{self.frozen_params:,} frozen"
        )


def freeze_warning(config: ModelConfig) -> str | None:
    """What freezing means when the body has no pretrained weights, or None when it is fine."""
    if not config.freeze_body or config.pretrained:
        return None
    return (
        "Freezing the body without pretrained weights trains the head alone on the random "
        "features of an untrained body: expect far lower accuracy (resnet18 on mnist-5k: about "
        "14% instead of 97%). Freeze the body only with pretrained weights."
    )


def check_offered(name: str) -> None:
    """Refuse to train a model that is built only to load older runs."""
    if name in UNOFFERED_TORCHVISION_MODELS:
        raise ModelError(
            f"{name} is no longer offered: with the default settings it did not learn well on "
            f"small images; choose one of {', '.join(available_models())}"
        )


def build_model(
    config: ModelConfig, num_classes: int, image_shape: tuple[int, int, int]
) -> nn.Module:
    """A model with `num_classes` logits for images of `image_shape` (C, H, W).

    torchvision models get their first convolution adapted to C channels (1 for MNIST).
    """
    channels, height, width = image_shape
    if config.name == "cnn" or config.name == "mlp":
        if config.pretrained:
            raise ModelError(
                f"the built-in {config.name!r} has no pretrained weights: turn pretrained off, "
                "or pick a torchvision model such as resnet18"
            )
        if config.name == "cnn":
            model: nn.Module = DigitCNN(num_classes, channels, (height, width))
        else:
            model = MLP(num_classes, (channels, height, width))
    elif config.name in TORCHVISION_MODELS or config.name in UNOFFERED_TORCHVISION_MODELS:
        model = _build_torchvision(config.name, num_classes, channels, config.pretrained)
    else:
        raise ModelError(
            f"unknown model {config.name!r}: choose one of {', '.join(available_models())}"
        )
    if config.freeze_body:
        freeze_body(model)
    return model


def _build_torchvision(name: str, num_classes: int, channels: int, pretrained: bool) -> nn.Module:
    from torchvision import models

    if not pretrained:
        model = models.get_model(name, weights=None, num_classes=num_classes)
    else:
        weights = models.get_model_weights(name).DEFAULT
        path = pretrained_weights_path(name)
        if not path.is_file():
            raise ModelError(
                f"no pretrained weights for {name} on this machine (nothing is downloaded): "
                f"fetch {weights.url} and put it at {path} (or set TORCH_HOME), or train "
                "without pretrained weights"
            )
        model = models.get_model(name, weights=weights)
        reset_classifier(model, num_classes)
    _adapt_first_conv(model, channels)
    return model


def pretrained_weights_path(name: str) -> Path:
    """Where torch hub keeps the default weights of torchvision model `name`."""
    from torchvision import models

    url = models.get_model_weights(name).DEFAULT.url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(urlparse(url).path)


def _adapt_first_conv(model: nn.Module, channels: int) -> None:
    """Give the first convolution `channels` inputs; pretrained RGB filters are summed to one
    channel (or repeated and rescaled), as timm does, so they still respond to edges."""
    name, conv = next(
        ((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)), (None, None)
    )
    if conv is None or conv.in_channels == channels:
        return
    new = nn.Conv2d(
        channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        conv.padding,
        conv.dilation,
        conv.groups,
        conv.bias is not None,
    )
    with torch.no_grad():
        if channels == 1:
            new.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        else:
            repeats = -(-channels // conv.in_channels)
            weight = conv.weight.repeat(1, repeats, 1, 1)[:, :channels]
            new.weight.copy_(weight * conv.in_channels / channels)
        if conv.bias is not None:
            new.bias.copy_(conv.bias)
    _set_submodule(model, name, new)


def head_path(model: nn.Module) -> str:
    """The head's attribute path, from HEAD_PATHS; unknown models fall back to their last
    Linear (true for nearly every classifier)."""
    for cls in type(model).__mro__:
        path = HEAD_PATHS.get(cls.__name__.lower())
        if path is not None:
            return path
    linears = [n for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ModelError(
            f"cannot find the head of {type(model).__name__}: it has no Linear layer; add its "
            "head attribute to engine.models.HEAD_PATHS"
        )
    return linears[-1]


def get_classifier(model: nn.Module) -> nn.Module:
    """The head: the final Linear (nn.Identity once removed with reset_classifier(model, 0))."""
    return model.get_submodule(head_path(model))


def reset_classifier(model: nn.Module, num_classes: int) -> nn.Module:
    """Put a fresh Linear head with `num_classes` outputs in place and return it.

    `num_classes=0` removes the head (nn.Identity), turning the model into a feature
    extractor; a later call with K > 0 puts a Linear back.
    """
    if num_classes < 0:
        raise ModelError("num_classes must be 0 (no head) or more")
    path = head_path(model)
    old = model.get_submodule(path)
    if isinstance(old, nn.Sequential) and len(old) and isinstance(old[-1], nn.Linear):
        path, old = f"{path}.{len(old) - 1}", old[-1]
    in_features = _in_features(model, old)
    if in_features is None:
        raise ModelError(
            f"cannot tell how many features reach the head {path!r} of {type(model).__name__}"
        )
    model.num_features = in_features  # remembered, so a removed head can be put back
    if num_classes == 0:
        new: nn.Module = nn.Identity()
    else:
        new = nn.Linear(in_features, num_classes)
        if isinstance(old, nn.Linear):
            new = new.to(device=old.weight.device, dtype=old.weight.dtype)
    _set_submodule(model, path, new)
    return new


def describe_head(model: nn.Module) -> HeadDescription:
    """The head printed the way PyTorch prints it, with parameter counts."""
    path = head_path(model)
    head = model.get_submodule(path)
    top = path.split(".")[0]
    text = f"({top}): {model.get_submodule(top)!r}"
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    last = head[-1] if isinstance(head, nn.Sequential) and len(head) else head
    return HeadDescription(
        attribute=path,
        text=text,
        in_features=_in_features(model, last),
        out_features=last.out_features if isinstance(last, nn.Linear) else 0,
        trainable_params=trainable,
        frozen_params=frozen,
        head_params=sum(p.numel() for p in head.parameters()),
    )


def freeze_body(model: nn.Module, frozen: bool = True) -> None:
    """Freeze (or unfreeze) everything but the head; the head always stays trainable."""
    prefix = head_path(model) + "."
    for name, parameter in model.named_parameters():
        parameter.requires_grad = not frozen or name.startswith(prefix)


def _in_features(model: nn.Module, head: nn.Module) -> int | None:
    if isinstance(head, nn.Linear):
        return head.in_features
    value = getattr(model, "num_features", None)
    return value if isinstance(value, int) else None


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = model.get_submodule(parent_path) if parent_path else model
    setattr(parent, name, module)
