"""The real app in a real browser: `streamlit run` on a free port, headless Chromium.

Upload a digit on /predict and read the verdict; open a share link on /explore and get the
same view back; the Altair charts draw. The run store is empty: everything here runs on the
shipped demo run, as on a fresh copy.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from engine.analysis import confused_pairs
from engine.labels import activation
from engine.runs import RunStore

pytestmark = pytest.mark.browser

EXCEPTION = '[data-testid="stException"]'
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
PATIENCE_MS = 60_000  # a loaded machine (CI on two shared cores) can take this long to answer
# Counts the app's script runs that end after it is installed (each change of stApp's script
# state away from "running", read from the record, so quick runs are not missed): a click
# that reran the page is answered once the count rises, however slow the server is.
COUNT_RUNS = """() => {
  window.lmeRunsEnded = 0;
  new MutationObserver(records => {
    window.lmeRunsEnded += records.filter(r => r.oldValue === 'running').length;
  }).observe(document.querySelector('[data-testid="stApp"]'), {
    attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state'],
  });
}"""


def verdict_heading(page, expected: str):
    return page.locator("h3").filter(has_text=re.compile(rf"^Verdict: {re.escape(expected)}$"))


def slider_value(page) -> float:
    """The first slider's value, from its range input."""
    return float(page.locator('[data-testid="stSlider"] input[type="range"]').first.input_value())


def share_link(page) -> str:
    """Open the sidebar's "Share this view" expander and read the link."""
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_text("Share this view").click()
    code = sidebar.locator("code").first
    code.wait_for(state="visible")
    return code.inner_text().strip()


def demo_pair(threshold: float, rank: int) -> str:
    """The demo run's `rank`-th most confused pair at `threshold` (0: the page's default), as
    the `pair` parameter writes it: "a-b"."""
    demo = RunStore(include_demo=True).load_run("demo")
    ranked = confused_pairs(
        activation(demo.validation.logits, "multi-label"),
        demo.validation.targets,
        demo.class_names,
        threshold,
        top=15,
    )
    return f"{ranked['a'].iloc[rank]}-{ranked['b'].iloc[rank]}"


def test_upload_a_digit_on_predict_and_read_the_verdict(page, server_url, clear_digits):
    path, expected = clear_digits[7]
    page.goto(f"{server_url}/predict")
    page.locator('input[type="file"]').set_input_files(str(path))
    verdict_heading(page, expected).wait_for(timeout=60_000)
    assert page.get_by_text(path.name).count() >= 1
    # the sigmoid and softmax bar charts are drawn by vega-embed
    page.locator(".vega-embed canvas, .vega-embed svg").nth(1).wait_for()
    assert page.locator(EXCEPTION).count() == 0


def test_a_bad_upload_shows_the_message_and_the_page_keeps_working(page, server_url, clear_digits):
    path, expected = clear_digits[3]
    page.goto(f"{server_url}/predict")
    page.locator('input[type="file"]').set_input_files(
        [
            {"name": "notes.png", "mimeType": "image/png", "buffer": b"just some text\n" * 20},
            {"name": path.name, "mimeType": "image/png", "buffer": path.read_bytes()},
        ]
    )
    verdict_heading(page, expected).wait_for(timeout=60_000)
    page.get_by_text("notes.png is text, not an image").wait_for()
    assert page.locator(EXCEPTION).count() == 0


def test_a_share_link_opens_the_same_explore_view(page, server_url):
    pair = demo_pair(0.3, rank=1)  # not the default (first) pair
    a, b = pair.split("-")
    page.goto(f"{server_url}/explore?run=demo&threshold=0.3&pair={pair}")
    page.locator("h3").filter(has_text=f"{a} or {b}?").wait_for(timeout=60_000)
    assert slider_value(page) == pytest.approx(0.3)
    assert re.search(rf"pair={re.escape(pair)}", page.url)
    link = share_link(page)
    assert "/explore?" in link
    for part in ("run=demo", "threshold=0.3", f"pair={pair}"):
        assert part in link
    # heatmaps, scatter and per-class bars all render
    charts = page.locator(".vega-embed")
    charts.nth(4).wait_for()
    page.locator(".vega-embed canvas, .vega-embed svg").nth(4).wait_for()
    assert page.locator(EXCEPTION).count() == 0


def test_an_invalid_link_falls_back_with_a_notice(page, server_url):
    page.goto(f"{server_url}/explore?run=demo&threshold=banana")
    page.get_by_text("threshold='banana'").wait_for(timeout=60_000)
    assert slider_value(page) == pytest.approx(0.5)
    assert page.locator(EXCEPTION).count() == 0


