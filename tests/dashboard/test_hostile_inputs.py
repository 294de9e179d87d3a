"""Odd data and hostile visitors on the dashboard: every analysis page and `analyze` work with
2, 3 and many classes; class, file and run names are shown as plain text, never as Markdown;
a damaged run never ends in an exception box; a repeated link parameter gets the usual notice;
and Predict reads a bounded number of bytes per run."""

from __future__ import annotations

import contextlib
import io
import re
import shutil
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import torch

from dashboard import session
from engine.cli import main
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.datasets.registry import MAX_CLASSES
from engine.pipeline import train_run
from engine.runs import RunStore
from tests.dashboard.conftest import texts

HOSTILE_NAMES = ("[Log in again here](http://evil.example)", "**bold** :red[alarm]", "plain")
MARKDOWN_KINDS = ("markdown", "caption", "subheader", "title", "error", "warning", "info")
PAGES = ("views/explore.py", "views/predict.py", "views/compare.py")


def grid_split(names: tuple[str, ...], per_class: int = 8) -> DatasetSplit:
    """Class k is a bright 6x6 block in cell k of a 4x4 grid on noise (noise alone beyond 16
    classes)."""
    generator = torch.Generator().manual_seed(len(names))

    def make(count: int) -> ImageDataset:
        targets = torch.arange(len(names)).repeat_interleave(count)
        images = torch.randint(0, 60, (len(targets), 1, 28, 28), generator=generator)
        for index, label in enumerate(targets.tolist()):
            if len(names) > 16:  # more classes than cells: noise alone will do
                break
            top, left = 7 * (label // 4), 7 * (label % 4)
            images[index, 0, top : top + 6, left : left + 6] = 255
        return ImageDataset(images.to(torch.uint8), targets, names)

    return DatasetSplit("grid", make(per_class), make(per_class // 2), preprocess="digit")


@cache
def class_count_runs() -> tuple[Path, dict[str, str]]:
    """A store with one tiny run per case: 2 classes, 3 (with hostile names), 12, and the
    most a dataset may have (MAX_CLASSES), where every pair analysis must stay quick."""
    import atexit
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="lme-class-counts-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    store = RunStore(root)
    cases = {
        "2 classes": ("cat", "dog"),
        "3 hostile names": HOSTILE_NAMES,
        "12 classes": tuple(f"class {k}" for k in range(12)),
        f"{MAX_CLASSES} classes": tuple(f"c{k}" for k in range(MAX_CLASSES)),  # the most allowed
    }
    ids = {}
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for case, names in cases.items():
            config = RunConfig().with_changes(epochs=1, batch_size=8, device="cpu", cpu_threads=1)
            ids[case] = train_run(config, store, split=grid_split(names))
    finally:
        torch.set_num_threads(threads)
    return root, ids


@pytest.fixture
def store(runs_dir: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, dict[str, str]]:
    root, ids = class_count_runs()
    monkeypatch.setenv("LME_RUNS_DIR", str(root))
    return root, ids


def markdown_texts(app) -> list[str]:
    return [text for kind in MARKDOWN_KINDS for text in texts(app, kind)]


@pytest.mark.parametrize(
    "case", ["2 classes", "3 hostile names", "12 classes", f"{MAX_CLASSES} classes"]
)
@pytest.mark.slow
def test_every_analysis_page_and_analyze_work_whatever_the_class_count(
    case: str, store, open_page
) -> None:
    root, ids = store
    for page in PAGES:
        app = open_page(page, run=ids[case])
        assert not app.exception, (page, [e.value for e in app.exception])
        assert not app.error, (page, texts(app, "error"))
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        assert main(["analyze", ids[case], "--json", "--runs-dir", str(root)]) == 0, err.getvalue()


@pytest.mark.slow
def test_class_and_file_names_are_shown_as_plain_text(store, open_page) -> None:
    _, ids = store
    explore = open_page("views/explore.py", run=ids["3 hostile names"])
    predict = open_page("views/predict.py", run=ids["3 hostile names"])
    image = io.BytesIO()
    from PIL import Image

    Image.fromarray(np.full((28, 28), 200, dtype=np.uint8)).save(image, format="PNG")
    hostile_file = "[click me](http://evil.example).png"
    predict.file_uploader[0].set_value([(hostile_file, image.getvalue(), "image/png")]).run()
    assert not explore.exception and not predict.exception
    shown = markdown_texts(explore) + markdown_texts(predict)
    # the names do appear (escaped), and never as live Markdown
    assert any("Log in again here" in text for text in shown)
    assert any("click me" in text for text in shown)
    live = re.compile(r"(?<!\\)\]\(|(?<!\\)\*\*bold|:red\[|http://")  # unescaped syntax
    for text in shown:
        assert not live.search(text), text


def damaged_copy(root: Path, run_id: str, target: Path) -> str:
    """A copy of a complete run whose validation logits are NaN: run.json still says
    complete; the store must list it as damaged."""
    folder = target / f"{run_id}-nan"
    shutil.copytree(root / run_id, folder)
    with np.load(folder / "validation.npz") as saved:
        arrays = {name: saved[name] for name in saved.files}
    arrays["logits"] = np.full_like(arrays["logits"], np.nan)
    np.savez_compressed(folder / "validation.npz", **arrays)
    return folder.name


@pytest.mark.slow
def test_a_damaged_run_never_ends_in_an_exception_box(
    store, open_page, runs_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, ids = store
    runs_dir.mkdir(parents=True, exist_ok=True)
    damaged = damaged_copy(root, ids["2 classes"], runs_dir)
    monkeypatch.setenv("LME_RUNS_DIR", str(runs_dir))
    [summary] = [s for s in RunStore(runs_dir).list_runs() if s.id == damaged]
    assert summary.status == "damaged" and "NaN" in summary.problem
    for page in ("views/explore.py", "views/predict.py"):
        app = open_page(page, run=damaged)
        assert not app.exception, [e.value for e in app.exception]
        assert any("run=" in text and damaged in text for text in texts(app, "warning"))


@pytest.mark.slow
def test_a_repeated_link_parameter_gets_the_usual_notice(store, open_page) -> None:
    _, ids = store
    app = open_page("views/explore.py", run=ids["2 classes"], threshold=["0.3", "0.9"])
    assert not app.exception
    [notice] = [text for text in texts(app, "warning") if "threshold" in text]
    assert "0.3 and 0.9" in notice and "give it once" in notice


@pytest.mark.slow
def test_predict_reads_a_bounded_number_of_bytes_per_run(store, open_page) -> None:
    """Five 9 MB files (a phone's photos): the first four fit the 40 MB a reading takes."""
    _, ids = store
    size = 9 * 1024 * 1024
    assert 4 * size <= session.PREDICT_MAX_BYTES < 5 * size
    files = [(f"big-{k}.bin", bytes([k]) * size, "image/png") for k in range(5)]
    app = open_page("views/predict.py", run=ids["2 classes"])
    app.file_uploader[0].set_value(files).run()
    assert not app.exception
    [warning] = [text for text in texts(app, "warning") if "files were chosen" in text]
    assert "only the first 4 are read" in warning
    assert len(texts(app, "error")) == 4  # each one read is answered (here: not an image)
    assert not any("big-4" in text for text in markdown_texts(app))


def test_a_bad_upload_is_named_as_the_visitor_named_it(open_page, tmp_path: Path) -> None:
    """No hashed upload name, no server folder: the message names the visitor's own file."""
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as handle:
        handle.writestr("cats/a.png", b"not even an image")
    app = open_page("views/data.py", dataset=session.UPLOAD_CHOICE)
    app.file_uploader[0].set_value([("my pets.zip", archive.getvalue(), "application/zip")]).run()
    assert not app.exception
    [message] = texts(app, "error")
    assert "my pets.zip" in message and "1 class sub-folder" in message
    assert "/tmp" not in message and "lme-zip" not in message and "uploads" not in message


def test_a_missing_dataset_asks_a_visitor_for_nothing_they_cannot_do(
    open_page, runs_dir: Path
) -> None:
    """No server folder, no request to put files on the server: a choice the visitor has."""
    app = open_page("views/data.py", dataset="kmnist")  # not shipped: the full MNIST is
    assert not app.exception
    [message] = texts(app, "error")
    assert "not on this server" in message and "mnist-5k" in message
    assert str(runs_dir.parent) not in message and "LME_DATA_DIR" not in message
    assert not any("LME_DATA_DIR" in text for text in texts(app, "caption"))
