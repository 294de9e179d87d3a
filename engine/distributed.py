"""Training on several processes with PyTorch's own distributed engine: torchrun + DDP.

`torchrun --nproc_per_node=N -m engine train ...` starts N copies of the command (on each of
`--nnodes` machines) and tells each who it is through environment variables: RANK,
WORLD_SIZE, LOCAL_RANK, and where to meet (MASTER_ADDR, MASTER_PORT). This module reads them,
joins the process group (NCCL on CUDA, one GPU per process; Gloo on the CPU), and owns every
collective the training loop needs:

- which rows of a split a process keeps (`Shard`: a contiguous block, so each GPU holds only
  its part of the device-resident training images) and which of them a global batch uses;
- the loss weight that makes DDP's gradient average equal the one-process gradient;
- sums across processes (the epoch's training loss), gathering validation logits back into
  their original order, and agreeing to stop when rank 0's callbacks say so.

One process (no torchrun, or WORLD_SIZE=1) gets `SINGLE_PROCESS`, whose collectives hand their
input back, so engine/training.py runs one loop either way. What a run saves, and that only
rank 0 saves it, is engine/runs/'s business.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from engine.errors import EngineError

ENVIRONMENT = ("RANK", "WORLD_SIZE", "LOCAL_RANK")  # what torchrun sets for every process


@dataclass(frozen=True)
class DistributedContext:
    """Who this process is among the processes of one training."""

    rank: int = 0  # 0..world_size-1 over all machines; rank 0 prints and saves
    world_size: int = 1
    local_rank: int = 0  # index on this machine: which GPU this process drives
    backend: str | None = None  # "nccl" or "gloo" once the process group is joined

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main_process(self) -> bool:
        return self.rank == 0

    def device(self, device: torch.device) -> torch.device:
        """The device this process trains on: on CUDA, its own GPU (cuda:LOCAL_RANK)."""
        if self.is_distributed and device.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return device

    # -- data ---------------------------------------------------------------------------------

    def shard(self, total: int) -> Shard:
        """This process's block of `total` rows; blocks differ in size by at most one."""
        bounds = shard_bounds(total, self.world_size)
        return Shard(total, bounds[self.rank], bounds[self.rank + 1], self.world_size)

    def wrap_model(self, model: nn.Module, device: torch.device) -> nn.Module:
        """DistributedDataParallel around `model` (already on `device`); alone, the model.

        On CUDA, batch norm layers become SyncBatchNorm, so the statistics are those of the
        global batch. Gloo cannot synchronise them, so on the CPU each process normalises with
        its own share of the batch: models with batch norm (the built-in "cnn") then train
        close to, not exactly like, one process; the "mlp" has none and trains the same.
        """
        if not self.is_distributed:
            return model
        if device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
            return nn.parallel.DistributedDataParallel(model, device_ids=[device.index])
        return nn.parallel.DistributedDataParallel(model)

    # -- collectives --------------------------------------------------------------------------

    @property
    def collective_device(self) -> torch.device:
        """Where tensors must be for a collective: NCCL reduces on the GPU, Gloo on the CPU."""
        if self.backend == "nccl":
            return torch.device("cuda", self.local_rank)
        return torch.device("cpu")

    def sum(self, values: Sequence[float]) -> list[float]:
        """Each value summed over all processes (float64, so counts stay exact)."""
        if not self.is_distributed:
            return list(values)
        tensor = torch.tensor(values, dtype=torch.float64, device=self.collective_device)
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        return tensor.tolist()

    def gather_rows(self, rows: torch.Tensor, shard: Shard) -> torch.Tensor:
        """Every process's `rows` (its shard's, in order) joined in the original row order.

        Shards may differ by one row and all_gather needs equal sizes, so each block is padded
        to the largest, then trimmed. Returns a CPU tensor on every process.
        """
        if not self.is_distributed:
            return rows
        bounds = shard_bounds(shard.total, self.world_size)
        sizes = [stop - start for start, stop in pairwise(bounds)]
        padded = rows.new_zeros((max(sizes), *rows.shape[1:]), device=self.collective_device)
        padded[: len(rows)] = rows.to(self.collective_device)
        blocks = [torch.empty_like(padded) for _ in sizes]
        dist.all_gather(blocks, padded)
        return torch.cat([block[:size] for block, size in zip(blocks, sizes, strict=True)]).cpu()

    def agree_to_stop(self, stop: bool) -> bool:
        """Rank 0's decision, for every process (callbacks run on rank 0 only)."""
        if not self.is_distributed:
            return stop
        flag = torch.tensor([int(stop)], device=self.collective_device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())


SINGLE_PROCESS = DistributedContext()


