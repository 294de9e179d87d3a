"""Prediction: normalisation as in training, sigmoid and softmax per class, verdicts, and bad
files that get an error without sinking the rest of the batch."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from torch import nn

from engine.errors import EngineError
from engine.images import decode_image, preprocess
from engine.prediction import Prediction, predict_images, predict_tensor, verdict_text
from engine.runs import RunStore
from tests.engine.bad_inputs import draw_digit, encode

SEVEN = encode(draw_digit("7"))


def fake_run(model: nn.Module, classes=("a", "b", "c"), shape=(1, 28, 28), style="digit"):
    """What predict_images reads from a LoadedRun, around a hand-made model."""
    return SimpleNamespace(
        class_names=classes,
        image_shape=shape,
        preprocess=style,
        normalization={"mean": [0.5] * shape[0], "std": [0.25] * shape[0]},
        model=model.eval(),
    )


def constant_logits(logits: list[float], inputs: int = 784) -> nn.Module:
    """A model whose logits ignore the image: zero weights, the logits as bias."""
    linear = nn.Linear(inputs, len(logits))
    with torch.no_grad():
        linear.weight.zero_()
        linear.bias.copy_(torch.tensor(logits))
    return nn.Sequential(nn.Flatten(), linear)


class CountingModel(nn.Module):
    """Records the batch size of every forward pass."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner = inner
        self.batches: list[int] = []

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        self.batches.append(images.shape[0])
        return self.inner(images)


# --- normalisation and the forward pass ------------------------------------------------------


@pytest.mark.parametrize(
    "normalization", [{"mean": [0.5], "std": [0.25]}, ([0.5], [0.25])], ids=["dict", "tuple"]
)
def test_predict_tensor_normalises_as_training_did(normalization) -> None:
    mean_pixel = nn.Linear(4, 1, bias=False)
    with torch.no_grad():
        mean_pixel.weight.fill_(0.25)
    model = nn.Sequential(nn.Flatten(), mean_pixel)
    images = torch.tensor([[[[255, 255], [255, 255]]], [[[0, 0], [0, 0]]]], dtype=torch.uint8)
    logits = predict_tensor(model, images, normalization)
    assert logits.dtype == torch.float32
    assert torch.allclose(logits[:, 0], torch.tensor([2.0, -2.0]))  # (1 - 0.5) / 0.25 and back


def test_predict_tensor_uses_one_mean_and_std_per_channel() -> None:
    channel_means = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())  # no parameters at all
    image = torch.tensor([255, 0, 51], dtype=torch.uint8).view(1, 3, 1, 1).expand(1, 3, 2, 2)
    logits = predict_tensor(channel_means, image, ([0.5, 0.5, 0.2], [0.5, 0.25, 0.1]))
    assert torch.allclose(logits, torch.tensor([[1.0, -2.0, 0.0]]), atol=1e-6)


def test_saved_run_is_predicted_with_the_normalisation_it_was_trained_with(tiny_runs) -> None:
    root, run_id, _ = tiny_runs
    run = RunStore(root).load_run(run_id)
    logits = predict_tensor(run.model, run.validation.images, run.normalization)
    assert torch.allclose(logits, run.validation.logits, atol=1e-4)


def test_mnist_images_uploaded_as_png_read_like_the_originals(tiny_runs) -> None:
    root, run_id, _ = tiny_runs
    run = RunStore(root).load_run(run_id)
    images = run.validation.images[:100]
    uploads = [(f"{i}.png", encode_gray(image[0].numpy())) for i, image in enumerate(images)]
    predictions = predict_images(run, uploads)
    uploaded = torch.tensor([p.sigmoid for p in predictions]).argmax(dim=1)
    original = run.validation.logits[:100].argmax(dim=1)
    assert (uploaded == original).float().mean() >= 0.9


def encode_gray(pixels: np.ndarray) -> bytes:
    from PIL import Image

    return encode(Image.fromarray(pixels))


# --- probabilities and verdicts --------------------------------------------------------------


def test_sigmoid_softmax_and_verdict_per_class() -> None:
    run = fake_run(constant_logits([0.5, 2.0, -3.0]))
    (prediction,) = predict_images(run, [("seven.png", SEVEN)])
    assert prediction.error is None and prediction.file == "seven.png"
    assert prediction.classes == ("a", "b", "c")
    assert prediction.sigmoid == pytest.approx([0.622459, 0.880797, 0.047426], abs=1e-5)
    assert prediction.softmax == pytest.approx([0.181426, 0.813095, 0.005479], abs=1e-5)
    assert prediction.verdict == ["a", "b"]  # class order
    assert verdict_text(prediction) == "b or a — ambiguous"  # most probable first


@pytest.mark.parametrize(
    ("threshold", "verdict", "text"),
    [(0.04, ["a", "b", "c"], "b, a or c — ambiguous"), (0.7, ["b"], "b"), (0.95, [], None)],
)
def test_the_threshold_decides_the_verdict(threshold, verdict, text) -> None:
    run = fake_run(constant_logits([0.5, 2.0, -3.0]))
    (prediction,) = predict_images(run, [("seven.png", SEVEN)], threshold=threshold)
    assert prediction.verdict == verdict
    assert verdict_text(prediction) == (text or "none of the classes")


