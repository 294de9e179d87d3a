"""Where tensors live: the one place that turns "auto" into a real device.

torch is imported inside the functions, so the command line's parser can offer
`DEVICE_CHOICES` without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import EngineError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    import torch

    backend = getattr(torch.backends, "mps", None)
    return bool(backend and backend.is_available())


def resolve_device(name: str = "auto") -> torch.device:
    """Return the device for `name`: "auto" picks CUDA, then MPS, then CPU."""
    import torch

    if name not in DEVICE_CHOICES and not name.startswith("cuda:"):
        raise EngineError(f"unknown device {name!r}: use one of {', '.join(DEVICE_CHOICES)}")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise EngineError("CUDA was asked for but no CUDA GPU is visible: use --device auto or cpu")
    if name == "mps" and not _mps_available():
        raise EngineError("MPS was asked for but is not available: use --device auto or cpu")
    return torch.device(name)


def describe_device(device: torch.device) -> str:
    """A human name for the device: the GPU's model, or the CPU's thread count."""
    import torch

    if device.type == "cuda":
        return f"GPU: {torch.cuda.get_device_name(device)}"
    if device.type == "mps":
        return "GPU: Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"