def shard_bounds(total: int, world_size: int) -> list[int]:
    """Where each process's block of `total` rows starts, plus the end: [0, ..., total]."""
    return [total * rank // world_size for rank in range(world_size + 1)]


# ---------------------------------------------------------------------------------------------
# Shards and batches


@dataclass(frozen=True, eq=False)
class Batch:
    """This process's part of one global batch."""

    indices: torch.Tensor  # rows of this process's shard, on the training device
    positions: torch.Tensor | None  # where they sit in the global batch (CPU); None: all of it
    global_size: int  # images in the global batch, over all processes
    loss_weight: float  # see shard_loss

    def __len__(self) -> int:
        return len(self.indices)


@dataclass(frozen=True)
class Shard:
    """Rows `start`..`stop` of a split of `total` rows: the block one process holds."""

    total: int
    start: int
    stop: int
    world_size: int = 1

    def __len__(self) -> int:
        return self.stop - self.start

    def take(self, tensor: torch.Tensor) -> torch.Tensor:
        """This shard's rows of a tensor that holds every row."""
        return tensor if len(self) == self.total else tensor[self.start : self.stop]

    def batches(
        self, order: torch.Tensor, batch_size: int, device: torch.device
    ) -> Iterator[Batch]:
        """Cut the global order of all `total` rows into global batches; yield this shard's
        members of each, in their global order, as rows of the shard.

        Every process draws the same `order`, so together they cover each global batch once.
        """
        if len(self) == self.total:  # one process: slices of the order, as fast as before
            order = order.to(device)
            for begin in range(0, self.total, batch_size):
                indices = order[begin : begin + batch_size]
                yield Batch(indices, None, len(indices), 1.0)
            return
        for begin in range(0, self.total, batch_size):
            members = order[begin : begin + batch_size]
            positions = ((members >= self.start) & (members < self.stop)).nonzero().flatten()
            indices = (members[positions] - self.start).to(device)
            weight = len(positions) * self.world_size / len(members)
            yield Batch(indices, positions, len(members), weight)


def shard_loss(
    loss_function: nn.Module, outputs: torch.Tensor, targets: torch.Tensor, batch: Batch
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The loss to call backward() on, and the shard's mean loss to report (None if empty).

    The loss functions average over the batch. DDP averages the processes' gradients, so each
    process weights its mean by (its images x world size / global batch size): the average of
    those gradients is then the gradient of the mean loss over the global batch, exactly what
    one process computes. A process with no image in this batch still joins DDP's all-reduce,
    with a zero loss that reaches every parameter.
    """
    if len(batch) == 0:
        return outputs.sum() * 0.0, None
    mean = loss_function(outputs, targets)
    return (mean if batch.loss_weight == 1.0 else mean * batch.loss_weight), mean


# ---------------------------------------------------------------------------------------------
# The process group


def detect_context(environ: Mapping[str, str] | None = None) -> DistributedContext:
    """The context torchrun's environment variables describe (no process group joined yet)."""
    environ = os.environ if environ is None else environ
    try:
        values = {name: int(environ.get(name) or 0) for name in ENVIRONMENT}
    except ValueError:
        shown = ", ".join(f"{name}={environ.get(name)!r}" for name in ENVIRONMENT)
        raise EngineError(
            f"torchrun's variables are not whole numbers ({shown}): start distributed "
            "training with torchrun, or unset them to train in one process"
        ) from None
    world_size = max(values["WORLD_SIZE"], 1)
    if world_size == 1:
        return SINGLE_PROCESS
    if not 0 <= values["RANK"] < world_size:
        raise EngineError(f"RANK={values['RANK']} lies outside 0..{world_size - 1}: use torchrun")
    return DistributedContext(values["RANK"], world_size, values["LOCAL_RANK"])


def is_main_process() -> bool:
    """True in a process that trains alone, and in rank 0 of a distributed training."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank() == 0
    return detect_context().is_main_process


def init_distributed(device: torch.device) -> DistributedContext:
    """Join the process group torchrun set up (once per process); alone, SINGLE_PROCESS.

    NCCL with one GPU per process (cuda:LOCAL_RANK) on CUDA, Gloo on the CPU. A group joined
    before (by the caller, or an earlier call) is used as it is.
    """
    context = detect_context()
    if not context.is_distributed:
        return SINGLE_PROCESS
    if not dist.is_available():
        raise EngineError("this PyTorch build has no torch.distributed: train in one process")
    if dist.is_initialized():
        return _joined(context, dist.get_backend())
    if device.type == "cuda":
        if context.local_rank >= torch.cuda.device_count():
            raise EngineError(
                f"process {context.local_rank} on this machine has no GPU of its own "
                f"({torch.cuda.device_count()} visible): start at most that many processes "
                "per node (--nproc_per_node)"
            )
        torch.cuda.set_device(context.local_rank)
        dist.init_process_group("nccl", device_id=context.device(device))
        return _joined(context, "nccl")
    if device.type == "cpu":
        dist.init_process_group("gloo")
        return _joined(context, "gloo")
    raise EngineError(
        f"distributed training runs on CUDA GPUs (NCCL) or the CPU (Gloo), not {device.type}: "
        "use --device cuda or --device cpu"
    )


def _joined(context: DistributedContext, backend: str) -> DistributedContext:
    return DistributedContext(dist.get_rank(), dist.get_world_size(), context.local_rank, backend)


@contextmanager
def distributed_session(device: torch.device) -> Iterator[DistributedContext]:
    """init_distributed() for the block; the group it joined is destroyed after, error or not."""
    joined_here = dist.is_available() and not dist.is_initialized()
    context = init_distributed(device)
    try:
        yield context
        if context.is_distributed and joined_here:
            # Every rank finishes its collectives before any rank tears its group down: a
            # rank that left early aborted ("terminate called without an active exception").
            dist.barrier()
    finally:
        if context.is_distributed and joined_here and dist.is_initialized():
            dist.destroy_process_group()


# ---------------------------------------------------------------------------------------------
# Starting a distributed training from Python (the dashboard)


def torchrun_command(processes: int, arguments: Sequence[str]) -> list[str]:
    """`python -m torch.distributed.run` with `processes` workers on this machine, each
    running `python -m engine ARGUMENTS`. `--standalone` picks a free local port itself."""
    if processes < 1:
        raise EngineError("a distributed training needs at least one process")
    return [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={processes}",
        "-m",
        "engine",
        *arguments,
    ]


def engine_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child `python -m engine`: this engine package first on the
    import path, whatever the current folder."""
    environment = dict(os.environ if environ is None else environ)
    root = str(Path(__file__).resolve().parent.parent)
    paths = [root, *filter(None, environment.get("PYTHONPATH", "").split(os.pathsep))]
    environment["PYTHONPATH"] = os.pathsep.join(paths)
    return environment
