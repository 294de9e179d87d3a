"""Predict page under AppTest: uploads get the engine's verdict, every bad file of the corpus
gets the engine's message while the good files beside it are still predicted."""

from __future__ import annotations

import io

import pytest
import torch
from PIL import Image

from dashboard import links, session
from dashboard.examples import AMBIGUOUS, CLEAR, NON_DIGIT, clearest_index, run_examples
from engine.analysis import confused_pairs
from engine.labels import activation
from engine.prediction import predict_images, verdict_text
from engine.runs import RunStore
from tests.dashboard.conftest import as_displayed, texts
from tests.engine.bad_inputs import IMAGE_CASES
from tests.engine.test_upload_preparation import user_digits

PAGE = "views/predict.py"
MIME = "application/octet-stream"


def png_bytes(pixels) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def clearly_read_digit(run_id: str) -> tuple[bytes, str]:
    """A validation image the run reads as exactly its true class, as PNG bytes."""
    run = RunStore().load_run(run_id)
    targets = run.validation.targets
    truths = targets.argmax(dim=1) if targets.ndim == 2 else targets
    for image, truth in zip(run.validation.images, truths, strict=True):
        data = png_bytes(image[0].numpy())
        prediction = predict_images(run, [("digit.png", data)])[0]
        expected = run.class_names[int(truth)]
        if verdict_text(prediction) == expected:
            return data, expected
    raise AssertionError("the tiny run reads none of its validation images exactly")


def verdicts(app) -> list[str]:
    return [text.removeprefix("Verdict: ") for text in texts(app, "subheader")]


def test_without_uploads_the_page_asks_for_images(open_page, run_id):
    app = open_page(PAGE, run=run_id, threshold="0.7")
    assert not app.exception
    assert app.slider(key="threshold").value == pytest.approx(0.7)
    assert "threshold=0.7" in app.sidebar.code[0].value
    assert "Upload one or more images" in texts(app, "info")[0]
    assert app.file_uploader[0].accept_multiple_files


@pytest.mark.slow
def test_a_clear_digit_gets_its_class_as_verdict(open_page, run_id):
    data, expected = clearly_read_digit(run_id)
    app = open_page(PAGE, run=run_id)
    app.file_uploader[0].set_value([("my-digit.png", data, "image/png")]).run()
    assert not app.exception and not app.error
    assert verdicts(app) == [expected]
    assert "**my-digit.png**" in texts(app, "markdown")
    # the example thumbnails, then as uploaded + as the model sees it, and the bar charts
    assert len(app.get("image")) == 3
    assert len(app.get("vega_lite_chart")) == 2


@pytest.mark.slow
def test_the_verdict_follows_the_threshold(open_page, run_id):
    data, _ = clearly_read_digit(run_id)
    run = RunStore().load_run(run_id)
    app = open_page(PAGE, run=run_id)
    app.file_uploader[0].set_value([("digit.png", data, "image/png")]).run()
    for threshold in (0.05, 0.95):
        app.slider(key="threshold").set_value(threshold).run()
        expected = verdict_text(predict_images(run, [("digit.png", data)], threshold)[0])
        assert verdicts(app) == [expected]


@pytest.mark.slow
def test_every_bad_upload_gets_the_engines_message_and_the_rest_still_work(open_page, run_id):
    good, expected = clearly_read_digit(run_id)
    files = [(case.filename, case.data, MIME) for case in IMAGE_CASES]
    files.append(("good.png", good, "image/png"))
    app = open_page(PAGE, run=run_id)
    app.file_uploader[0].set_value(files).run()
    assert not app.exception
    errors = [as_displayed(message) for message in texts(app, "error")]
    refused = [case for case in IMAGE_CASES if case.error is not None]
    accepted = [case for case in IMAGE_CASES if case.error is None]
    assert len(refused) >= 10 and len(errors) == len(refused)
    for case, message in zip(refused, errors, strict=True):
        assert message.startswith(f"{case.filename}: ")
        assert case.error in message, case.case
        assert "Traceback" not in message
    shown = verdicts(app)
    assert len(shown) == len(accepted) + 1
    assert shown[-1] == expected


