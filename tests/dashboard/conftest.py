"""Shared fixtures for the dashboard's AppTest tests: an isolated run store and data folder,
and a helper that opens one page (optionally from a share link's query parameters).

Caches (st.cache_resource) live for the whole pytest process, so mnist-5k is decoded once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from streamlit.testing.v1 import AppTest

from engine import jobs

if TYPE_CHECKING:
    from tests.conftest import TinyRuns

APP = Path(__file__).resolve().parents[2] / "dashboard" / "app.py"
TIMEOUT = 60  # seconds for one script run; the first one decodes mnist-5k


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh run store and an empty data folder, so no test sees another's runs or files."""
    folder = tmp_path / "runs"
    monkeypatch.setenv("LME_RUNS_DIR", str(folder))
    monkeypatch.setenv("LME_DATA_DIR", str(tmp_path / "data"))
    return folder


@pytest.fixture
def tiny_store(runs_dir: Path, tiny_runs: TinyRuns, monkeypatch: pytest.MonkeyPatch) -> TinyRuns:
    """The tiny runs (tests/conftest.py), in the run store the pages read (and `RunStore()`)."""
    monkeypatch.setenv("LME_RUNS_DIR", str(tiny_runs.root))
    return tiny_runs


@pytest.fixture
def run_id(tiny_store: TinyRuns) -> str:
    """The tiny multi-label run, in the run store the page reads."""
    return tiny_store.multi_label


@pytest.fixture
def open_page(runs_dir: Path) -> Iterator[Callable[..., AppTest]]:
    """open_page("views/data.py", mode="multi-class") -> the page as a link would open it."""

    def open_(page: str = "", **query: str) -> AppTest:
        app = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
        app.run()  # Home first: st.navigation registers the pages
        if page:
            app.query_params.update(query)
            app.switch_page(page)
            app.run()
        return app

    yield open_
    for job in jobs.running(jobs.Job):  # never leave a training or an experiment behind
        job.stop()  # a task (an experiment) stops only while it waits: then it runs to its end
        job.wait(60)


def as_displayed(markdown: str) -> str:
    """The text a reader sees of Markdown whose punctuation was escaped (messages.plain)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", markdown)


def texts(app: AppTest, kind: str) -> list[str]:
    """The text of every element of one kind (markdown, code, caption, ...) on the page."""
    return [str(element.value) for element in getattr(app, kind)]


def metrics(app: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in app.metric}
