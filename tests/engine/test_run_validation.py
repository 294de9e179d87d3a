"""Crafted run folders: every field and file the store reads is checked before it is used.

Each case takes a real saved run, damages one thing the way a hostile or careless hand would,
and checks the three promises: the run lists as damaged with the reason, `predict` and
`analyze` on it end in one `error:` line with exit status 2, and memory stays bounded (the
cases that once allocated gigabytes run in a child process whose peak is measured).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import main
from engine.config import RunConfig
from engine.pipeline import train_run
from engine.runs import RunStore
from tests.engine.child_peak import run_child
from tests.engine.synthetic import blocks_split

PEAK_MEMORY_BOUND_MB = 900  # a `predict` child process: torch itself is about 350 MB


@pytest.fixture(scope="module")
def good_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real, tiny, complete run folder (cnn, 3 classes, one epoch)."""
    store = RunStore(tmp_path_factory.mktemp("good"), include_demo=False)
    config = RunConfig().with_changes(epochs=1, batch_size=8, device="cpu", cpu_threads=1)
    run_id = train_run(config, store, split=blocks_split())
    return store.root / run_id


@pytest.fixture(scope="module")
def image_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("images") / "digit.png"
    Image.new("L", (28, 28), 30).save(path)
    return path


def edit_record(**changes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        record = json.loads((folder / "run.json").read_text())
        record.update(changes)
        (folder / "run.json").write_text(json.dumps(record, allow_nan=True))

    return edit


def rewrite_arrays(**changes) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        with np.load(folder / "validation.npz") as saved:
            arrays = {name: saved[name] for name in saved.files}
        arrays.update({k: v(arrays[k]) if callable(v) else v for k, v in changes.items()})
        np.savez_compressed(folder / "validation.npz", **arrays)

    return edit


def npz_bomb(folder: Path) -> None:
    """A validation.npz of a few KB whose images claim 20 GB (the header is all it takes)."""
    with np.load(folder / "validation.npz") as saved:
        arrays = {name: saved[name] for name in saved.files}
    with zipfile.ZipFile(folder / "validation.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("logits", "targets"):
            with archive.open(f"{name}.npy", "w") as member:
                np.lib.format.write_array(member, arrays[name])
        with archive.open("images.npy", "w") as member:
            header = {"descr": "|u1", "fortran_order": False, "shape": (25_000_000, 1, 28, 28)}
            np.lib.format.write_array_header_1_0(member, header)
            member.write(bytes(4096))


def fifo_run_json(folder: Path) -> None:
    (folder / "run.json").unlink()
    os.mkfifo(folder / "run.json")


def nan_metrics(folder: Path) -> None:
    (folder / "metrics.json").write_text('[{"epoch": 1, "train_loss": NaN}]')


# case -> (damage, words the reason contains)
CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "huge image shape": (edit_record(image_shape=[3, 100_000, 100_000]), "image shape"),
    "seven channels": (edit_record(image_shape=[7, 28, 28]), "image shape"),
    "too many classes": (edit_record(class_names=[f"c{i}" for i in range(5000)]), "classes"),
    "class names twice": (edit_record(class_names=["0", "0", "1"]), "twice"),
    "unknown preprocessing style": (edit_record(preprocess="sepia"), "preprocessing style"),
    "std of zero": (
        edit_record(normalization={"mean": [0.1], "std": [0.0]}),
        "standard deviation",
    ),
    "std NaN": (
        edit_record(normalization={"mean": [0.1], "std": [float("nan")]}),
        "finite",
    ),
    "NaN logits": (rewrite_arrays(logits=lambda a: np.full_like(a, np.nan)), "NaN"),
    "logits of integers": (rewrite_arrays(logits=lambda a: a.astype(np.int64)), "logits"),
    "images of floats": (rewrite_arrays(images=lambda a: a.astype(np.float32)), "images"),
    "target out of range": (rewrite_arrays(targets=lambda a: a + 7), "class index"),
    "decompression bomb": (npz_bomb, "limit"),
    "metrics NaN": (nan_metrics, "non-finite"),
    "run.json is a FIFO": (fifo_run_json, "regular file"),
}


@pytest.fixture(params=sorted(CASES))
def crafted(request: pytest.FixtureRequest, good_run: Path, tmp_path: Path) -> tuple[Path, str]:
    """(runs dir holding the damaged run, words its reason must contain)."""
    damage, reason = CASES[request.param]
    folder = tmp_path / "runs" / good_run.name
    shutil.copytree(good_run, folder)
    damage(folder)
    return tmp_path / "runs", reason


def cli(*args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = main(list(args))
    return status, out.getvalue(), err.getvalue()


def test_a_crafted_run_lists_as_damaged_with_the_reason(crafted: tuple[Path, str]) -> None:
    runs_dir, reason = crafted
    [summary] = RunStore(runs_dir, include_demo=False).list_runs()
    assert summary.status == "damaged"
    assert reason.lower() in summary.problem.lower()


def test_predict_and_analyze_on_a_crafted_run_are_one_error_line(
    crafted: tuple[Path, str], image_file: Path
) -> None:
    runs_dir, _ = crafted
    [run_id] = [p.name for p in runs_dir.iterdir()]
    for command in (["predict", run_id, str(image_file)], ["analyze", run_id]):
        status, out, err = cli(*command, "--runs-dir", str(runs_dir))
        assert status == 2, (command, out, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), err
        assert "damaged" in lines[0] or "no run.json" in lines[0]
        assert str(runs_dir) not in lines[0]  # no server path in the message


def test_runs_json_lists_a_fifo_run_without_hanging(good_run: Path, tmp_path: Path) -> None:
    folder = tmp_path / good_run.name
    shutil.copytree(good_run, folder)
    fifo_run_json(folder)
    status, out, _ = cli("runs", "--json", "--runs-dir", str(tmp_path))
    assert status == 0
    [listed] = [run for run in json.loads(out) if run["id"] == good_run.name]
    assert listed["status"] == "damaged"


@pytest.mark.slow
@pytest.mark.parametrize("case", ["huge image shape", "decompression bomb"])
def test_crafted_runs_cost_bounded_memory(
    case: str, good_run: Path, image_file: Path, tmp_path: Path
) -> None:
    """The two crafted runs that made `predict` reach 20 GB now end within a small bound."""
    if not Path("/proc/self/status").exists():
        pytest.skip("the peak is read from /proc (Linux)")
    folder = tmp_path / good_run.name
    shutil.copytree(good_run, folder)
    CASES[case][0](folder)
    script = (
        "import sys\n"
        "from engine.cli import main\n"
        "status = main(sys.argv[1:])\n"
        "print(f'peak_mb={peak_mb()}')\n"
        "sys.exit(status)\n"
    )
    for command in (["predict", good_run.name, str(image_file)], ["analyze", good_run.name]):
        result = run_child(script, *command, "--runs-dir", str(tmp_path))
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ")
        peak = int(result.stdout.split("peak_mb=")[1])
        assert peak < PEAK_MEMORY_BOUND_MB, (command, peak)


def test_an_intact_run_still_loads_and_predicts(good_run: Path, image_file: Path) -> None:
    status, out, err = cli(
        "predict", good_run.name, str(image_file), "--json", "--runs-dir", str(good_run.parent)
    )
    assert status == 0, err
    assert len(json.loads(out)[0]["sigmoid"]) == 3
