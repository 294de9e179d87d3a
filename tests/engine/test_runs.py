"""The run store: runs round-trip exactly, writes are atomic, damage is listed not raised, and
weights files can never run code."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import engine.pipeline as pipeline
import engine.runs as runs
from engine.atomic_files import atomic_open, atomic_write_json
from engine.config import RunConfig
from engine.datasets.dataset import DatasetSplit, ImageDataset
from engine.errors import RunError
from engine.runs import LoadedRun, RunStore, load_state_dict
from engine.runs.layout import RUN_ID_PATTERN, new_run_id
from engine.training import FitResult

CLASSES = ("zero", "one", "two")


def tiny_model(num_classes: int, image_shape: tuple[int, int, int]) -> nn.Module:
    channels, height, width = image_shape
    return nn.Sequential(nn.Flatten(), nn.Linear(channels * height * width, num_classes))


@pytest.fixture
def fake_models(monkeypatch: pytest.MonkeyPatch) -> None:
    """The store only needs build_model(config, K, shape); keep these tests off the real nets."""
    monkeypatch.setattr(
        "engine.models.build_model",
        lambda config, num_classes, image_shape: tiny_model(num_classes, image_shape),
    )


def make_split(multi_hot: bool = False) -> DatasetSplit:
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (12, 1, 4, 4), dtype=torch.uint8, generator=generator)
    targets = torch.arange(12) % 3
    if multi_hot:
        targets = torch.nn.functional.one_hot(targets, 3).float()
        targets[8] = torch.tensor([1.0, 1.0, 0.0])  # the first validation image: a 0 and a 1
    dataset = ImageDataset(images, targets, CLASSES)
    return DatasetSplit(
        "tiny", dataset.subset(torch.arange(8)), dataset.subset(torch.arange(8, 12))
    )


def fake_result(split: DatasetSplit, stopped: bool = False) -> FitResult:
    """A FitResult as fit() returns it, from a tiny model instead of a training."""
    torch.manual_seed(1)
    model = tiny_model(3, split.image_shape)
    return FitResult(
        model=model,
        history=[
            {"epoch": 1, "train_loss": 0.9, "val_loss": 0.8, "val_accuracy": 0.5},
            {"epoch": 2, "train_loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.75},
        ],
        valid_logits=torch.randn(len(split.valid), 3),
        valid_targets=split.valid.targets,
        stopped_early=stopped,
        device="cpu",
        normalization=([0.13], [0.31]),
    )


def saved_run(store: RunStore, multi_hot: bool = False) -> tuple[str, FitResult]:
    split = make_split(multi_hot)
    config = RunConfig().with_changes(dataset="tiny", mode="multi-label", epochs=2)
    writer = store.create_run(config, split)
    result = fake_result(split)
    writer.save_epoch(result.history[:1])
    writer.finish(result, split)
    return writer.id, result


def leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.name.endswith(".tmp") or ".staging" in p.name]


# ---------------------------------------------------------------------------------------------
# round trip


def test_saved_run_loads_back_exactly(tmp_path: Path, fake_models: None) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, result = saved_run(store, multi_hot=True)

    run = store.load_run(run_id)

    assert run.id == run_id
    assert run.config == RunConfig().with_changes(dataset="tiny", mode="multi-label", epochs=2)
    assert run.class_names == CLASSES
    assert run.image_shape == (1, 4, 4)
    assert run.normalization == ([0.13], [0.31])
    assert run.history == result.history
    assert run.metrics["val_accuracy"] == 0.75
    assert not run.model.training
    for name, tensor in result.model.state_dict().items():
        assert torch.equal(run.model.state_dict()[name], tensor)
    assert torch.equal(run.validation.logits, result.valid_logits)
    assert torch.equal(run.validation.targets, result.valid_targets)
    assert run.validation.targets[0].tolist() == [1.0, 1.0, 0.0]
    assert torch.equal(run.validation.images, make_split().valid.images)
    assert leftovers(tmp_path) == []


def test_run_json_records_what_reloading_needs(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    record = json.loads((tmp_path / run_id / "run.json").read_text())
    assert record["status"] == "complete"
    assert record["class_names"] == list(CLASSES)
    assert record["image_shape"] == [1, 4, 4]
    assert record["normalization"] == {"mean": [0.13], "std": [0.31]}
    assert record["weights"]["bytes"] == (tmp_path / run_id / "weights.pt").stat().st_size
    assert "-tiny-multi-label-" in run_id


def test_listing_shows_config_and_last_metrics(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    [summary] = store.list_runs()
    assert summary.id == run_id
    assert summary.status == "complete"
    assert (summary.dataset, summary.mode, summary.model, summary.epochs) == (
        "tiny",
        "multi-label",
        "cnn",
        2,
    )
    assert summary.metrics == {"train_loss": 0.5, "val_loss": 0.4, "val_accuracy": 0.75}
    assert summary.epochs_done == 2
    assert summary.to_dict()["status"] == "complete"


def test_stopped_run_keeps_its_weights_and_lists_incomplete(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    split = make_split()
    writer = store.create_run(RunConfig(), split)
    writer.finish(fake_result(split, stopped=True), split)
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", "stopped")
    assert store.load_run(writer.id).status == "stopped"


def test_failed_run_lists_incomplete_and_refuses_to_load(tmp_path: Path) -> None:
    store = RunStore(tmp_path, include_demo=False)
    writer = store.create_run(RunConfig(), make_split())
    writer.fail("training failed: out of memory")
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", "failed")
    assert summary.problem == "training failed: out of memory"
    with pytest.raises(RunError, match="did not finish"):
        store.load_run(writer.id)


def test_delete_run(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    store.delete_run(run_id)
    assert store.list_runs() == []


# ---------------------------------------------------------------------------------------------
# atomic writes


def test_atomic_write_replaces_whole_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    atomic_write_json(target, [{"epoch": 1}])
    atomic_write_json(target, [{"epoch": 1}, {"epoch": 2}])
    assert json.loads(target.read_text()) == [{"epoch": 1}, {"epoch": 2}]
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_crash_while_writing_keeps_the_previous_file(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    atomic_write_json(target, [{"epoch": 1}])
    with pytest.raises(RuntimeError):
        with atomic_open(target) as handle:
            handle.write(b'[{"epoch": 1}, {"ep')  # half written, then the "crash"
            raise RuntimeError("power cut")
    assert json.loads(target.read_text()) == [{"epoch": 1}]
    assert os.listdir(tmp_path) == ["metrics.json"]


def test_crash_while_saving_weights_leaves_run_incomplete_not_broken(
    tmp_path: Path, fake_models, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path, include_demo=False)
    earlier_id, _ = saved_run(store)
    split = make_split()
    writer = store.create_run(RunConfig(), split)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("engine.runs.writer.np.savez_compressed", crash)
    with pytest.raises(OSError):
        writer.finish(fake_result(split), split)
    statuses = {s.id: s.status for s in store.list_runs()}
    assert statuses == {earlier_id: "complete", writer.id: "incomplete"}
    assert leftovers(tmp_path) == []
    assert store.load_run(earlier_id).metrics["val_accuracy"] == 0.75


# ---------------------------------------------------------------------------------------------
# damage is listed, never raised


def test_damaged_runs_are_listed_with_the_reason(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    good_id, _ = saved_run(store)
    (tmp_path / "corrupt-json").mkdir()
    (tmp_path / "corrupt-json" / "run.json").write_text('{"id": "corrupt-json", "conf')
    (tmp_path / "no-json").mkdir()
    (tmp_path / "not-a-run").mkdir()
    (tmp_path / "not-a-run" / "run.json").write_text("[1, 2, 3]")
    (tmp_path / "bad-metrics").mkdir()
    atomic_write_json(
        tmp_path / "bad-metrics" / "run.json",
        {"config": RunConfig().to_dict(), "status": "complete"},
    )
    (tmp_path / "bad-metrics" / "metrics.json").write_bytes(b"\xff\xfe garbage")
    (tmp_path / "stray-file.txt").write_text("not a folder")

    by_id = {s.id: s for s in store.list_runs()}

    assert by_id[good_id].status == "complete"
    for name in ("corrupt-json", "no-json", "not-a-run", "bad-metrics"):
        assert by_id[name].status == "damaged", name
    assert "run.json is unreadable" in by_id["corrupt-json"].problem
    assert by_id["no-json"].problem == "run.json is missing"
    assert "metrics.json is unreadable" in by_id["bad-metrics"].problem
    assert "stray-file.txt" not in by_id
    with pytest.raises(RunError, match="damaged"):
        store.load_run("corrupt-json")


@pytest.mark.parametrize(
    "changes",
    [
        {"weights": "not a dict"},
        {"class_names": 5},
        {"image_shape": ["a", "b", "c"]},
        {"normalization": "none"},
        {"config": {"train": {"mode": "both"}}},
        {"config": {"train": {"epochs": "many"}}},
        {"status": None},
    ],
)
def test_run_json_with_odd_values_is_damaged_not_a_crash(
    tmp_path: Path, fake_models, changes: dict
) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    record = json.loads((tmp_path / run_id / "run.json").read_text())
    record.update(changes)
    atomic_write_json(tmp_path / run_id / "run.json", record)

    [summary] = store.list_runs()
    assert summary.status in ("damaged", "incomplete")
    assert summary.problem
    with pytest.raises(RunError, match=run_id):
        store.load_run(run_id)


def test_weights_changed_in_place_fail_the_checksum(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    weights = tmp_path / run_id / "weights.pt"
    data = bytearray(weights.read_bytes())
    data[-30] ^= 0xFF  # same size, different content
    weights.write_bytes(bytes(data))
    with pytest.raises(RunError, match="does not match the checksum"):
        store.load_run(run_id)


def test_complete_run_with_missing_weights_is_incomplete(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    (tmp_path / run_id / "weights.pt").unlink()
    [summary] = store.list_runs()
    assert summary.status == "incomplete"
    assert summary.problem == "weights.pt is missing"
    with pytest.raises(RunError, match="no weights"):
        store.load_run(run_id)


def test_running_run_whose_process_died_is_incomplete(tmp_path: Path) -> None:
    store = RunStore(tmp_path, include_demo=False)
    writer = store.create_run(RunConfig(), make_split())
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", "running")  # this process lives

    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        text=True,
        capture_output=True,
        check=True,
    )
    record = json.loads((writer.path / "run.json").read_text())
    record["pid"] = int(dead.stdout)
    atomic_write_json(writer.path / "run.json", record)
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", "interrupted")

    # a live process that only reuses the pid (a restarted container) is not the writer
    record.update(pid=os.getpid(), process_start=record["process_start"] - 1)
    atomic_write_json(writer.path / "run.json", record)
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", "interrupted")
    with pytest.raises(RunError, match="did not finish"):
        store.load_run(writer.id)


def test_unknown_and_unsafe_run_ids_are_refused(tmp_path: Path) -> None:
    store = RunStore(tmp_path, include_demo=False)
    with pytest.raises(RunError, match="unknown run 'nope'.*python -m engine runs"):
        store.load_run("nope")
    for bad in ("../etc", "/etc", "a/b", ".hidden", ""):
        with pytest.raises(RunError, match="not a run id"):
            store.load_run(bad)


def test_missing_runs_folder_lists_nothing(tmp_path: Path) -> None:
    assert RunStore(tmp_path / "absent", include_demo=False).list_runs() == []


# ---------------------------------------------------------------------------------------------
# weights files never run code


class RunsCodeWhenUnpickled:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))  # creating the marker proves code ran


@pytest.mark.parametrize("writer", ["torch.save", "pickle.dump"])
def test_malicious_pickle_weights_are_refused_and_never_run(
    tmp_path: Path, fake_models, writer: str
) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    weights = tmp_path / run_id / "weights.pt"
    marker = tmp_path / "pwned"
    payload = {"0.weight": RunsCodeWhenUnpickled(marker)}
    with weights.open("wb") as handle:
        torch.save(payload, handle) if writer == "torch.save" else pickle.dump(
            payload, handle, protocol=2
        )

    with pytest.raises(RunError, match="was refused: it is not a plain weights file"):
        load_state_dict(weights)
    assert not marker.exists()
    with pytest.raises(RunError, match="cut short or replaced"):
        store.load_run(run_id)
    assert not marker.exists()
    assert store.list_runs()[0].status == "damaged"


def test_truncated_weights_are_refused_clearly(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    weights = tmp_path / run_id / "weights.pt"
    data = weights.read_bytes()
    weights.write_bytes(data[: len(data) // 2])

    [summary] = store.list_runs()
    assert summary.status == "damaged"
    assert "cut short or replaced" in summary.problem
    with pytest.raises(RunError, match="was refused"):
        load_state_dict(weights)
    weights.write_bytes(b"")
    with pytest.raises(RunError, match="was refused"):
        load_state_dict(weights)


def test_weights_that_are_not_a_state_dict_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    torch.save([torch.zeros(2)], path)
    with pytest.raises(RunError, match="state_dict"):
        load_state_dict(path)


def test_validation_arrays_hold_no_pickles(tmp_path: Path, fake_models) -> None:
    store = RunStore(tmp_path, include_demo=False)
    run_id, _ = saved_run(store)
    with np.load(tmp_path / run_id / "validation.npz", allow_pickle=False) as arrays:
        assert sorted(arrays.files) == ["images", "logits", "targets"]
        assert arrays["images"].dtype == np.uint8


# ---------------------------------------------------------------------------------------------
# run ids


def test_run_ids_are_unique_even_when_a_name_is_taken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = RunStore(tmp_path, include_demo=False)
    names = iter(["same-second-aaaa", "same-second-aaaa", "same-second-bbbb"])
    monkeypatch.setattr("engine.runs.store.new_run_id", lambda config: next(names))
    first = store.create_run(RunConfig(), make_split())
    second = store.create_run(RunConfig(), make_split())
    assert (first.id, second.id) == ("same-second-aaaa", "same-second-bbbb")
    assert json.loads((second.path / "run.json").read_text())["id"] == "same-second-bbbb"


def test_many_runs_in_one_second_get_different_ids(tmp_path: Path) -> None:
    store = RunStore(tmp_path, include_demo=False)
    ids = {store.create_run(RunConfig(), make_split()).id for _ in range(30)}
    assert len(ids) == 30
    assert leftovers(tmp_path) == []


def test_run_id_slug_is_folder_safe() -> None:
    config = RunConfig().with_changes(dataset="folder:/data/My Pets/", mode="multi-class")
    run_id = new_run_id(config)
    assert "-folder-my-pets-multi-class-" in run_id
    assert RUN_ID_PATTERN.fullmatch(run_id)


def test_runs_dir_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LME_RUNS_DIR", "/tmp/somewhere")
    assert RunStore().root == Path("/tmp/somewhere")
    monkeypatch.delenv("LME_RUNS_DIR")
    assert RunStore().root == Path("runs")


# ---------------------------------------------------------------------------------------------
# train_run: load, fit, save


def fake_training(monkeypatch: pytest.MonkeyPatch, fit) -> None:
    monkeypatch.setattr("engine.training.fit", fit)


def test_train_run_saves_metrics_after_every_epoch(
    tmp_path: Path, fake_models, monkeypatch: pytest.MonkeyPatch
) -> None:
    from engine.callbacks import TrainState

    store = RunStore(tmp_path, include_demo=False)
    split = make_split()
    seen_on_disk = []

    def fit(config, split, callbacks):
        result = fake_result(split)
        for epoch in (1, 2):
            history = tuple(result.history[:epoch])
            state = TrainState(epoch=epoch, epochs=2, step=1, steps_per_epoch=1, history=history)
            for callback in callbacks:
                callback.after_epoch(state)
            [folder] = tmp_path.iterdir()
            seen_on_disk.append(json.loads((folder / "metrics.json").read_text()))
            assert json.loads((folder / "run.json").read_text())["status"] == "running"
        return result

    fake_training(monkeypatch, fit)
    created = []
    run_id = pipeline.train_run(RunConfig(), store, split=split, on_created=created.append)

    assert created == [run_id]
    assert [len(history) for history in seen_on_disk] == [1, 2]
    assert seen_on_disk[1][1]["val_accuracy"] == 0.75
    assert store.list_runs()[0].status == "complete"


@pytest.mark.parametrize(
    ("error", "state"), [(RuntimeError("boom"), "failed"), (KeyboardInterrupt(), "stopped")]
)
def test_train_run_marks_a_run_that_raised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, error: BaseException, state: str
) -> None:
    def fit(config, split, callbacks):
        raise error

    fake_training(monkeypatch, fit)
    store = RunStore(tmp_path, include_demo=False)
    with pytest.raises(type(error)):
        pipeline.train_run(RunConfig(), store, split=make_split())
    [summary] = store.list_runs()
    assert (summary.status, summary.state) == ("incomplete", state)


# ---------------------------------------------------------------------------------------------
# the shipped demo run


def test_the_demo_runs_are_listed_read_only_after_the_users_runs(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "empty")
    listed = {summary.id: summary for summary in store.list_runs()}
    assert list(listed) == ["demo", "demo-softmax", "demo-pairs"]
    assert {(s.dataset, s.mode) for s in listed.values()} == {
        ("mnist", "multi-label"),
        ("mnist", "multi-class"),
        ("two-digits", "multi-label"),
    }
    assert all(s.status == "complete" and s.read_only for s in listed.values())


@pytest.mark.parametrize("demo_id", ["demo", "demo-softmax"])
def test_demo_run_reloads_exactly_and_cannot_be_deleted(tmp_path: Path, demo_id: str) -> None:
    store = RunStore(tmp_path / "empty")
    [demo] = [summary for summary in store.list_runs() if summary.id == demo_id]
    # On MNIST's 10,000 test digits; the validation images make up most of the files' size.
    assert demo.metrics["val_accuracy"] >= 0.992
    assert sum(p.stat().st_size for p in runs.DEMO_RUNS[demo_id].iterdir()) < 2_500_000
    record = json.loads((runs.DEMO_RUNS[demo_id] / "run.json").read_text())
    assert record["config"]["train"]["augment"] is True
    assert record["valid_size"] == 10_000 and "augmentation" in record["made_with"]
    none_examples = record["config"]["data"]["none_examples"]
    assert (none_examples > 0) == (demo_id == "demo")  # the sigmoid run learns "none"

    run = _reloads_exactly_and_cannot_be_deleted(store, demo_id)
    accuracy = (run.validation.logits.argmax(1) == run.validation.targets).float()
    assert accuracy.mean().item() == pytest.approx(run.metrics["val_accuracy"], abs=1e-6)


def test_the_pairs_demo_is_a_small_multi_label_run_on_two_labels_per_image(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "empty")
    folder = runs.DEMO_RUNS["demo-pairs"]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 600_000
    record = json.loads((folder / "run.json").read_text())
    assert record["config"]["data"]["dataset"] == "two-digits"
    assert record["config"]["train"]["augment"] is True
    assert record["labels_per_image"] == "several"
    assert "tools/make_demo_run.py" in record["made_with"]["tool"]
    run = _reloads_exactly_and_cannot_be_deleted(store, "demo-pairs")
    assert run.mode == "multi-label" and run.multi_label_data
    fired = torch.sigmoid(run.validation.logits) >= 0.5
    exact = (fired == run.validation.targets.bool()).all(dim=1).float().mean().item()
    assert exact == pytest.approx(run.metrics["val_exact_match"], abs=1e-6)
    assert exact >= 0.9


def _reloads_exactly_and_cannot_be_deleted(store: RunStore, demo_id: str) -> LoadedRun:
    run = store.load_run(demo_id)
    assert run.read_only and run.class_names == tuple(str(d) for d in range(10))
    mean, std = (torch.tensor(v).view(1, -1, 1, 1) for v in run.normalization)
    images = run.validation.images[:200].float() / 255
    with torch.no_grad():
        logits = run.model((images - mean) / std)
    assert torch.allclose(logits, run.validation.logits[:200], atol=1e-3)
    with pytest.raises(RunError, match="cannot be deleted"):
        store.delete_run(demo_id)
    return run


def test_demo_run_can_be_left_out(tmp_path: Path) -> None:
    assert RunStore(tmp_path, include_demo=False).list_runs() == []
    with pytest.raises(RunError, match="unknown run 'demo'"):
        RunStore(tmp_path, include_demo=False).load_run("demo")