@pytest.mark.parametrize("threshold", [0.0, 1.0, -0.1, 1.5])
def test_threshold_outside_zero_and_one_is_refused(threshold: float) -> None:
    with pytest.raises(EngineError, match="strictly between 0 and 1"):
        predict_images(fake_run(constant_logits([0.0, 0.0, 0.0])), [], threshold)


def test_verdict_text_for_the_digit_classes() -> None:
    classes = tuple("0123456789")
    sigmoid = [0.01, 0.9, 0.02, 0.03, 0.01, 0.0, 0.02, 0.6, 0.01, 0.7]

    def with_verdict(names: list[str]) -> Prediction:
        return Prediction("x.png", classes, sigmoid, [0.1] * 10, names, None)

    assert verdict_text(with_verdict(["7"])) == "7"
    assert verdict_text(with_verdict(["1", "7"])) == "1 or 7 — ambiguous"
    assert verdict_text(with_verdict(["1", "7", "9"])) == "1, 9 or 7 — ambiguous"
    assert verdict_text(with_verdict([])) == "none of the classes"
    failed = Prediction("x.png", classes, [], [], [], None, error="x.png is empty (0 bytes)")
    assert verdict_text(failed) == "error: x.png is empty (0 bytes)"


# --- a batch with bad files ------------------------------------------------------------------


def test_a_bad_file_gets_an_error_and_the_batch_goes_on_in_one_forward_pass() -> None:
    model = CountingModel(constant_logits([0.5, 2.0, -3.0]))
    run = fake_run(model)
    uploads = [
        ("first.png", SEVEN),
        ("empty.png", b""),
        ("notes.png", b"just some text\n"),
        ("last.png", encode(draw_digit("1"))),
    ]
    predictions = predict_images(run, uploads)
    assert [p.file for p in predictions] == ["first.png", "empty.png", "notes.png", "last.png"]
    assert model.batches == [2]
    assert predictions[1].error == (
        "empty.png is empty (0 bytes): choose an image file (PNG, JPEG, BMP, GIF, WebP or TIFF)."
    )
    assert "notes.png is text, not an image" in predictions[2].error
    for failed in predictions[1:3]:
        assert failed.sigmoid == [] and failed.verdict == [] and failed.model_input is None
    for good in (predictions[0], predictions[3]):
        assert good.error is None and len(good.sigmoid) == 3 and good.verdict == ["a", "b"]


def test_only_bad_files_need_no_forward_pass() -> None:
    model = CountingModel(constant_logits([0.0, 0.0, 0.0]))
    predictions = predict_images(fake_run(model), [("a.png", b""), ("b.png", b"\x00")])
    assert [p.error is not None for p in predictions] == [True, True]
    assert model.batches == []
    assert predict_images(fake_run(model), []) == []


def test_json_form_marks_errors_apart_from_an_empty_verdict() -> None:
    run = fake_run(constant_logits([-5.0, -5.0, -5.0]))
    good, bad = predict_images(run, [("blank.png", SEVEN), ("cut.png", b"")])
    parsed = json.loads(json.dumps([good.to_dict(), bad.to_dict()]))
    assert parsed[0]["verdict"] == [] and parsed[0]["verdict_text"] == "none of the classes"
    assert parsed[0]["error"] is None and len(parsed[0]["sigmoid"]) == 3
    assert parsed[0]["classes"] == ["a", "b", "c"] and len(parsed[0]["softmax"]) == 3
    assert parsed[1]["error"].startswith("cut.png is empty")
    assert parsed[1]["sigmoid"] is None and parsed[1]["verdict"] is None


# --- what the model sees ---------------------------------------------------------------------


def test_model_input_is_the_preprocessed_digit() -> None:
    (prediction,) = predict_images(fake_run(constant_logits([0.0] * 3)), [("7.png", SEVEN)])
    expected = preprocess(decode_image(SEVEN), "digit", (1, 28, 28))[0].numpy()
    assert prediction.model_input.dtype == np.uint8
    assert np.array_equal(prediction.model_input, expected)


def test_model_input_of_a_colour_run_is_height_width_channels() -> None:
    run = fake_run(constant_logits([0.0] * 3, inputs=3 * 32 * 32), shape=(3, 32, 32))
    run.preprocess = "resize"
    photo = draw_digit("7", (64, 48), ink=(200, 0, 0), paper=(0, 0, 200), mode="RGB")
    (prediction,) = predict_images(run, [("photo.png", encode(photo))])
    assert prediction.error is None and prediction.model_input.shape == (32, 32, 3)
    assert prediction.model_input[0, 0].tolist() == [0, 0, 200]  # paper stays blue


def test_small_batches_run_on_one_torch_thread_without_changing_the_callers() -> None:
    import threading

    from engine.prediction import _single_thread_executor

    before = torch.get_num_threads()
    predict_images(fake_run(constant_logits([0.0] * 3)), [("7.png", SEVEN)])
    assert _single_thread_executor().submit(torch.get_num_threads).result() == 1
    assert torch.get_num_threads() == before
    started_later: list[int] = []
    thread = threading.Thread(target=lambda: started_later.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert started_later == [before]  # the default for new threads is restored too
