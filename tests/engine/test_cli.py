"""The command line contract: `train` ends with `run: ID`, `runs --json` has the promised
fields, and every user-caused failure is one `error:` line with exit status 2."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from engine.cli import main

REPO_ROOT = Path(__file__).resolve().parents[2]
TINY_TRAIN = ["--dataset", "mnist-5k", "--epochs", "1", "--limit", "300", "--device", "cpu"]


def run_cli(*args: str, runs_dir: Path) -> subprocess.CompletedProcess[str]:
    """The real `python -m engine`, as a script would call it."""
    env = {**os.environ, "LME_RUNS_DIR": str(runs_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, "-m", "engine", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """One tiny multi-label run made by the real command: (runs dir, run id, stdout)."""
    runs_dir = tmp_path_factory.mktemp("runs")
    result = run_cli("train", "--mode", "multi-label", *TINY_TRAIN, runs_dir=runs_dir)
    assert result.returncode == 0, result.stderr
    last_line = result.stdout.strip().splitlines()[-1]
    assert last_line.startswith("run: ")
    return runs_dir, last_line.removeprefix("run: "), result.stdout


@pytest.mark.slow
def test_train_prints_epoch_metrics_then_run_id_last(trained: tuple[Path, str, str]) -> None:
    runs_dir, run_id, stdout = trained
    lines = stdout.strip().splitlines()
    assert lines[-1] == f"run: {run_id}"
    assert lines[-2].startswith("epoch 1/1") and "val_accuracy" in lines[-2]
    assert (runs_dir / run_id / "weights.pt").is_file()


@pytest.mark.slow
def test_runs_json_has_the_contract_fields(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    runs_dir, run_id, _ = trained
    assert main(["runs", "--json", "--runs-dir", str(runs_dir)]) == 0
    listed = json.loads(capsys.readouterr().out)
    mine = next(run for run in listed if run["id"] == run_id)
    assert mine["dataset"] == "mnist-5k"
    assert mine["mode"] == "multi-label"
    assert mine["model"] == "cnn"
    assert mine["epochs"] == 1
    assert mine["status"] == "complete"
    for name in ("val_accuracy", "val_loss", "train_loss", "val_accuracy_multi"):
        assert 0.0 <= mine["metrics"][name] < 10.0, name
    assert 0.0 <= mine["metrics"]["val_accuracy"] <= 1.0
    ids = [run["id"] for run in listed]
    assert ids[-3:] == ["demo", "demo-softmax", "demo-pairs"]  # the shipped demos come last


@pytest.mark.slow
def test_runs_table_lists_the_run(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    runs_dir, run_id, _ = trained
    assert main(["runs", "--runs-dir", str(runs_dir)]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["id", "status"]
    row = next(line for line in table if line.startswith(run_id))
    assert row.split()[1:6] == ["complete", "mnist-5k", "multi-label", "cnn", "1/1"]


@pytest.mark.slow
def test_runs_dir_from_environment(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    runs_dir, run_id, _ = trained
    monkeypatch.setenv("LME_RUNS_DIR", str(runs_dir))
    assert main(["runs", "--json"]) == 0
    assert run_id in [run["id"] for run in json.loads(capsys.readouterr().out)]


def digit_png(path: Path) -> Path:
    """A white-on-black vertical stroke: something like a 1."""
    canvas = np.zeros((28, 28), dtype=np.uint8)
    canvas[4:24, 13:16] = 255
    Image.fromarray(canvas).save(path)
    return path


@pytest.mark.slow
def test_predict_json_per_image(
    trained: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs_dir, run_id, _ = trained
    first, second = digit_png(tmp_path / "one.png"), digit_png(tmp_path / "two.png")
    status = main(
        ["predict", run_id, str(first), str(second), "--json", "--runs-dir", str(runs_dir)]
    )
    assert status == 0
    predictions = json.loads(capsys.readouterr().out)
    assert [p["file"] for p in predictions] == [str(first), str(second)]
    for prediction in predictions:
        assert prediction["classes"] == [str(d) for d in range(10)]
        assert len(prediction["sigmoid"]) == len(prediction["softmax"]) == 10
        assert sum(prediction["softmax"]) == pytest.approx(1.0, abs=1e-4)
        assert all(0.0 <= p <= 1.0 for p in prediction["sigmoid"])
        scores = zip(prediction["classes"], prediction["sigmoid"], strict=True)
        passing = [name for name, score in scores if score >= 0.5]
        assert prediction["verdict"] == passing


@pytest.mark.slow
def test_predict_threshold_changes_the_verdict(
    trained: tuple[Path, str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs_dir, run_id, _ = trained
    image = str(digit_png(tmp_path / "one.png"))
    args = ["predict", run_id, image, "--json", "--runs-dir", str(runs_dir)]
    assert main(args) == 0
    sigmoid = json.loads(capsys.readouterr().out)[0]["sigmoid"]
    assert main([*args, "--threshold", str(min(sigmoid) / 2)]) == 0
    assert len(json.loads(capsys.readouterr().out)[0]["verdict"]) == 10
    assert main([*args, "--threshold", str((max(sigmoid) + 1) / 2)]) == 0
    assert json.loads(capsys.readouterr().out)[0]["verdict"] == []


@pytest.mark.slow
def test_analyze_json(trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]) -> None:
    runs_dir, run_id, _ = trained
    assert main(["analyze", run_id, "--json", "--runs-dir", str(runs_dir)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"pairs", "both_count", "neither_count", "metrics"} <= set(report)
    assert main(["analyze", run_id, "--runs-dir", str(runs_dir)]) == 0
    assert capsys.readouterr().out.strip()


@pytest.mark.slow
def test_analyze_compares_a_softmax_run_with_a_sigmoid_run(
    trained: tuple[Path, str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    runs_dir, sigmoid_run, _ = trained
    where = ["--runs-dir", str(runs_dir)]
    assert main(["train", "--mode", "multi-class", *TINY_TRAIN, "--quiet", *where]) == 0
    softmax_run = capsys.readouterr().out.strip().splitlines()[-1].removeprefix("run: ")
    assert softmax_run != sigmoid_run
    status = main(["analyze", sigmoid_run, "--compare", softmax_run, "--json", *where])
    assert status == 0
    assert "readings" in json.loads(capsys.readouterr().out)
    status = main(["analyze", sigmoid_run, "--compare", sigmoid_run, *where])
    assert status == 2
    assert "multi-class" in capsys.readouterr().err


@pytest.mark.slow
def test_train_on_the_full_mnist_offline_with_augmentation(tmp_path: Path) -> None:
    """The shipped MNIST, extracted into an empty data root with no network; validation is
    MNIST's test set (a limit keeps both parts in proportion: 60,000 to 10,000)."""
    env_root = tmp_path / "data"
    args = ["--epochs", "1", "--limit", "350", "--device", "cpu", "--cpu-threads", "1"]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "engine",
            "train",
            "--dataset",
            "mnist",
            "--mode",
            "multi-label",
            "--augment",
            *args,
        ],
        cwd=REPO_ROOT,
        env={**os.environ, "LME_RUNS_DIR": str(tmp_path / "runs"), "LME_DATA_DIR": str(env_root)},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    assert (env_root / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file()
    run_id = result.stdout.strip().splitlines()[-1].removeprefix("run: ")
    record = json.loads((tmp_path / "runs" / run_id / "run.json").read_text())
    assert record["config"]["data"]["dataset"] == "mnist"
    assert record["config"]["train"]["augment"] is True
    assert (record["train_size"], record["valid_size"]) == (300, 50)


def test_train_names_the_files_it_skipped_in_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for name, shade in (("ants", 40), ("bees", 210)):
        (tmp_path / "pets" / name).mkdir(parents=True)
        for number in range(4):
            picture = Image.new("L", (12, 12), shade + number)
            picture.save(tmp_path / "pets" / name / f"{number}.png")
    (tmp_path / "pets" / "bees" / "notes.txt").write_text("not an image")
    arguments = ["train", "--dataset", f"folder:{tmp_path / 'pets'}", "--model", "mlp"]
    arguments += ["--epochs", "1", "--device", "cpu", "--runs-dir", str(tmp_path / "runs")]
    assert main(arguments) == 0
    out, err = capsys.readouterr()
    # (a run this tiny may also end with the warning that it stayed at chance)
    [warning] = [line for line in err.splitlines() if line.startswith("warning: skipped")]
    assert "skipped 1 file" in warning and "bees/notes.txt" in warning
    assert str(tmp_path) not in warning  # names inside the folder, never the server's path
    assert out.strip().splitlines()[-1].startswith("run: ")


def test_datasets_and_models_listings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["datasets", "--json"]) == 0
    infos = json.loads(capsys.readouterr().out)
    names = [info["name"] for info in infos]
    assert names[0] == "mnist-5k"
    offline = {info["name"] for info in infos if info["offline"]}
    assert offline == {"mnist-5k", "two-digits", "mnist"}  # the full MNIST ships too
    assert main(["datasets"]) == 0
    assert re.search(r"^mnist\s+yes\s", capsys.readouterr().out, re.MULTILINE)
    assert main(["models", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0] == "cnn"


@pytest.mark.slow
def test_teach_none_compares_without_and_with_all_zero_examples(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["teach-none", "--limit", "300", "--epochs", "1", "--device", "cpu"]
    assert main([*args, "--none-examples", "50", "--hold-out", "letters", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert [row["model"] for row in report["results"]] == ["without", "with"]
    assert [row["none_examples"] for row in report["results"]] == [0, 50]
    assert report["held_out_kinds"] == ["letters"]
    assert report["per_kind"]["letters"]["taught"] is False
    assert report["per_kind"]["noise"]["taught"] is True
    assert "On letters, a kind it was never shown as 'none'" in report["explanation"]


# ---------------------------------------------------------------------------------------------
# user-caused failures: exit 2, one error line, no traceback


def cli(*args: str) -> tuple[int, str, str]:
    """`main` in this process (no torch start-up per call): status, stdout, stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exit:  # argparse's usage errors
            status = int(exit.code or 0)
    return status, out.getvalue(), err.getvalue()


def assert_one_error_line(status: int, stderr: str, *fragments: str) -> None:
    assert status == 2, stderr
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.slow
def test_unknown_dataset_is_one_error_line_from_the_real_command(tmp_path: Path) -> None:
    result = run_cli("train", "--dataset", "no-such-set", "--epochs", "1", runs_dir=tmp_path)
    assert result.stdout == ""
    assert_one_error_line(result.returncode, result.stderr, "unknown dataset 'no-such-set'")
    assert not any(tmp_path.iterdir())


def test_unknown_run_is_one_error_line(tmp_path: Path) -> None:
    image = str(digit_png(tmp_path / "one.png"))
    status, _, err = cli("predict", "no-such-run", image, "--runs-dir", str(tmp_path))
    assert_one_error_line(status, err, "unknown run 'no-such-run'", "python -m engine runs")
    status, _, err = cli("analyze", "no-such-run", "--runs-dir", str(tmp_path))
    assert_one_error_line(status, err, "unknown run 'no-such-run'")
    status, _, err = cli("predict", "../etc", image, "--runs-dir", str(tmp_path))
    assert_one_error_line(status, err, "not a run id")


@pytest.mark.slow
def test_missing_and_unreadable_images_are_one_error_line(
    trained: tuple[Path, str, str], tmp_path: Path
) -> None:
    runs_dir, run_id, _ = trained
    where = ("--runs-dir", str(runs_dir))
    status, out, err = cli("predict", run_id, str(tmp_path / "missing.png"), *where)
    assert_one_error_line(status, err, "image file not found", "missing.png")
    assert out == ""
    status, _, err = cli("predict", run_id, str(tmp_path), *where)
    assert_one_error_line(status, err, "is a folder")

    text = tmp_path / "notes.png"
    text.write_text("this is not an image\n")
    good = str(digit_png(tmp_path / "one.png"))
    status, out, err = cli("predict", run_id, good, str(text), "--json", *where)
    assert_one_error_line(status, err, "notes.png")
    readable, unreadable = json.loads(out)  # the readable image is still answered
    assert len(readable["sigmoid"]) == 10 and readable["error"] is None
    assert unreadable["sigmoid"] is None and "notes.png" in unreadable["error"]


@pytest.mark.slow
def test_usage_errors_are_one_error_line(trained: tuple[Path, str, str]) -> None:
    assert_one_error_line(*cli("train", "--mode", "both")[::2], "--mode")
    assert_one_error_line(
        *cli("train", "--epochs", "0")[::2], "epochs must be a whole number from 1"
    )
    assert_one_error_line(*cli("train", "--lr", "fast")[::2], "--lr")
    assert_one_error_line(*cli("frobnicate")[::2], "frobnicate")
    assert_one_error_line(*cli("predict", "some-run")[::2], "IMAGE")
    runs_dir, run_id, _ = trained
    status, _, err = cli("analyze", run_id, "--threshold", "2", "--runs-dir", str(runs_dir))
    assert_one_error_line(status, err, "threshold must lie strictly between 0 and 1")
    status, _, err = cli("teach-none", "--hold-out", "digits")
    assert_one_error_line(status, err, "unknown: digits")


def test_damaged_run_is_listed_by_the_cli(tmp_path: Path) -> None:
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "run.json").write_text("{not json")
    status, out, _ = cli("runs", "--json", "--runs-dir", str(tmp_path))
    assert status == 0
    broken = next(run for run in json.loads(out) if run["id"] == "broken")
    assert broken["status"] == "damaged" and "run.json is unreadable" in broken["problem"]
    status, out, _ = cli("runs", "--runs-dir", str(tmp_path))
    assert "* broken: run.json is unreadable" in out


def test_cpu_threads_reach_the_training_config() -> None:
    from engine.cli import _config_from, build_parser

    default = _config_from(build_parser().parse_args(["train"]))
    assert default.train.cpu_threads == 0  # all cores unless asked
    shared = _config_from(build_parser().parse_args(["train", "--cpu-threads", "1"]))
    assert shared.train.cpu_threads == 1
    assert_one_error_line(
        *cli("train", "--cpu-threads", "-1")[::2], "cpu_threads must be a whole number from 0"
    )
