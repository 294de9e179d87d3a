"""Distributed training: torchrun's variables, shards, the loss weights that make two processes'
averaged gradients equal one process's, augmentation that follows the global batch, a real
2-process Gloo run through torchrun that saves the same weights as one process, and dashboard
jobs that train in torchrun child processes."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from PIL import Image

from engine import cli, distributed, training_jobs
from engine.config import RunConfig
from engine.distributed import (
    SINGLE_PROCESS,
    DistributedContext,
    detect_context,
    shard_bounds,
    shard_loss,
)
from engine.errors import EngineError
from engine.labels import loss_function, targets_for_mode
from engine.nets import MLP
from engine.prediction import predict_images
from engine.runs import RunStore
from engine.training import random_shift

# The saved weights of a 2-process run may differ from one process's by float rounding only:
# the gradients are summed in another order. Measured: ~6e-7 after 22 AdamW steps.
WEIGHT_TOLERANCE = 1e-5
TORCHRUN_SECONDS = 120  # a hung process group fails the test instead of the CI job


# --- torchrun's variables --------------------------------------------------------------------


def test_torchrun_variables_give_rank_world_size_and_local_rank():
    context = detect_context({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (context.rank, context.world_size, context.local_rank) == (3, 4, 1)
    assert context.is_distributed and not context.is_main_process
    assert context.device(torch.device("cuda")) == torch.device("cuda", 1)
    assert context.device(torch.device("cpu")) == torch.device("cpu")


def test_without_torchrun_one_process_trains_alone():
    assert detect_context({}) is SINGLE_PROCESS
    assert detect_context({"RANK": "0", "WORLD_SIZE": "1", "LOCAL_RANK": "0"}) is SINGLE_PROCESS
    assert SINGLE_PROCESS.is_main_process and not SINGLE_PROCESS.is_distributed


def test_broken_torchrun_variables_say_what_to_do():
    with pytest.raises(EngineError, match="start distributed training with torchrun"):
        detect_context({"RANK": "x", "WORLD_SIZE": "2"})
    with pytest.raises(EngineError, match="outside 0..1"):
        detect_context({"RANK": "2", "WORLD_SIZE": "2"})


def test_one_process_collectives_hand_back_their_input():
    rows = torch.randn(3, 2)
    model = MLP(2)
    shard = SINGLE_PROCESS.shard(3)
    assert SINGLE_PROCESS.sum([1.5, 2.0]) == [1.5, 2.0]
    assert SINGLE_PROCESS.gather_rows(rows, shard) is rows
    assert SINGLE_PROCESS.agree_to_stop(True) and not SINGLE_PROCESS.agree_to_stop(False)
    assert SINGLE_PROCESS.wrap_model(model, torch.device("cpu")) is model
    assert shard.take(rows) is rows


# --- shards and loss weights -----------------------------------------------------------------


def test_shards_are_blocks_that_cover_every_row_once():
    assert shard_bounds(10, 3) == [0, 3, 6, 10]
    shards = [DistributedContext(rank, 3).shard(10) for rank in range(3)]
    assert [(s.start, s.stop) for s in shards] == [(0, 3), (3, 6), (6, 10)]
    assert [len(s) for s in shards] == [3, 3, 4]
    rows = torch.arange(2)  # more processes than rows: some hold none
    assert [DistributedContext(rank, 4).shard(2).take(rows).tolist() for rank in range(4)] == [
        [],
        [0],
        [],
        [1],
    ]


def _gradients(model: torch.nn.Module) -> list[torch.Tensor]:
    return [parameter.grad.clone() for parameter in model.parameters()]


@pytest.mark.parametrize("mode", ["multi-label", "multi-class"])
@pytest.mark.parametrize(
    "order", [torch.randperm(12, generator=torch.Generator().manual_seed(5)), torch.arange(12)]
)
def test_two_ranks_average_to_the_gradient_of_the_whole_batch(mode, order):
    """Two ranks by hand: each takes its members of every global batch and weights its mean
    loss; DDP's average of their gradients must be the one-process gradient. With the plain
    order, rank 1 has no image in the first batch of 6 and rank 0 none in the second."""
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(12, 1, 4, 4, generator=generator)
    targets = targets_for_mode(torch.arange(12) % 3, mode, 3)
    model = MLP(3, (1, 4, 4), hidden=8)
    criterion = loss_function(mode)
    shards = [DistributedContext(rank, 2).shard(12) for rank in range(2)]
    per_rank = [list(shard.batches(order, 6, torch.device("cpu"))) for shard in shards]

    for step, begin in enumerate(range(0, 12, 6)):
        members = order[begin : begin + 6]
        model.zero_grad()
        criterion(model(images[members]), targets[members]).backward()
        expected = _gradients(model)

        averaged = [torch.zeros_like(g) for g in expected]
        seen = []
        for shard, batches in zip(shards, per_rank, strict=True):
            batch = batches[step]
            assert batch.global_size == 6
            local_images, local_targets = shard.take(images), shard.take(targets)
            assert torch.equal(local_images[batch.indices], images[members[batch.positions]])
            seen += batch.positions.tolist()
            model.zero_grad()
            outputs = model(local_images[batch.indices])
            loss, mean = shard_loss(criterion, outputs, local_targets[batch.indices], batch)
            loss.backward()
            if len(batch) == 0:
                assert mean is None and float(loss.detach()) == 0.0
                assert all(torch.count_nonzero(g) == 0 for g in _gradients(model))
            for total, gradient in zip(averaged, _gradients(model), strict=True):
                total += gradient / 2  # DDP's average over 2 processes
        assert sorted(seen) == list(range(6))  # every image of the batch, on one rank only
        for got, want in zip(averaged, expected, strict=True):
            assert torch.allclose(got, want, atol=1e-6)


def test_a_shard_shifts_its_images_as_the_whole_batch_would():
    images = torch.randn(10, 1, 9, 9)
    whole = random_shift(images, 2, torch.Generator().manual_seed(3), groups=4)
    for positions in (torch.tensor([0, 3, 4, 8, 9]), torch.tensor([1, 2, 5, 6, 7])):
        generator = torch.Generator().manual_seed(3)
        part = random_shift(images[positions], 2, generator, 4, positions, batch_size=10)
        assert torch.equal(part, whole[positions])
    # a rank with no image of the batch still draws the offsets, so the ranks stay in step
    generator, reference = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    empty = random_shift(images[:0], 2, generator, 4, torch.tensor([], dtype=torch.long), 10)
    random_shift(images, 2, reference, groups=4)
    assert len(empty) == 0
    assert torch.equal(torch.rand(3, generator=generator), torch.rand(3, generator=reference))


# --- torchrun ------------------------------------------------------------------------------

TRAIN_ARGUMENTS = [
    "train",
    "--dataset",
    "mnist-5k",
    "--limit",
    "405",  # 324 training images (batches of 32, the last of 4) and 81 validation images
    "--mode",
    "multi-label",
    "--model",
    "mlp",  # no batch norm: with Gloo each rank would normalise with its own share
    "--epochs",
    "2",
    "--batch-size",
    "32",
    "--seed",
    "14",  # epoch 1's last batch (4 images) lies in rank 0's shard: rank 1 takes an empty step
    "--device",
    "cpu",
]


def _environment() -> dict[str, str]:
    return {**distributed.engine_environment(), "OMP_NUM_THREADS": "1"}


def _only_run(folder: Path) -> str:
    runs = [path.name for path in folder.iterdir() if not path.name.startswith(".")]
    assert len(runs) == 1, runs  # rank 1 wrote nothing
    return runs[0]


@pytest.mark.slow
def test_two_gloo_processes_save_the_weights_of_one_process(tmp_path, capsys):
    first_order = torch.randperm(324, generator=torch.Generator().manual_seed(14))
    assert (first_order[320:] < 162).all()  # the empty step the seed was chosen for
    command = distributed.torchrun_command(2, [*TRAIN_ARGUMENTS, "--runs-dir", str(tmp_path / "2")])
    finished = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env=_environment(),
        timeout=TORCHRUN_SECONDS,
        stdin=subprocess.DEVNULL,
    )
    assert finished.returncode == 0, finished.stderr[-3000:]
    assert cli.main([*TRAIN_ARGUMENTS, "--quiet", "--runs-dir", str(tmp_path / "1")]) == 0
    single_id = capsys.readouterr().out.split("run: ")[1].strip()

    distributed_id = _only_run(tmp_path / "2")
    lines = finished.stdout.splitlines()
    assert lines == [*lines[:2], f"run: {distributed_id}"]  # rank 0's epoch lines, one id
    assert [line.split()[:2] for line in lines[:2]] == [["epoch", "1/2"], ["epoch", "2/2"]]

    store, single = RunStore(tmp_path / "2", include_demo=False), RunStore(tmp_path / "1")
    run, alone = store.load_run(distributed_id), single.load_run(single_id)
    for name, weights in alone.model.state_dict().items():
        assert torch.allclose(run.model.state_dict()[name], weights, atol=WEIGHT_TOLERANCE), name
    assert not torch.equal(run.model.head.weight, MLP(10).head.weight)  # it did train
    for ours, theirs in zip(run.history, alone.history, strict=True):  # reduced metrics
        for key in ("train_loss", "val_loss", "val_accuracy", "val_macro_f1"):
            assert ours[key] == pytest.approx(theirs[key], abs=1e-5), key
    # validation logits gathered from 41 + 40 rows, in the original order
    assert run.validation.logits.shape == (81, 10)
    assert torch.allclose(run.validation.logits, alone.validation.logits, atol=1e-4)

    record = json.loads((run.path / "run.json").read_text())
    assert (record["world_size"], record["backend"], record["status"]) == (2, "gloo", "complete")
    alone_record = json.loads((alone.path / "run.json").read_text())
    assert (alone_record["world_size"], alone_record["backend"]) == (1, None)
    [summary] = store.list_runs()
    assert (summary.id, summary.status, summary.epochs_done) == (distributed_id, "complete", 2)
    buffer = io.BytesIO()
    Image.fromarray(run.validation.images[0, 0].numpy()).save(buffer, format="PNG")
    image = buffer.getvalue()
    [prediction] = predict_images(run, [("digit.png", image)])
    assert prediction.error is None and len(prediction.sigmoid) == 10


# --- dashboard jobs in torchrun processes ----------------------------------------------------


def _job_config(**changes) -> RunConfig:
    settings = dict(dataset="mnist-5k", limit=400, name="mlp", device="cpu", epochs=2)
    return RunConfig().with_changes(**{**settings, **changes})


@pytest.mark.slow
def test_a_job_in_two_processes_reports_epochs_and_stops_with_its_run_saved(tmp_path):
    store = RunStore(tmp_path, include_demo=False)
    config = _job_config(epochs=500)
    job = training_jobs.start_training(config, store, processes=2)
    assert job.processes == 2
    deadline = time.monotonic() + TORCHRUN_SECONDS
    while job.progress().epoch < 1 and not job.progress().finished:
        assert time.monotonic() < deadline, "no epoch reported"
        time.sleep(0.1)
    progress = job.progress()
    assert progress.state == "running" and progress.device == "cpu" and progress.run_id
    assert "val_accuracy" in progress.history[0]

    job.stop()  # SIGTERM to torchrun, which passes it on; rank 0 saves the run as stopped
    final = job.wait(TORCHRUN_SECONDS)
    assert final.state == "stopped", final.error
    assert 1 <= final.epoch < 500
    run = store.load_run(final.run_id)
    assert run.status == "stopped" and run.config == config
    assert len(run.history) == final.epoch


@pytest.mark.slow
def test_a_failing_job_in_processes_shows_the_commands_error(tmp_path):
    store = RunStore(tmp_path, include_demo=False)
    job = training_jobs.start_training(_job_config(dataset="no-such-data"), store, processes=2)
    final = job.wait(TORCHRUN_SECONDS)
    assert final.state == "failed"
    assert "no-such-data" in final.error
    assert final.run_id is None and store.list_runs() == []


def test_jobs_use_every_gpu_only_where_there_are_several(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 4)
    assert training_jobs.default_processes(_job_config(device="auto")) == 4
    assert training_jobs.default_processes(_job_config(device="cpu")) == 1
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert training_jobs.default_processes(_job_config(device="auto")) == 1
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert training_jobs.default_processes(_job_config(device="auto")) == 1


def test_torchrun_command_runs_the_engine_on_this_python():
    command = distributed.torchrun_command(3, ["train", "--epochs", "1"])
    assert command[:3] == [sys.executable, "-m", "torch.distributed.run"]
    assert "--nproc_per_node=3" in command
    assert command[-5:] == ["-m", "engine", "train", "--epochs", "1"]
