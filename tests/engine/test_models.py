"""Models and heads: every built-in model ends in a Linear and learns in both label modes;
heads are found, described, replaced, removed and frozen through one table."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from engine.config import ModelConfig, RunConfig
from engine.errors import ModelError
from engine.model_names import available_models
from engine.models import (
    build_model,
    describe_head,
    freeze_body,
    get_classifier,
    pretrained_weights_path,
    reset_classifier,
)
from engine.training import fit
from tests.engine.synthetic import blocks_split

MNIST_SHAPE = (1, 28, 28)


def test_available_models_lists_built_ins_first_and_only_models_that_learn():
    # The list is short on purpose: every name is trained on real digits in both modes by
    # tests/engine/test_models_learn.py.
    assert available_models() == ["cnn", "mlp", "resnet18"]


@pytest.mark.parametrize("name", ["cnn", "mlp"])
def test_built_in_models_end_in_a_plain_linear_whose_logits_reach_the_output(name):
    model = build_model(ModelConfig(name=name), 10, MNIST_SHAPE).eval()
    head = get_classifier(model)
    assert type(head) is nn.Linear and head.out_features == 10
    with torch.no_grad():
        head.bias.fill_(-5.0)  # nothing after the head may clip negative logits
        head.weight.zero_()
        logits = model(torch.rand(4, *MNIST_SHAPE))
    assert torch.equal(logits, torch.full((4, 10), -5.0))


@pytest.mark.parametrize("name", ["cnn", "mlp"])
@pytest.mark.parametrize("mode", ["multi-class", "multi-label"])
@pytest.mark.slow
def test_built_in_models_learn_in_both_modes(name, mode):
    config = RunConfig().with_changes(name=name, mode=mode, epochs=6, batch_size=16, device="cpu")
    result = fit(config, blocks_split(per_class=40))
    last = result.history[-1]
    assert last["val_accuracy"] >= 0.95
    assert last["val_loss"] < 0.25 * math.log(2)  # a dead sigmoid model sits at ln 2
    assert last["train_loss"] < result.history[0]["train_loss"]
    if mode == "multi-label":
        assert last["val_exact_match"] >= 0.9
        assert result.valid_logits.min() < -2  # "not this class" needs negative logits


def test_cnn_weights_stay_small_enough_to_ship_a_demo_run():
    model = build_model(ModelConfig(name="cnn"), 10, MNIST_SHAPE)
    assert sum(p.numel() for p in model.parameters()) * 4 < 400_000


def test_cnn_adapts_to_colour_and_larger_images():
    model = build_model(ModelConfig(name="cnn"), 10, (3, 32, 32)).eval()
    assert model(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    assert describe_head(model).in_features == 64 * 3 * 3


@pytest.mark.parametrize(
    ("name", "attribute", "in_features"),
    [("resnet18", "fc", 512), ("mobilenet_v3_small", "classifier.3", 1024)],
)
def test_torchvision_heads_are_found_reset_and_counted(name, attribute, in_features):
    model = build_model(ModelConfig(name=name), 10, MNIST_SHAPE)
    description = describe_head(model)
    assert description.attribute == attribute
    assert (description.in_features, description.out_features) == (in_features, 10)
    assert description.head_params == in_features * 10 + 10
    total = sum(p.numel() for p in model.parameters())
    assert description.trainable_params == total and description.frozen_params == 0

    new_head = reset_classifier(model, 3)
    assert get_classifier(model) is new_head
    assert (new_head.in_features, new_head.out_features) == (in_features, 3)
    assert describe_head(model).trainable_params == total - (in_features * 7 + 7)
    with torch.no_grad():
        assert model.eval()(torch.rand(2, *MNIST_SHAPE)).shape == (2, 3)


def test_torchvision_first_convolution_takes_one_channel_for_mnist():
    model = build_model(ModelConfig(name="resnet18"), 10, MNIST_SHAPE)
    assert model.conv1.in_channels == 1
    rgb = build_model(ModelConfig(name="resnet18"), 10, (3, 32, 32))
    assert rgb.conv1.in_channels == 3


def test_describe_head_prints_like_pytorch():
    model = build_model(ModelConfig(name="resnet18"), 10, MNIST_SHAPE)
    assert describe_head(model).text == "(fc): Linear(in_features=512, out_features=10, bias=True)"
    mobile = describe_head(build_model(ModelConfig(name="mobilenet_v3_small"), 4, MNIST_SHAPE))
    assert mobile.text.startswith("(classifier): Sequential(")
    assert "(3): Linear(in_features=1024, out_features=4, bias=True)" in mobile.text
    assert "1024 -> 4" in str(mobile)


def test_reset_to_zero_classes_gives_a_feature_extractor_and_back():
    model = build_model(ModelConfig(name="cnn"), 10, MNIST_SHAPE).eval()
    assert isinstance(reset_classifier(model, 0), nn.Identity)
    with torch.no_grad():
        assert model(torch.rand(2, *MNIST_SHAPE)).shape == (2, 576)
    description = describe_head(model)
    assert (description.in_features, description.out_features) == (576, 0)
    assert reset_classifier(model, 5).in_features == 576
    with torch.no_grad():
        assert model(torch.rand(2, *MNIST_SHAPE)).shape == (2, 5)


@pytest.mark.parametrize("name", ["cnn", "resnet18"])
def test_freeze_body_leaves_only_the_head_trainable(name):
    model = build_model(ModelConfig(name=name), 10, MNIST_SHAPE)
    freeze_body(model)
    head_ids = {id(p) for p in get_classifier(model).parameters()}
    for parameter in model.parameters():
        assert parameter.requires_grad == (id(parameter) in head_ids)
    description = describe_head(model)
    assert description.trainable_params == description.head_params
    freeze_body(model, frozen=False)
    assert all(p.requires_grad for p in model.parameters())


def test_frozen_body_does_not_change_during_training():
    split = blocks_split(per_class=10)
    config = RunConfig().with_changes(freeze_body=True, epochs=1, batch_size=8, device="cpu")
    torch.manual_seed(config.train.seed)
    before = build_model(config.model, 3, MNIST_SHAPE).state_dict()
    after = fit(config, split).model.state_dict()
    conv = "features.0.weight"
    assert torch.equal(before[conv], after[conv])
    assert not torch.equal(before["head.weight"], after["head.weight"])


def test_unknown_head_falls_back_to_the_last_linear():
    model = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
    assert get_classifier(model) is model[3]
    reset_classifier(model, 2)
    assert model[3].out_features == 2


def test_unknown_model_name_lists_the_choices():
    with pytest.raises(ModelError, match="unknown model 'resnet9000'.*cnn, mlp, resnet18"):
        build_model(ModelConfig(name="resnet9000"), 10, MNIST_SHAPE)


def test_pretrained_built_in_is_refused():
    with pytest.raises(ModelError, match="no pretrained weights"):
        build_model(ModelConfig(name="cnn", pretrained=True), 10, MNIST_SHAPE)


def test_missing_pretrained_weights_say_where_to_put_them(monkeypatch, tmp_path):
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    expected = tmp_path / "checkpoints" / "resnet18-f37072fd.pth"
    assert pretrained_weights_path("resnet18") == expected
    with pytest.raises(ModelError, match=str(expected)):
        build_model(ModelConfig(name="resnet18", pretrained=True), 10, MNIST_SHAPE)


@pytest.mark.slow
def test_local_pretrained_weights_are_loaded_and_adapted(monkeypatch, tmp_path):
    from torchvision.models import resnet18

    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path))
    torch.manual_seed(1)
    imagenet = resnet18()  # stands in for the real file: same keys and shapes
    path = pretrained_weights_path("resnet18")
    path.parent.mkdir(parents=True)
    torch.save(imagenet.state_dict(), path)

    model = build_model(ModelConfig(name="resnet18", pretrained=True), 10, MNIST_SHAPE)
    assert torch.equal(model.layer1[0].conv1.weight, imagenet.layer1[0].conv1.weight)
    summed = imagenet.conv1.weight.sum(dim=1, keepdim=True)
    assert torch.allclose(model.conv1.weight, summed)
    assert model.fc.out_features == 10