def test_clicking_a_heatmap_cell_chooses_that_pair(page, server_url):
    page.goto(f"{server_url}/explore?run=demo")
    headings = page.locator("h3").filter(has_text=re.compile(r"^\S+ or \S+\?$"))
    headings.first.wait_for(timeout=60_000)
    first = headings.first.inner_text()
    heatmap = page.locator(".vega-embed").first.locator("canvas, svg").first
    heatmap.wait_for(timeout=PATIENCE_MS)
    page.locator(IDLE).wait_for(timeout=PATIENCE_MS)
    # Cells off the diagonal, in the plot area left of the legend, until one is a listed pair
    # other than the default (a well-trained run lists few pairs, so several may miss).
    shares = [0.2 + 0.1 * step for step in range(6)]
    cells = [(x, y) for x in shares for y in shares if abs(x - y) > 0.12]
    for x_share, y_share in cells:
        page.evaluate(COUNT_RUNS)
        # a click on the chart itself, once it stands still (Playwright checks both), so a
        # late layout shift cannot move it elsewhere
        box = heatmap.bounding_box()
        heatmap.click(
            position={"x": box["width"] * x_share, "y": box["height"] * y_share},
            timeout=PATIENCE_MS,
        )
        try:  # the rerun that click asked for, however long it takes
            page.wait_for_function("() => window.lmeRunsEnded > 0", timeout=PATIENCE_MS)
        except Exception:  # a Playwright timeout: that click asked for no rerun at all
            continue
        page.locator(IDLE).wait_for(timeout=PATIENCE_MS)
        headings = page.locator("h3").all_inner_texts()
        if "pair=" in page.url and any(
            re.search(r" or .+\?$", text) and text != first for text in headings
        ):
            break  # else it hit a diagonal or unlisted cell: try the next
    chosen = re.search(r"pair=([^&]+)", page.url).group(1)
    a, b = chosen.split("-")
    assert page.locator("h3").filter(has_text=f"{a} or {b}?").count() == 1
    assert f"{a} or {b}?" != first


def test_ticking_a_row_of_the_pair_table_chooses_that_pair(page, server_url):
    third = demo_pair(0.5, rank=2)
    page.goto(f"{server_url}/explore?run=demo")
    page.locator("h3").filter(has_text=re.compile(r"^\S+ or \S+\?$")).first.wait_for(
        timeout=PATIENCE_MS
    )
    # the charts above the table drawn and the page at rest, so the table stays where it is
    page.locator(".vega-embed canvas, .vega-embed svg").first.wait_for(timeout=PATIENCE_MS)
    page.locator(IDLE).wait_for(timeout=PATIENCE_MS)
    table = page.locator('[data-testid="stDataFrame"]').first
    table.locator("canvas").first.wait_for(timeout=PATIENCE_MS)
    row_height = 35  # Streamlit's default; the header row is as tall
    # a click on the table itself, once it stands still (Playwright checks both)
    table.click(position={"x": 15, "y": row_height * 3 + row_height / 2}, timeout=PATIENCE_MS)
    a, b = third.split("-")
    page.locator("h3").filter(has_text=f"{a} or {b}?").wait_for(timeout=PATIENCE_MS)
    page.wait_for_url(re.compile(rf"pair={re.escape(third)}"), timeout=PATIENCE_MS)


# Strokes in pad coordinates (0-1 of its side): a 1 (one down stroke) and a 7 (a bar, then a
# long diagonal), drawn with the real mouse.
DRAWN_DIGITS = {
    "1": [[(0.52, 0.18), (0.5, 0.5), (0.48, 0.82)]],
    "7": [[(0.28, 0.2), (0.5, 0.2), (0.72, 0.2)], [(0.72, 0.2), (0.6, 0.5), (0.46, 0.82)]],
}


def draw(page, strokes) -> None:
    canvas = page.locator("canvas[aria-label^='Drawing pad']")
    canvas.wait_for()
    box = canvas.bounding_box()
    for stroke in strokes:
        x, y = stroke[0]
        page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"])
        page.mouse.down()
        for x, y in stroke[1:]:
            page.mouse.move(box["x"] + x * box["width"], box["y"] + y * box["height"], steps=12)
        page.mouse.up()


def test_a_stroke_drawn_while_the_page_reruns_is_kept(page, server_url):
    """The 7's bar sets off a rerun; its stem is begun before that rerun redraws the page and
    finished after it: the verdict must be the 7's, not the bar's."""
    page.goto(f"{server_url}/predict")
    bar, stem = DRAWN_DIGITS["7"]
    draw(page, [bar])
    box = page.locator("canvas[aria-label^='Drawing pad']").bounding_box()

    def to(point):
        return box["x"] + point[0] * box["width"], box["y"] + point[1] * box["height"]

    page.mouse.move(*to(stem[0]))
    page.mouse.down()
    page.get_by_text("your drawing").first.wait_for(timeout=60_000)  # the bar was read
    for point in stem[1:]:
        page.mouse.move(*to(point), steps=12)
    page.mouse.up()
    verdict_heading(page, "7").wait_for(timeout=60_000)


@pytest.mark.parametrize("digit", sorted(DRAWN_DIGITS))
def test_a_digit_drawn_with_the_mouse_gets_its_verdict(page, server_url, digit):
    page.goto(f"{server_url}/predict")
    draw(page, DRAWN_DIGITS[digit])
    try:
        verdict_heading(page, digit).wait_for(timeout=60_000)
    except PlaywrightTimeoutError:
        shown = page.locator("h3").filter(has_text=re.compile(r"^Verdict")).all_inner_texts()
        raise AssertionError(f"drew a {digit}; the page shows {shown or 'no verdict'}") from None
    assert page.get_by_text("your drawing").count() >= 1
    assert page.locator(EXCEPTION).count() == 0
    # Clear empties the pad, and its reading goes with it.
    page.get_by_role("button", name="Clear the pad").click()
    page.get_by_text("Upload one or more images, draw a digit").wait_for(timeout=60_000)
    assert verdict_heading(page, digit).count() == 0
