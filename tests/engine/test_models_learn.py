"""Every model offered learns: trained with the default settings on real mnist-5k digits (a
small stratified subset) and on small colour images, in both label modes, each is far above
chance in evaluation mode, the mode every page and prediction reads it in.

This trains every listed model twice on real data; it is the slowest engine test (about a
minute on one thread, resnet18 most of it) and CI runs it, so every new model pays here."""

from __future__ import annotations

import pytest
import torch

from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.datasets.loading import load_dataset
from engine.errors import ModelError
from engine.model_names import UNOFFERED_TORCHVISION_MODELS, available_models
from engine.training import fit, recalibrate_batch_norm

pytestmark = pytest.mark.slow  # trains or reads real models for many seconds; CI runs it

DIGITS_LIMIT = 600  # 480 training and 120 validation digits, stratified
FAR_ABOVE_CHANCE = 0.5  # chance is 0.1 for ten digits; a dead model scores about that


@pytest.mark.parametrize("mode", ["multi-class", "multi-label"])
@pytest.mark.parametrize("name", available_models())
def test_every_offered_model_learns_real_digits_in_eval_mode(name, mode):
    config = RunConfig().with_changes(name=name, mode=mode, limit=DIGITS_LIMIT, device="cpu")
    split = load_dataset(config.data)
    result = fit(config, split)
    assert not result.model.training
    accuracy = result.history[-1]["val_accuracy"]
    assert accuracy >= FAR_ABOVE_CHANCE, f"{name} {mode}: {accuracy:.1%}"
    # The saved logits are the eval-mode model's own, on held-out digits.
    predicted = result.valid_logits.argmax(dim=1)
    truth = split.valid.targets
    assert float((predicted == truth).float().mean()) == pytest.approx(accuracy)


def colour_split(per_class: int, seed: int = 0) -> DatasetSplit:
    """CIFAR-sized 3x32x32 images of three classes told apart by colour alone (red, green,
    blue blotches on noise), so only a model that reads all three channels can learn them."""
    generator = torch.Generator().manual_seed(seed)

    def make(count: int) -> ImageDataset:
        targets = torch.arange(3).repeat_interleave(count)
        images = torch.randint(0, 90, (len(targets), 3, 32, 32), generator=generator)
        corners = torch.randint(0, 16, (len(targets), 2), generator=generator)
        for index, (label, (top, left)) in enumerate(
            zip(targets.tolist(), corners.tolist(), strict=True)
        ):
            images[index, label, top : top + 16, left : left + 16] = 250
        return ImageDataset(images.to(torch.uint8), targets, ("red", "green", "blue"))

    return DatasetSplit("colours", make(per_class), make(per_class // 2), preprocess="resize")


@pytest.mark.parametrize("mode", ["multi-class", "multi-label"])
@pytest.mark.parametrize("name", available_models())
def test_every_offered_model_learns_colour_images(name, mode):
    split = colour_split(per_class=24)
    config = RunConfig().with_changes(name=name, mode=mode, epochs=3, batch_size=16, device="cpu")
    result = fit(config, split)
    assert result.history[-1]["val_accuracy"] >= 0.8, name


def test_batch_norm_recalibration_replaces_stale_running_statistics():
    """torchvision's MobileNets average batch statistics with momentum 0.01: after a short run
    the running averages lag far behind the weights, and eval mode sits at chance. After
    recalibration they are the training images' own statistics."""
    model = torch.nn.Sequential(torch.nn.BatchNorm2d(3, momentum=0.01))
    images = torch.randn(64, 3, 4, 4) * 3 + 5
    model.train()
    model(images[:8])  # one step: running mean 0.05, far from 5
    model.eval()
    recalibrate_batch_norm(model, images, batch_size=64)
    norm = model[0]
    assert torch.allclose(norm.running_mean, images.mean(dim=(0, 2, 3)), atol=1e-5)
    assert torch.allclose(norm.running_var, images.var(dim=(0, 2, 3)), rtol=1e-3)
    assert norm.momentum == 0.01  # put back for any later training
    assert not model.training  # back to the mode it was in


@pytest.mark.parametrize("name", UNOFFERED_TORCHVISION_MODELS)
def test_models_no_longer_offered_are_refused_for_training(name):
    config = RunConfig().with_changes(name=name, epochs=1, device="cpu")
    with pytest.raises(ModelError, match="no longer offered"):
        fit(config, colour_split(per_class=4))
