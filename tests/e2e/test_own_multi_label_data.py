"""Bring your own multi-label data, in a real browser: upload a PASCAL-style zip (images and a
train.csv of space-separated labels) on Data, train it multi-label on Train, and open the run
on Explore, which shows per-class metrics and the threshold curve."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from dashboard import session
from tests.engine.labelled_data import zip_bytes

pytestmark = pytest.mark.browser
EXCEPTION = '[data-testid="stException"]'


def test_upload_a_pascal_style_zip_train_it_and_explore_it(page, server_url):
    page.goto(f"{server_url}/data?dataset={quote(session.UPLOAD_CHOICE)}")
    page.locator('input[type="file"]').set_input_files(
        {"name": "pascal.zip", "mimeType": "application/zip", "buffer": zip_bytes(count=48)}
    )
    page.get_by_text("Uploaded: pascal.zip").wait_for(timeout=60_000)
    page.get_by_text("Sample images, with their label sets").wait_for()
    page.get_by_text("Images carry any number of labels").wait_for()
    assert page.locator(EXCEPTION).count() == 0

    # In-app navigation keeps the session, and with it the upload.
    page.locator('[data-testid="stSidebarNav"]').get_by_text("Train", exact=True).click()
    page.get_by_text("Start training").wait_for(timeout=60_000)
    page.locator('[data-testid="stSelectbox"]').first.click()
    page.get_by_role("option", name="pascal.zip").click()
    epochs = page.get_by_label("Epochs")
    epochs.fill("3")
    epochs.press("Enter")
    page.get_by_role("button", name=re.compile("Start training")).click()
    page.get_by_text(re.compile(r"^Done: 3 epochs")).wait_for(timeout=180_000)
    # multi-label metrics; they stream in just after the "Done" line, so wait for them
    page.get_by_text("Exact match").first.wait_for(timeout=30_000)
    page.get_by_role("button", name=re.compile("Explore this run")).click()

    page.locator("h3").filter(has_text="Choosing the threshold").wait_for(timeout=60_000)
    # the chosen pair is two of the CSV's classes: this is the run just trained
    page.locator("h3").filter(
        has_text=re.compile(r"^(cat|dog|person) or (dog|person)\?$")
    ).wait_for()
    page.get_by_text(re.compile(r"^Best macro F1 \d\.\d{3} at 0\.\d\d")).wait_for()
    page.get_by_text("One threshold per class, scored honestly").wait_for()
    page.get_by_text(re.compile(r"half of the validation images \(6\)")).wait_for()
    # the per-class table: one row per class of the CSV
    per_class = page.locator('[data-testid="stDataFrame"]').filter(has_text="tuned threshold")
    per_class.first.wait_for()
    for name in ("cat", "dog", "person"):
        assert per_class.first.get_by_text(name, exact=True).count() >= 1
    # the threshold curve renders, as every other chart on the page
    page.locator("h3").filter(has_text="Choosing the threshold").scroll_into_view_if_needed()
    charts = page.locator(".vega-embed")
    charts.last.scroll_into_view_if_needed()
    charts.last.locator("canvas, svg").first.wait_for()
    assert page.locator(EXCEPTION).count() == 0


def test_home_to_the_forums_error_reproduced_live_in_one_click(page, server_url):
    page.goto(server_url)
    page.get_by_text("Why the error? Reproduce it with your data").click()
    page.get_by_text(
        "ValueError: Target size (torch.Size([64])) must be the same as input size "
        "(torch.Size([640]))"
    ).wait_for(timeout=60_000)
    page.get_by_text(re.compile(r"the fix is the targets \(one-hot\), not the head")).wait_for()
    batch = page.get_by_label("Batch size", exact=True)
    batch.fill("16")
    batch.press("Enter")
    page.get_by_text(
        "ValueError: Target size (torch.Size([16])) must be the same as input size "
        "(torch.Size([160]))"
    ).wait_for(timeout=60_000)
    page.locator("h3").filter(
        has_text="1. Can a multi-class dataset be trained with BCE?"
    ).wait_for()
    assert page.locator(EXCEPTION).count() == 0
