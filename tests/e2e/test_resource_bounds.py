"""Resource bounds under hostile uploads, on a server of its own: three visitors upload a
154 KB transparent 6300 x 6300 PNG to Predict at once, then one uploads a 0.8 MB zip of 1,200
of them to Data. The server's peak memory (VmHWM, read from /proc) stays under
PEAK_BOUND_MB, every upload gets its answer, and the app still answers afterwards."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from bench.server import streamlit_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PEAK_BOUND_MB = 1500
VISITORS = 3
ZIP_IMAGES = 1200
SIDE = 6300


def peak_mb(pid: int) -> float:
    """The process's peak resident memory so far (Linux), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmHWM in /proc status")


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("hostile")
    png = folder / "clear.png"
    buffer = io.BytesIO()
    Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0)).save(buffer, format="PNG")
    png.write_bytes(buffer.getvalue())
    archive = folder / "huge-canvases.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for index in range(ZIP_IMAGES):
            handle.writestr(f"{'ab'[index % 2]}/{index}.png", buffer.getvalue())
    return png, archive


@pytest.fixture(scope="module")
def own_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A server for this test alone, so its peak memory is this test's: (url, pid)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("peak memory is read from /proc (Linux)")
    folder = tmp_path_factory.mktemp("bounds-server")
    with streamlit_server(folder / "runs", folder / "streamlit.log") as server:
        yield server


def test_hostile_uploads_keep_the_server_within_its_memory_bound(
    browser, own_server, hostile_files
) -> None:
    url, pid = own_server
    png, archive = hostile_files
    contexts = [browser.new_context(viewport={"width": 1400, "height": 1000}) for _ in range(4)]
    try:
        pages = [context.new_page() for context in contexts]
        for page in pages:
            page.set_default_timeout(120_000)
        for page in pages[:VISITORS]:
            page.goto(f"{url}/predict")
            page.locator('input[type="file"]').wait_for(state="attached")
        before = peak_mb(pid)  # three Predict pages open, the demo run loaded
        for page in pages[:VISITORS]:  # the three uploads go in before any answer comes
            page.locator('input[type="file"]').set_input_files(str(png))
        for page in pages[:VISITORS]:
            page.locator("h3").filter(has_text="Verdict:").first.wait_for()
            assert page.locator('[data-testid="stException"]').count() == 0

        data = pages[VISITORS]
        data.goto(f"{url}/data?dataset=upload+a+.zip")
        data.locator('input[type="file"]').set_input_files(str(archive))
        data.get_by_text("megapixels as decoded").wait_for()

        peak = peak_mb(pid)
        assert peak < PEAK_BOUND_MB, f"server peak {peak:.0f} MB"
        print(f"server peak memory: {before:.0f} MB before the uploads, {peak:.0f} MB after")

        home = pages[0]  # still answering
        home.goto(url)
        home.get_by_text("Label Mode Explorer").first.wait_for()
    finally:
        for context in contexts:
            context.close()
