"""Decoding memory is bounded, not only pixels: a 154 KB transparent 6300 x 6300 PNG (under
the 40 MP limit) once lifted a process by 2.1 GB while it was decoded and flattened; a zip of
such images kept a server decoding for an hour. The peaks are measured in a child process."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from engine.config import DataConfig
from engine.datasets.folders import MAX_DATASET_PIXELS
from engine.datasets.loading import load_dataset
from engine.errors import DatasetError
from engine.images import decode_image
from tests.engine.child_peak import run_child

SIDE = 6300
DECODE_BOUND_MB = 450  # above the process's size before the decode: decoded pixels + one copy


@pytest.fixture(scope="module")
def huge_canvas(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("canvas") / "clear.png"
    Image.new("RGBA", (SIDE, SIDE), (0, 0, 0, 0)).save(path)
    return path


@pytest.mark.slow
def test_a_huge_transparent_canvas_decodes_within_a_memory_bound(huge_canvas: Path) -> None:
    if not Path("/proc/self/status").exists():
        pytest.skip("the peak is read from /proc (Linux)")
    script = (
        "import sys\n"
        "from engine.images import decode_image, preprocess\n"
        "data = open(sys.argv[1], 'rb').read()\n"
        "before = peak_mb()\n"
        "image = decode_image(data, 'clear.png')\n"
        "preprocess(image, 'digit', (1, 28, 28))\n"
        "print(peak_mb() - before, before, image.size[0], image.size[1])\n"
    )
    result = run_child(script, str(huge_canvas))
    assert result.returncode == 0, result.stderr
    rise, before, width, height = (int(value) for value in result.stdout.split())
    assert (width, height) == (1024, 1024)
    assert before > 100  # torch and the engine are in: the rise is the decode's alone
    assert rise < DECODE_BOUND_MB, f"decoding raised the peak by {rise} MB"


@pytest.mark.slow
def test_transparency_survives_the_shrinking(huge_canvas: Path) -> None:
    """Premultiplied averaging: a dark digit drawn only in alpha stays dark on white."""
    image = Image.new("RGBA", (4096, 4096), (0, 0, 0, 0))
    image.paste((0, 0, 0, 255), (1800, 800, 2300, 3300))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    decoded = decode_image(buffer.getvalue(), "alpha-digit.png")
    assert max(decoded.size) == 1024
    gray = decoded.convert("L")
    assert gray.getpixel((10, 10)) == 255  # the background is white
    assert gray.getpixel((512, 512)) < 20  # the stroke is black


@pytest.mark.slow
def test_a_zip_of_huge_canvases_is_refused_before_any_decoding(
    huge_canvas: Path, tmp_path: Path
) -> None:
    count = MAX_DATASET_PIXELS // (SIDE * SIDE) + 2
    archive = tmp_path / "canvases.zip"
    data = huge_canvas.read_bytes()
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as handle:
        for index in range(count):
            handle.writestr(f"{'ab'[index % 2]}/{index}.png", data)
    with pytest.raises(DatasetError, match="megapixels as decoded") as error:
        load_dataset(DataConfig(dataset=f"zip:{archive}"))
    assert "lme-zip-" not in str(error.value) and "canvases.zip" in str(error.value)


def test_a_dataset_with_too_many_classes_is_refused(tmp_path: Path) -> None:
    from engine.datasets.registry import MAX_CLASSES

    buffer = io.BytesIO()
    Image.new("L", (8, 8), 0).save(buffer, format="PNG")
    for index in range(MAX_CLASSES + 1):
        folder = tmp_path / f"class-{index}"
        folder.mkdir()
        (folder / "a.png").write_bytes(buffer.getvalue())
    with pytest.raises(DatasetError, match=f"the limit is {MAX_CLASSES}"):
        load_dataset(DataConfig(dataset=f"folder:{tmp_path}"))
