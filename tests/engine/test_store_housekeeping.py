"""What crashes leave behind, and runs folders that cannot be used: a store killed mid-write
leaves no `.staging` or `.tmp` once reopened (nor `lme-zip-*` scratch folders), a live writer's
files are left alone, and a runs folder that is a file or read-only is named as such."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from engine import atomic_files
from engine.cli import main
from engine.config import RunConfig
from engine.errors import RunError
from engine.pipeline import train_run
from engine.runs import RunStore
from tests.engine.synthetic import blocks_split

REPO = Path(__file__).resolve().parents[2]
TINY = RunConfig().with_changes(name="mlp", epochs=1, batch_size=16, device="cpu")

# Creates a run, then, at once: writes weights.pt (stuck inside the atomic write), creates a
# second run (stuck before its staging folder is renamed into place) and extracts a "zip"
# (a scratch folder in the temp folder); says "ready" and waits to be killed.
KILLED_MID_WRITE = textwrap.dedent(
    """
    import os, sys, tempfile, threading, time
    from engine import atomic_files, runs
    from engine.config import RunConfig
    from tests.engine.synthetic import blocks_split

    store = runs.RunStore(sys.argv[1])
    split = blocks_split()
    config = RunConfig().with_changes(name="mlp", epochs=1, device="cpu")
    writer = store.create_run(config, split)
    writing = threading.Event()

    def write_weights():
        with atomic_files.atomic_open(writer.path / runs.WEIGHTS_FILE) as handle:
            handle.write(b"half a file")
            handle.flush()
            writing.set()
            time.sleep(600)

    threading.Thread(target=write_weights, daemon=True).start()
    writing.wait()
    tempfile.mkdtemp(prefix=atomic_files.scratch_prefix("lme-zip-"))
    os.rename = lambda *a: (print("ready", flush=True), time.sleep(600))
    store.create_run(config, split)
    """
)


def _leftovers(root: Path) -> list[str]:
    return sorted(
        p.name for p in root.rglob(".*") if p.name.endswith((".tmp", ".staging", ".deleting"))
    )


@pytest.mark.slow
def test_a_store_killed_mid_write_leaves_nothing_once_reopened(tmp_path, monkeypatch) -> None:
    root, temp = tmp_path / "runs", tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    process = subprocess.Popen(
        [sys.executable, "-c", KILLED_MID_WRITE, str(root)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(temp)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout.readline().strip() == "ready"
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    left = _leftovers(root)
    assert any(name.endswith(".tmp") for name in left), left  # the kill left them there
    assert any(name.endswith(".staging") for name in left), left
    assert [p.name for p in temp.iterdir() if p.name.startswith("lme-zip-")]

    store = RunStore(root)  # opening the store cleans up

    assert _leftovers(root) == []
    assert not [p for p in temp.iterdir() if p.name.startswith("lme-zip-")]
    [summary] = [s for s in store.list_runs() if not s.read_only]
    assert summary.state == "interrupted"  # the run the kill cut short is listed, not lost


def test_files_a_live_writer_is_writing_are_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    run = root / "20260101-000000-run"
    run.mkdir(parents=True)
    with atomic_files.atomic_open(run / "metrics.json") as handle:
        handle.write(b"[]")
        RunStore(root)  # another store opens while this process writes
        assert len(_leftovers(root)) == 1
    assert _leftovers(root) == [] and (run / "metrics.json").read_bytes() == b"[]"


def test_leftovers_of_older_versions_go_once_they_are_an_hour_old(tmp_path: Path) -> None:
    root = tmp_path / "runs"
    old_staging, fresh_tmp = root / ".20260101-000000-x.staging", root / ".run.json.ab12cd.tmp"
    old_staging.mkdir(parents=True)
    fresh_tmp.write_bytes(b"")
    hour_ago = time.time() - 3700
    os.utime(old_staging, (hour_ago, hour_ago))
    RunStore(root)
    assert not old_staging.exists() and fresh_tmp.exists()


def test_a_deleted_run_leaves_the_list_at_once(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = train_run(TINY, store, split=blocks_split())
    store.delete_run(run_id)
    assert run_id not in {s.id for s in store.list_runs()}
    assert list(tmp_path.iterdir()) == []


def test_a_runs_folder_that_is_a_file_is_named_as_such(tmp_path: Path, capsys) -> None:
    not_a_folder = tmp_path / "runs"
    not_a_folder.write_text("oops")
    store = RunStore(not_a_folder)
    assert "is a file, not a folder" in store.storage_problem()
    assert str(tmp_path) not in store.storage_problem()  # the dashboard shows it: no path
    assert [s.id for s in store.list_runs()] == ["demo", "demo-softmax", "demo-pairs"]
    with pytest.raises(RunError, match="cannot save the run: .* is a file"):
        store.create_run(TINY, blocks_split())

    assert main(["runs", "--runs-dir", str(not_a_folder)]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: the runs folder") and "is a file" in err


def test_a_read_only_runs_folder_is_named_as_such(tmp_path, monkeypatch) -> None:
    # Tests may run as root, for whom no folder is read-only: ask os.access what it says
    # to an ordinary user on a read-only folder.
    monkeypatch.setattr("engine.runs.housekeeping.os.access", lambda path, mode: False)
    store = RunStore(tmp_path)
    assert "read-only" in store.storage_problem()
    with pytest.raises(RunError, match="read-only"):
        store.create_run(TINY, blocks_split())


def test_a_run_whose_announcement_fails_is_marked_failed_not_running(
    tmp_path: Path,
) -> None:
    store = RunStore(tmp_path)

    def announce(run_id: str) -> None:
        raise OSError("no such folder for the run id file")

    with pytest.raises(OSError):
        train_run(TINY, store, split=blocks_split(), on_created=announce)
    [summary] = [s for s in store.list_runs() if not s.read_only]
    assert summary.state == "failed" and "run id file" in summary.problem


@pytest.mark.slow
def test_the_cli_with_a_run_id_file_in_a_missing_folder_leaves_no_run_running(
    tmp_path: Path, capsys
) -> None:
    runs_dir = tmp_path / "runs"
    status = main(
        [
            "train",
            "--quiet",
            "--epochs",
            "1",
            "--limit",
            "100",
            "--model",
            "mlp",
            "--cpu-threads",
            "1",
            "--runs-dir",
            str(runs_dir),
            "--run-id-file",
            str(tmp_path / "missing" / "run-id"),
        ]
    )
    assert status == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1
    states = {s.state for s in RunStore(runs_dir).list_runs() if not s.read_only}
    assert states == {"failed"}
