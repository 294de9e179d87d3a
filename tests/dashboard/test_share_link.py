"""The sidebar's "Share this view" link on every page, including the pages that end early
(no upload yet, data that cannot load, a run that cannot be read): it is always drawn, and it
carries the values the page bound to the URL before it ended."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dashboard import caches, session, visitor
from engine.errors import ModelError, RunError
from tests.dashboard.conftest import texts

VIEWS = Path(__file__).resolve().parents[2] / "dashboard" / "views"


def share_link(app) -> str:
    links = texts(app.sidebar, "code")
    assert len(links) == 1, "the share link is missing"
    return links[0]


def test_no_page_calls_st_stop() -> None:
    """st.stop() would end the run before app.py draws the link; pages call end_page()."""
    for view in VIEWS.glob("*.py"):
        assert not re.search(r"\bst\.stop\(", view.read_text()), view.name


def test_home(open_page) -> None:
    assert share_link(open_page()) == "http://localhost:8501/"


def test_data_waiting_for_an_upload(open_page) -> None:
    app = open_page("views/data.py", dataset=session.UPLOAD_CHOICE)
    assert not app.exception
    assert "Upload a .zip of class folders" in app.info[0].value
    assert share_link(app) == "http://localhost:8501/data?dataset=upload+a+.zip"


@pytest.mark.slow
def test_data_that_cannot_load(open_page) -> None:
    app = open_page("views/data.py", dataset="kmnist")  # offline, no files: an error
    assert app.error and not app.exception
    assert share_link(app) == "http://localhost:8501/data?dataset=kmnist&download=false"


def test_model_that_cannot_be_built(open_page, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args, **kwargs):
        raise ModelError("cannot build it here")

    monkeypatch.setattr(caches, "head_change", refuse)
    app = open_page("views/model.py", model="mlp", freeze="true")
    assert app.error[0].value == "cannot build it here"
    link = share_link(app)
    assert link.startswith("http://localhost:8501/model?")
    assert "model=mlp" in link and "freeze=true" in link and "dataset=mnist-5k" in link


def test_train_with_data_that_cannot_load(open_page) -> None:
    app = open_page("views/train.py", dataset="kmnist", epochs="2", model="mlp")
    app.button[0].click().run()  # Start training: kmnist is not downloaded
    assert app.error and not app.exception
    link = share_link(app)
    assert link.startswith("http://localhost:8501/train?")
    assert "dataset=kmnist" in link and "epochs=2" in link and "model=mlp" in link


@pytest.mark.parametrize("page", ["explore", "predict"])
def test_analysis_page_whose_run_cannot_load(
    open_page, monkeypatch: pytest.MonkeyPatch, page: str
) -> None:
    def refuse(run_id: str):
        raise RunError(f"run {run_id} is damaged")

    monkeypatch.setattr(visitor, "load_run", refuse)
    app = open_page(f"views/{page}.py", run="demo")
    assert app.error[0].value == "run demo is damaged"
    assert share_link(app) == f"http://localhost:8501/{page}?run=demo"


@pytest.mark.slow
def test_predict_without_an_image(open_page) -> None:
    link = share_link(open_page("views/predict.py", run="demo", threshold="0.7"))
    assert link == "http://localhost:8501/predict?run=demo&threshold=0.7"


@pytest.mark.slow
def test_compare_with_one_run(open_page) -> None:
    app = open_page("views/compare.py", runs=["demo"], threshold="0.3")
    labels = [button.label for button in app.button]
    assert labels == ["Compare with demo-softmax", "Run the experiment"]  # + Teaching "none"
    assert share_link(app) == "http://localhost:8501/compare?runs=demo&threshold=0.3"
