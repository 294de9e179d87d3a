"""What the hardware can do: a description of the machine and its measured matrix-multiply rate,
the ceiling that training efficiency is reported against.
"""

from __future__ import annotations

import os
import platform
from contextlib import suppress
from datetime import UTC, datetime

import torch

from bench.measure import median_seconds


def matmul_flops_per_second(
    device: torch.device | str = "cpu",
    size: int = 2048,
    repeats: int = 5,
    dtype: torch.dtype = torch.float32,
) -> float:
    """FLOP/s of one `size` x `size` `torch.mm` (2 * size**3 FLOPs), median of `repeats` runs.

    This is the machine's practical ceiling for dense maths at this precision, measured in the
    same run as the training it is compared with, so both see the same load.
    """
    device = torch.device(device)
    generator = torch.Generator(device=device).manual_seed(0)  # made where it is used: fast
    left = torch.randn(size, size, generator=generator, device=device).to(dtype)
    right = torch.randn(size, size, generator=generator, device=device).to(dtype)
    seconds = median_seconds(lambda: torch.mm(left, right), repeats, warmup=1, device=device)
    return 2.0 * size**3 / seconds


def cpu_name() -> str:
    """The processor's model name where Linux says it, else what `platform` knows."""
    with suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
        for line in cpuinfo:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def load_average() -> float | None:
    """The 1-minute load average: above the core count, other work shared the machine."""
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def describe_machine(device: torch.device | str = "cpu") -> dict[str, object]:
    """Facts a reader needs to compare numbers across machines."""
    device = torch.device(device)
    facts: dict[str, object] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_name(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "device": str(device),
        "load_average": load_average(),
    }
    if device.type == "cuda":
        facts["gpu"] = torch.cuda.get_device_name(device)
    return facts