@pytest.mark.slow
def test_examples_feed_the_same_cards_and_their_choice_is_in_the_link(open_page, run_id):
    run = RunStore().load_run(run_id)
    examples = {example.key: example for example in run_examples(run)}
    assert list(examples) == [CLEAR, AMBIGUOUS, NON_DIGIT]
    app = open_page(PAGE, run=run_id)
    assert app.pills(key=links.EXAMPLE).options == list(examples)
    assert len(app.get("image")[0].proto.imgs) == 3  # a thumbnail of each, shown at once
    assert not verdicts(app)

    for key, example in examples.items():
        app.pills(key=links.EXAMPLE).set_value(key).run()
        assert not app.exception and not app.error
        expected = predict_images(run, [(example.name, example.data)])[0]
        assert verdicts(app) == [verdict_text(expected)]
        assert f"**{example.name}**" in texts(app, "markdown")
    # the clearest image is read as its own class; the ambiguous one is of the top pair
    truth = examples[CLEAR].label.removeprefix("a clear ")
    assert verdict_text(predict_images(run, [("x", examples[CLEAR].data)])[0]) == truth
    top = confused_pairs(
        activation(run.validation.logits, "multi-label"),
        run.validation.targets,
        run.class_names,
        0.5,
    ).iloc[0]
    assert examples[AMBIGUOUS].label == f"{top['a']} or {top['b']}?"

    assert "example=no+digit+at+all" in app.sidebar.code[0].value
    linked = open_page(PAGE, run=run_id, example=CLEAR)
    assert verdicts(linked) == [truth]


def test_the_clearest_image_has_the_widest_margin():
    probabilities = torch.tensor([[0.9, 0.6], [0.8, 0.1], [0.95, 0.9], [0.2, 0.7]])
    targets = torch.tensor([0, 0, 1, 1])
    assert clearest_index(probabilities, targets, 2) == 1  # 0.8 - 0.1 beats 0.7 - 0.2
    multi_hot = torch.tensor([[1.0, 1.0], [0.0, 0.0], [1.0, 1.0], [1.0, 1.0]])
    assert clearest_index(probabilities, multi_hot, 2) is None  # no image of one class


@pytest.mark.slow
def test_uploads_are_released_once_read_and_their_results_stay(open_page, run_id):
    """The files are read once: the uploader is emptied (it holds no file), the session keeps
    only small previews and prepared images, and the cards stay, still following the line."""
    data, expected = clearly_read_digit(run_id)
    run = RunStore().load_run(run_id)
    app = open_page(PAGE, run=run_id)
    app.file_uploader[0].set_value([("my-digit.png", data, "image/png")]).run()
    assert not app.exception and not app.error
    assert not app.file_uploader[0].value  # released: the widget holds no file
    assert verdicts(app) == [expected]
    assert "**my-digit.png**" in texts(app, "markdown")
    assert len(app.get("image")) == 3  # the examples, as uploaded, as the model sees it
    assert any("1 uploaded file was read and released" in text for text in texts(app, "caption"))
    [item] = app.session_state[session.PREDICT_KEPT_KEY]["items"]
    assert set(item) == {"name", "preview", "prepared", "error"}  # no bytes, no file object
    assert item["name"] == "my-digit.png" and item["error"] is None
    assert isinstance(item["preview"], Image.Image) and max(item["preview"].size) <= 280
    assert tuple(item["prepared"].shape) == tuple(run.image_shape)
    app.slider(key="threshold").set_value(0.95).run()  # a rerun: the results are still read
    assert not app.file_uploader[0].value
    assert verdicts(app) == [verdict_text(predict_images(run, [("d.png", data)], 0.95)[0])]
    next(button for button in app.button if button.label == "Clear these results").click().run()
    assert verdicts(app) == []
    assert "Upload one or more images" in texts(app, "info")[0]


@pytest.mark.slow
def test_a_photo_of_two_digits_on_the_pairs_demo_reads_as_both(open_page, runs_dir):
    """The shipped demo-pairs reads a held-out photo of two test digits as the pair, worded as
    two labels that are both there (not "1 or 7 — ambiguous")."""
    run = RunStore().load_run("demo-pairs")
    photos = user_digits(("pair",))
    predictions = predict_images(run, [(f"{i}.jpg", data) for i, (_, data, _) in enumerate(photos)])
    data, truth = next(
        (data, truth)
        for (_, data, truth), prediction in zip(photos, predictions, strict=True)
        if set(prediction.verdict) == truth
    )
    first, second = sorted(truth)
    app = open_page(PAGE, run="demo-pairs")
    app.file_uploader[0].set_value([("two-digits.jpg", data, "image/jpeg")]).run()
    assert not app.exception and not app.error
    assert verdicts(app) == [f"{first} and {second}"]
    assert len(app.get("image")) == 3  # the examples, as uploaded, as the model sees it
