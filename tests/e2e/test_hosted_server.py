"""A hosted server (LME_PUBLIC=1, one training at a time) in real Chromium, several visitors at
once, each a separate browser context: a visitor's upload and training stay theirs, a share
link opens that one run read-only, a reload or a new tab keeps the running job, and three trainings
started together run one after the other with the waiting ones showing their place.
"""

from __future__ import annotations

import io
import json
import re
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from bench.server import streamlit_server
from engine.runs import DEMO_RUNS

pytestmark = pytest.mark.browser
STEP_MS = 60_000  # the longest any one step may take on a busy 2-core machine


@pytest.fixture(scope="module")
def hosted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A public server on a free port: (base URL, its runs folder)."""
    runs_dir = tmp_path_factory.mktemp("hosted-runs")
    log_path = tmp_path_factory.mktemp("hosted-server") / "streamlit.log"
    settings = {
        "LME_PUBLIC": "1",
        "LME_MAX_TRAININGS": "1",
        "LME_UPLOADS_DIR": str(runs_dir.parent / "uploads"),
    }
    with streamlit_server(runs_dir, log_path, **settings) as (base_url, _):
        yield base_url, runs_dir


@pytest.fixture
def new_page(browser) -> Iterator:
    """new_page() -> a page in a browser context of its own: another visitor."""
    contexts = []

    def make():
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(STEP_MS)
        contexts.append(context)
        return context.new_page()

    yield make
    for context in contexts:
        context.close()


def _shapes_zip() -> bytes:
    """Three classes of eight small drawn shapes each, as a visitor would zip them."""
    from PIL import Image, ImageDraw

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, draw_shape in (
            ("squares", lambda d, k: d.rectangle((4 + k, 4, 20, 20 - k), fill=255)),
            ("discs", lambda d, k: d.ellipse((4, 4 + k, 22, 22), fill=255)),
            ("bars", lambda d, k: d.rectangle((12, 2 + k, 15, 25), fill=255)),
        ):
            for index in range(8):
                image = Image.new("L", (28, 28), 0)
                draw_shape(ImageDraw.Draw(image), index % 4)
                data = io.BytesIO()
                image.save(data, format="PNG")
                archive.writestr(f"shapes/{name}/{index}.png", data.getvalue())
    return buffer.getvalue()


def _visitor_key(page) -> str:
    """The visitor key the server put in the address bar."""
    page.wait_for_url(re.compile(r"visitor="))
    return parse_qs(urlparse(page.url).query)["visitor"][0]


def _run_options(page) -> list[str]:
    """The entries of Explore's run chooser, read by opening it."""
    page.locator('[data-testid="stSelectbox"]').first.click()
    options = page.locator('[role="option"]')
    options.first.wait_for()
    texts = [text.strip() for text in options.all_inner_texts()]
    page.keyboard.press("Escape")
    return texts


