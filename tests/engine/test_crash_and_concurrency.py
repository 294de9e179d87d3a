"""Crashes and concurrency, for real: a training process killed with SIGKILL mid-epoch damages
nothing saved before, Ctrl-C saves the run as stopped, and two trainings started at once write
different folders and both finish intact."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from engine.runs import RunStore

pytestmark = pytest.mark.slow  # every test here trains in real processes

REPO_ROOT = Path(__file__).resolve().parents[2]
QUICK = ["--dataset", "mnist-5k", "--limit", "300", "--device", "cpu", "--quiet"]
# Long enough that it is still training when the test strikes, at ~0.2 s per epoch.
LONG = ["--dataset", "mnist-5k", "--limit", "500", "--device", "cpu", "--epochs", "400"]


def start_training(runs_dir: Path, *args: str) -> subprocess.Popen[str]:
    env = {**os.environ, "LME_RUNS_DIR": str(runs_dir), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "engine", "train", *args],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    stdout, stderr = process.communicate(timeout=240)
    return process.returncode, stdout, stderr


def wait_for_first_epoch(runs_dir: Path, process: subprocess.Popen[str]) -> Path:
    """The new run's folder once its metrics.json holds a finished epoch."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        for folder in runs_dir.iterdir():
            try:
                history = json.loads((folder / "metrics.json").read_text())
            except (OSError, ValueError):
                continue  # not this one, or not yet: atomic writes mean never half a file
            record = json.loads((folder / "run.json").read_text())
            if history and record["status"] == "running":
                return folder
        time.sleep(0.05)
    raise AssertionError("training never finished its first epoch")


def run_id_from(stdout: str) -> str:
    last = stdout.strip().splitlines()[-1]
    assert last.startswith("run: "), stdout
    return last.removeprefix("run: ")


@pytest.fixture(scope="module")
def earlier_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A runs folder with two complete runs, one per label mode, trained at the same time."""
    runs_dir = tmp_path_factory.mktemp("runs")
    processes = [
        start_training(runs_dir, *QUICK, "--epochs", "1", "--mode", mode)
        for mode in ("multi-label", "multi-class")
    ]
    ids = []
    for process in processes:
        status, stdout, stderr = finish(process)
        assert status == 0, stderr
        ids.append(run_id_from(stdout))
    return runs_dir, ids


def test_two_trainings_at_once_write_different_folders(
    earlier_runs: tuple[Path, list[str]],
) -> None:
    runs_dir, ids = earlier_runs
    assert len(set(ids)) == 2
    store = RunStore(runs_dir, include_demo=False)
    by_id = {summary.id: summary for summary in store.list_runs()}
    assert set(by_id) == set(ids)
    modes = set()
    for run_id in ids:
        assert by_id[run_id].status == "complete"
        run = store.load_run(run_id)
        modes.add(run.config.train.mode)
        assert len(run.history) == 1
        assert run.validation.logits.shape == (len(run.validation.targets), 10)
    assert modes == {"multi-label", "multi-class"}
    assert not [p for p in runs_dir.rglob("*") if p.name.endswith(".tmp")]


def test_sigkill_mid_epoch_damages_nothing_saved_before(
    earlier_runs: tuple[Path, list[str]],
) -> None:
    runs_dir, ids = earlier_runs
    store = RunStore(runs_dir, include_demo=False)
    before = {run_id: store.load_run(run_id).model.state_dict() for run_id in ids}

    process = start_training(runs_dir, *LONG)
    killed_folder = wait_for_first_epoch(runs_dir, process)
    time.sleep(0.1)  # into the next epoch
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL

    by_id = {summary.id: summary for summary in store.list_runs()}
    for run_id in ids:
        assert by_id[run_id].status == "complete"
        reloaded = store.load_run(run_id).model.state_dict()
        assert all(torch.equal(reloaded[k], v) for k, v in before[run_id].items())
    killed = by_id[killed_folder.name]
    assert killed.status == "incomplete"
    assert killed.state == "interrupted"
    assert killed.epochs_done >= 1  # its finished epochs are still readable
    assert set(by_id) == {*ids, killed_folder.name}


@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_ctrl_c_or_sigterm_saves_the_run_as_stopped(tmp_path: Path, signal_number: int) -> None:
    process = start_training(tmp_path, *LONG)
    folder = wait_for_first_epoch(tmp_path, process)
    process.send_signal(signal_number)
    status, stdout, stderr = finish(process)

    assert status == 128 + signal_number, stderr
    assert "Traceback" not in stderr
    assert run_id_from(stdout) == folder.name
    store = RunStore(tmp_path, include_demo=False)
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", "stopped")
    run = store.load_run(folder.name)
    assert run.status == "stopped"
    assert 1 <= len(run.history) < 400
