"""Fixtures for the real-browser tests: a Streamlit server on a free local port, and headless
Chromium (Debian's /usr/bin/chromium) driven by Playwright for Python.

Without Chromium or Playwright the tests skip with the reason, except with CI=true (or
LME_REQUIRE_BROWSER=1, set by tests/run_tests.sh under CI), where a missing browser is a
failure: CI must run them. LME_CHROMIUM names another Chromium binary.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.server import streamlit_server

CHROMIUM = os.environ.get("LME_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-dev-shm-usage",
]


def browser_required() -> bool:
    """CI=true (or 1), or LME_REQUIRE_BROWSER=1 as tests/run_tests.sh sets it under CI."""
    return (
        os.environ.get("CI", "").lower() in ("true", "1")
        or os.environ.get("LME_REQUIRE_BROWSER") == "1"
    )


def _skip_or_fail(reason: str) -> None:
    """Skip on a user's machine; fail under CI, where browser tests must run."""
    if browser_required():
        pytest.fail(f"{reason} (CI: browser tests must run; install Debian's chromium)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def runs_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty run store: the app must work from the shipped demo run alone."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def server_url(runs_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The app on a free port over an empty run store; yields its base URL."""
    log_path = tmp_path_factory.mktemp("server") / "streamlit.log"
    with streamlit_server(runs_dir, log_path) as (base_url, _):
        yield base_url


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Headless Chromium, or a skip (a failure under CI=true) when it is missing."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _skip_or_fail("Playwright for Python is not installed (pip install playwright)")
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _skip_or_fail(f"Chromium not found at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser: object, server_url: str) -> Iterator[object]:
    """A fresh browser context and page per test, so sessions do not share state."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(scope="session")
def clear_digits(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[Path, str]]:
    """PNGs of validation digits the demo model reads clearly, one per class (ten), each with
    the verdict to expect.

    The expected verdict comes from the engine itself (predict_images + verdict_text) and
    must equal the image's true class, so the browser tests check the whole path from
    upload to page text.
    """
    import io

    from PIL import Image

    from engine.prediction import predict_images, verdict_text
    from engine.runs import RunStore

    folder = tmp_path_factory.mktemp("uploads")
    run = RunStore(tmp_path_factory.mktemp("empty-runs")).load_run("demo")
    targets = run.validation.targets
    true_classes = targets.argmax(dim=1) if targets.ndim == 2 else targets
    found: dict[str, Path] = {}
    for index in range(len(true_classes)):
        expected = run.class_names[int(true_classes[index])]
        if expected in found:
            continue
        pixels = run.validation.images[index].numpy()
        image = Image.fromarray(pixels[0] if pixels.shape[0] == 1 else pixels.transpose(1, 2, 0))
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        prediction = predict_images(run, [("digit.png", buffer.getvalue())])[0]
        if verdict_text(prediction) == expected and max(prediction.sigmoid) > 0.9:
            found[expected] = folder / f"digit-{expected}.png"
            found[expected].write_bytes(buffer.getvalue())
        if len(found) == len(run.class_names):
            break
    assert len(found) == len(run.class_names), "the demo run reads some class clearly nowhere"
    return [(path, name) for name, path in sorted(found.items())]
