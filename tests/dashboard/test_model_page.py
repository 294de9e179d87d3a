"""Model page: the head before and after reconfiguration as PyTorch prints it, with the
trainable and frozen parameter counts; links reproduce the view."""

from __future__ import annotations

import pytest

from dashboard import links
from tests.dashboard.conftest import texts

PAGE = "views/model.py"
CNN_HEAD_PARAMS = 576 * 10 + 10  # the DigitCNN's new head: 576 features -> 10 digits


def _columns(app) -> tuple[dict[str, str], dict[str, str]]:
    """Metrics of the Before and After columns."""
    before, after = ({m.label: m.value for m in column.metric} for column in app.columns[3:5])
    return before, after


def test_the_head_is_shown_before_and_after_reconfiguration(open_page) -> None:
    app = open_page(PAGE)
    assert not app.exception
    assert app.selectbox(key=links.MODEL).value == "cnn"
    before_text, after_text = texts(app, "code")[:2]
    # The cnn is built for the dataset: its own head, not an invented ImageNet one.
    assert before_text == "(head): Linear(in_features=576, out_features=10, bias=True)"
    assert after_text == "(head): Linear(in_features=576, out_features=10, bias=True)"
    assert not any("ImageNet" in caption for caption in texts(app, "caption"))
    before, after = _columns(app)
    assert (before["Outputs"], after["Outputs"]) == ("10", "10")
    assert after["Frozen parameters"] == "0"
    assert before["Trainable parameters"] == after["Trainable parameters"]
    assert not app.warning  # nothing frozen, nothing to warn about


@pytest.mark.slow
def test_freezing_the_body_leaves_only_the_head_trainable(open_page) -> None:
    app = open_page(PAGE)
    unfrozen = int(_columns(app)[1]["Trainable parameters"].replace(",", ""))
    app.toggle(key=links.FREEZE).set_value(True).run()
    after = _columns(app)[1]
    assert after["Trainable parameters"] == f"{CNN_HEAD_PARAMS:,}"
    assert int(after["Frozen parameters"].replace(",", "")) == unfrozen - CNN_HEAD_PARAMS
    assert "freeze_body(model)" in "".join(texts(app, "caption"))
    # No pretrained weights on this page: freezing is allowed, with the plain warning.
    assert any("random features" in warning.value for warning in app.warning)


@pytest.mark.slow
def test_a_link_opens_a_torchvision_model_with_a_frozen_body(open_page) -> None:
    app = open_page(PAGE, model="resnet18", freeze="true")
    assert not app.exception
    assert app.selectbox(key=links.MODEL).value == "resnet18"
    before_text, after_text = texts(app, "code")[:2]
    assert before_text == "(fc): Linear(in_features=512, out_features=1000, bias=True)"
    assert after_text == "(fc): Linear(in_features=512, out_features=10, bias=True)"
    assert any("ImageNet" in caption for caption in texts(app, "caption"))
    assert _columns(app)[1]["Trainable parameters"] == f"{512 * 10 + 10:,}"
    share = texts(app.sidebar, "code")[0]
    assert "/model?" in share and "model=resnet18" in share and "freeze=true" in share


def test_an_unknown_model_in_a_link_falls_back_with_a_notice(open_page) -> None:
    app = open_page(PAGE, model="vgg-nonexistent", freeze="maybe")
    assert not app.exception
    notices = " ".join(warning.value for warning in app.warning)
    assert "model='vgg-nonexistent'" in notices and "freeze='maybe'" in notices
    assert app.selectbox(key=links.MODEL).value == "cnn"
    assert texts(app, "code")[1].startswith("(head): Linear(in_features=576, out_features=10")


def test_train_this_model_opens_the_train_form_with_the_choice(open_page) -> None:
    app = open_page(PAGE, model="resnet18")
    next(button for button in app.button if button.label == "Train this model").click().run()
    assert not app.exception
    assert app.title[0].value == "Train"
    assert app.selectbox(key=links.MODEL).value == "resnet18"
    assert app.selectbox(key=links.DATASET).value == "mnist-5k"
