"""Home: what the app shows, the three questions one click away, and the way to train."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import texts


def test_home_states_the_three_questions(open_page) -> None:
    app = open_page()
    assert not app.exception
    assert app.title[0].value == "Label Mode Explorer"
    page = "\n".join(texts(app, "markdown"))
    assert "Can a multi-class dataset be trained the multi-label way" in page
    assert "How is the model's head changed?" in page
    assert "Train with softmax and read sigmoids at inference, or train with sigmoids?" in page
    assert "[0,0,0,0,0,0,0,1,0,0]" in page


@pytest.mark.slow
def test_every_question_and_the_first_training_are_one_link_away(open_page) -> None:
    app = open_page()
    links = {link.value: link.proto.page for link in app.page_link}
    assert links["See the labels converted"] == "data"
    assert links["See the head before and after"] == "model"
    assert links["Compare the two trainings"] == "compare"
    assert links["Train a model on the default data"] == "train"
    assert links["See the confused pairs"] == "explore"
    assert links["Predict your own digit"] == "predict"


@pytest.mark.slow
def test_the_pairs_demo_is_one_link_away_and_opens_on_explore(open_page) -> None:
    app = open_page()
    [link] = [link for link in app.page_link if "demo-pairs" in link.value]
    assert link.proto.page == "explore"
    assert link.proto.query_string == "run=demo-pairs"


def test_the_share_link_points_at_the_home_page(open_page) -> None:
    app = open_page()
    assert texts(app.sidebar, "code") == ["http://localhost:8501/"]


def test_the_upload_limit_matches_the_engine_and_the_watcher_is_off() -> None:
    import tomllib

    from engine.images import MAX_UPLOAD_BYTES
    from tests.dashboard.conftest import APP

    config = tomllib.loads((APP.parents[1] / ".streamlit" / "config.toml").read_text())
    assert config["server"]["maxUploadSize"] * 2**20 == MAX_UPLOAD_BYTES
    assert config["server"]["fileWatcherType"] == "none"
    assert config["server"]["headless"] is True
    assert config["browser"]["gatherUsageStats"] is False


def test_the_hosted_install_pins_the_same_versions_as_the_local_one() -> None:
    from tests.dashboard.conftest import APP

    def pins(path) -> list[str]:
        lines = path.read_text().splitlines()
        return [line for line in lines if line and not line.startswith(("#", "-"))]

    hosted = APP.parent / "requirements.txt"
    assert pins(hosted) == pins(APP.parents[1] / "requirements.txt")
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in hosted.read_text()