def _no_error(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def test_a_visitors_work_stays_theirs_and_a_shared_run_opens_read_only(hosted, new_page, tmp_path):
    base_url, runs_dir = hosted
    upload = tmp_path / "shapes.zip"
    upload.write_bytes(_shapes_zip())

    # A uploads a dataset, then starts a long training.
    alice = new_page()
    alice.goto(f"{base_url}/data?dataset=upload+a+.zip")
    alice.locator('input[type="file"]').set_input_files(str(upload))
    alice.get_by_text("Uploaded: shapes.zip").wait_for()
    alice.get_by_text("Training images").wait_for()
    key = _visitor_key(alice)
    alice.goto(f"{base_url}/train?visitor={key}&epochs=100")
    alice.get_by_role("button", name="Start training").click()
    alice.get_by_text(re.compile(r"Training: epoch \d+ of 100")).wait_for()

    # A reloads: the running job is still there, with its Stop button.
    alice.reload()
    alice.get_by_text(re.compile(r"Training: epoch \d+ of 100")).wait_for()
    alice.get_by_role("button", name="Stop").wait_for()
    _no_error(alice)

    # A opens a new tab at the bare address (no key in it): the browser's cookie knows them.
    tab = alice.context.new_page()
    tab.goto(f"{base_url}/train")
    tab.get_by_text(re.compile(r"Training: epoch \d+ of 100")).wait_for()
    assert _visitor_key(tab) == key
    tab.close()

    # B sees none of it: no job, no upload, only the demo runs.
    bob = new_page()
    bob.goto(f"{base_url}/train")
    bob.get_by_text("No training started from this tab yet").wait_for()
    assert _visitor_key(bob) != key
    bob.goto(f"{base_url}/data?dataset=upload+a+.zip")
    bob.get_by_text("Upload a .zip of class folders").wait_for()
    assert bob.get_by_text("shapes.zip").count() == 0
    uploads = runs_dir.parent / "uploads"
    assert len(list(uploads.glob("*/*/*.zip"))) == 1  # A's zip, in A's own folder
    bad = tmp_path / "notes.zip"
    bad.write_bytes(b"these are notes, not a zip")
    bob.locator('input[type="file"]').set_input_files(str(bad))
    bob.get_by_text("Waiting for a free slot on the server").wait_for()  # behind A's training

    # A stops the training (saved as stopped); B's upload is read then, refused, not kept.
    alice.get_by_role("button", name="Stop").click()
    alice.get_by_text(re.compile(r"Stopped after \d+ of 100 epochs")).wait_for()
    bob.locator('[data-testid="stAlertContentError"]').first.wait_for()
    assert len(list(uploads.glob("*/*/*.zip"))) == 1  # a refused upload is not kept
    bob.goto(f"{base_url}/explore")
    bob.get_by_text("Co-activation", exact=False).first.wait_for()
    assert sorted(_run_options(bob)) == sorted(DEMO_RUNS)

    # A opens the stopped run on Explore and shares it.
    [run_id] = [p.name for p in runs_dir.iterdir() if not p.name.startswith(".")]
    alice.get_by_role("button", name="Explore this run").click()
    alice.get_by_role("button", name="Delete this run").wait_for()  # A owns it
    alice.get_by_text("Share this view").click()
    link = alice.locator("code").filter(has_text="share=").first.inner_text().strip()
    alice.get_by_text("Anyone with this link can open the run it shows").wait_for()
    assert f"run={run_id}" in link and "visitor=" not in link

    # B opens the link: that run alone, read-only.
    bob.goto(link)
    bob.get_by_text("Shared with you: read-only.").wait_for()
    assert sorted(_run_options(bob)) == sorted([run_id, *DEMO_RUNS])
    assert bob.get_by_role("button", name="Delete this run").count() == 0
    _no_error(bob)


def test_three_trainings_started_together_run_one_at_a_time(hosted, new_page):
    base_url, runs_dir = hosted
    before = {p.name for p in runs_dir.iterdir()}
    pages = [new_page() for _ in range(3)]
    for page in pages:
        page.goto(f"{base_url}/train?epochs=4")
        page.get_by_role("button", name="Start training").wait_for()
    for page in pages:
        page.get_by_role("button", name="Start training").click()

    places_seen: set[str] = set()
    waited: set[int] = set()
    deadline = time.monotonic() + 3 * STEP_MS / 1000
    while time.monotonic() < deadline:
        done = 0
        for number, page in enumerate(pages):
            for text in page.get_by_text(re.compile(r"^Waiting in the queue")).all_inner_texts():
                place = re.search(r"place (\d+)", text)
                if place:  # the text may be caught while it is being redrawn
                    places_seen.add(place.group(1))
                    waited.add(number)
            done += page.get_by_text(re.compile(r"^Done: 4 epochs")).count()
        if done == 3:
            break
        time.sleep(0.2)
    assert done == 3, [page.get_by_role("progressbar").all_inner_texts() for page in pages]
    assert len(waited) == 2 and places_seen == {"1", "2"}  # two waited, with their place
    for page in pages:
        _no_error(page)

    # One at a time: each run was created after the one before it had finished.
    new_runs = [runs_dir / name for name in {p.name for p in runs_dir.iterdir()} - before]
    records = sorted(
        (json.loads((path / "run.json").read_text()) for path in new_runs if path.is_dir()),
        key=lambda record: record["created"],
    )
    assert [record["status"] for record in records] == ["complete"] * 3
    for earlier, later in zip(records, records[1:], strict=False):
        assert earlier["finished"] <= later["created"]
