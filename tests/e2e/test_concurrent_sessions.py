"""Eight browser sessions on one server at once, each uploading a different digit on Predict:
every one gets its own right verdict, no session sees another's, nothing errors, and the whole
round finishes within a bound. Localhost only.

The browser contexts are separate sessions (own cookies, own websocket). All eight uploads are
sent before any verdict is awaited, so the server runs the eight scripts concurrently.
"""

from __future__ import annotations

import re
import time

import pytest

pytestmark = pytest.mark.browser

SESSIONS = 8
BOUND_SECONDS = 60


def test_eight_sessions_upload_at_once_and_each_gets_its_verdict(browser, server_url, clear_digits):
    digits = [clear_digits[index % len(clear_digits)] for index in range(SESSIONS)]
    contexts = [browser.new_context(viewport={"width": 1200, "height": 900}) for _ in digits]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(BOUND_SECONDS * 1000)
            page.goto(f"{server_url}/predict")
        uploads = [page.locator('input[type="file"]') for page in pages]
        for upload in uploads:
            upload.wait_for(state="attached")
        started = time.monotonic()
        for upload, (path, _) in zip(uploads, digits, strict=True):
            upload.set_input_files(str(path))
        for page, (path, expected) in zip(pages, digits, strict=True):
            heading = page.locator("h3").filter(has_text=re.compile(r"^Verdict: "))
            heading.first.wait_for()
            assert heading.all_inner_texts() == [f"Verdict: {expected}"], path.name
            assert page.locator('[data-testid="stException"]').count() == 0
            assert page.locator('[data-testid="stAlertContentError"]').count() == 0
        elapsed = time.monotonic() - started
        assert elapsed < BOUND_SECONDS, f"eight concurrent predictions took {elapsed:.1f} s"
    finally:
        for context in contexts:
            context.close()
