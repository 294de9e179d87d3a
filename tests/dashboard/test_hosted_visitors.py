"""A hosted server (LME_PUBLIC=1) through the pages: each visitor's runs are private, a share
link opens one run read-only, an owner deletes their runs, a reloaded tab finds its training,
a visitor has one training at a time within the quotas, and nobody trains on another's upload.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlparse

import pytest

from dashboard import links, session
from engine import hosting, training_jobs
from engine.config import RunConfig
from engine.runs import DEMO_RUNS, RunStore
from tests.dashboard.conftest import texts

TRAIN, EXPLORE = "views/train.py", "views/explore.py"
TINY = {"epochs": "1", "limit": "300", "model": "mlp", "batch": "64"}


@pytest.fixture
def public(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("LME_PUBLIC", "1")
    monkeypatch.setenv("LME_UPLOADS_DIR", str(tmp_path / "uploads"))


def _key(app) -> str:
    return app.session_state["lme_visitor_key"]


def _train_tiny(open_page, **query: str):
    app = open_page(TRAIN, **TINY, **query)
    app.button[0].click().run()  # Start training
    assert not app.error, [e.value for e in app.error]
    job = training_jobs.get_job(app.session_state[session.JOB_KEY])
    final = job.wait(60)
    assert final.state == "done", final.error
    return app, final.run_id


def _reload(app, page: str):
    """The same visitor's page opened afresh (a reload, or a new tab with the same link)."""
    from streamlit.testing.v1 import AppTest

    from tests.dashboard.conftest import APP, TIMEOUT

    fresh = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    fresh.query_params["visitor"] = _key(app)
    fresh.run()
    fresh.switch_page(page).run()
    return fresh


def _share_link(app) -> str:
    return next(text for text in texts(app, "code") if "share=" in text)


@pytest.mark.usefixtures("public")
@pytest.mark.slow
def test_runs_are_private_until_shared_and_shared_runs_are_read_only(open_page, runs_dir):
    owner_tab, run_id = _train_tiny(open_page)
    owner = hosting.owner_of(_key(owner_tab))
    assert RunStore(runs_dir).list_runs()[0].owner == owner  # run.json names its visitor

    stranger = open_page(EXPLORE)
    assert _key(stranger) != _key(owner_tab)
    assert run_id not in stranger.selectbox(key=links.RUN).options  # only the demos
    assert set(stranger.selectbox(key=links.RUN).options) == set(DEMO_RUNS)
    guessed = open_page(EXPLORE, run=run_id)  # knowing the id is not enough
    assert guessed.selectbox(key=links.RUN).value != run_id
    assert any("not valid here" in w.value for w in guessed.warning)

    owner_tab.switch_page(EXPLORE).run()
    assert owner_tab.selectbox(key=links.RUN).value == run_id
    link = _share_link(owner_tab)
    query = parse_qs(urlparse(link).query)
    assert query["run"] == [run_id] and "visitor" not in query  # the key never travels
    assert any("Anyone with this link can open the run" in c for c in texts(owner_tab, "caption"))

    friend = open_page(EXPLORE, run=run_id, share=query["share"][0])
    assert not friend.exception
    assert friend.selectbox(key=links.RUN).value == run_id
    assert set(friend.selectbox(key=links.RUN).options) == {run_id, *DEMO_RUNS}
    assert "Shared with you: read-only." in texts(friend, "caption")
    assert "Delete for good" not in [b.label for b in friend.button]  # not theirs
    wrong = open_page(EXPLORE, run=run_id, share=hosting.share_token(runs_dir, "other-run"))
    assert run_id not in wrong.selectbox(key=links.RUN).options

    next(b for b in owner_tab.button if b.label == "Delete for good").click().run()
    assert run_id not in {s.id for s in RunStore(runs_dir).list_runs()}
    assert run_id not in owner_tab.selectbox(key=links.RUN).options


@pytest.mark.usefixtures("public")
@pytest.mark.slow
def test_a_reloaded_tab_finds_its_running_training_and_one_at_a_time(open_page):
    first = open_page(TRAIN, epochs="100", model="cnn")
    first.button[0].click().run()
    job = training_jobs.get_job(first.session_state[session.JOB_KEY])
    try:
        reloaded = _reload(first, TRAIN)  # a reload: the key is in the link from the start
        assert reloaded.session_state[session.JOB_KEY] == job.id
        assert "Stop" in [b.label for b in reloaded.button] or job.progress().finished
        assert not reloaded.info or "No training started" not in reloaded.info[0].value

        assert reloaded.button[0].disabled  # the form is disabled; a direct start is refused
        with pytest.raises(Exception, match="queued or running already"):
            training_jobs.start_training(RunConfig(), RunStore(), owner=job.owner)

        stranger = open_page(TRAIN)  # another visitor sees no job of theirs
        assert "No training started from this tab yet" in stranger.info[0].value
    finally:
        job.stop()
        job.wait(60)


@pytest.mark.usefixtures("public")
@pytest.mark.slow
def test_quotas_say_what_was_reached(open_page, monkeypatch):
    monkeypatch.setenv("LME_MAX_TRAINING_TFLOP", "0.000001")
    app = open_page(TRAIN, **TINY)
    app.button[0].click().run()
    assert any("too big for the shared demo" in e.value for e in app.error)
    monkeypatch.delenv("LME_MAX_TRAINING_TFLOP")

    monkeypatch.setenv("LME_MAX_RUNS_PER_VISITOR", "1")
    app, _ = _train_tiny(open_page)
    app.switch_page(TRAIN).run()
    app.button[0].click().run()
    assert any("the most one visitor may keep" in e.value for e in app.error)


@pytest.mark.usefixtures("public")
@pytest.mark.slow
def test_nobody_trains_on_another_visitors_upload(open_page):
    upload = hosting.save_upload(b"PK zip bytes", "someone else", hosting.hosting_limits())
    app = open_page(TRAIN, dataset=f"zip:{upload}")
    assert f"zip:{upload}" not in app.selectbox(key=links.DATASET).options
    assert any("not valid here" in w.value for w in app.warning)
    assert app.selectbox(key=links.DATASET).value == "mnist-5k"


def test_a_runs_folder_that_is_a_file_is_named_on_the_train_page(open_page, runs_dir):
    runs_dir.parent.mkdir(parents=True, exist_ok=True)
    runs_dir.write_text("not a folder")
    app = open_page(TRAIN)
    assert not app.exception
    assert any("is a file, not a folder" in e.value for e in app.error)
    assert str(runs_dir) not in " ".join(e.value for e in app.error)  # no server path
