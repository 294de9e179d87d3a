"""The names of the models: those offered for training, and those built only so older runs
still load. Torch-free, so `python -m engine models` and the CLI's checks stay instant;
engine/models.py builds them."""

from __future__ import annotations

BUILT_IN_MODELS = ("cnn", "mlp")
# The torchvision classifiers offered: each learns on 28x28 digits and 32x32 colour images with
# the default settings, in both label modes (tests/engine/test_models_learn.py trains every one
# on real digits). Measured on mnist-5k, --limit 2000, defaults, argmax validation accuracy:
# resnet18 ~97% in both modes.
TORCHVISION_MODELS = ("resnet18",)
# Built (so older runs still load, and their heads are in engine.models.HEAD_PATHS) but not
# offered: with the defaults on 2,000 digits, even with batch-norm statistics re-estimated after
# training, they stayed below 80% (mobilenet_v3_small 79-82%, shufflenet_v2_x1_0 83-85%,
# mobilenet_v2 69-73%, regnet_y_400mf 69-70%), or cost several times resnet18's training time
# (resnet34, resnet50) for no gain on images this small.
UNOFFERED_TORCHVISION_MODELS = (
    "mobilenet_v3_small",
    "resnet34",
    "resnet50",
    "mobilenet_v3_large",
    "mobilenet_v2",
    "efficientnet_b0",
    "regnet_y_400mf",
    "shufflenet_v2_x1_0",
)


def available_models() -> list[str]:
    """Names build_model accepts: the built-in nets first, then torchvision's."""
    return [*BUILT_IN_MODELS, *TORCHVISION_MODELS]
