"""``--device``: where learning components compute. A run setting, never a pipeline parameter."""

from __future__ import annotations

import re

DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


def check_device(request: str) -> str:
    """``request`` if it is ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; a clear error otherwise."""
    if not DEVICE_PATTERN.match(request):
        raise ValueError(f"--device {request!r}: choose auto, cpu, cuda or cuda:N")
    return request


def resolve_device(request: str) -> str:
    """``auto`` becomes ``cuda`` when torch is installed and sees a GPU, else ``cpu``; a CUDA request is checked.

    torch is imported only here, so pipelines without a torch component never pay for it.
    """
    check_device(request)
    if request == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        if request == "auto":
            return "cpu"
        raise ValueError(f"--device {request}: torch is not installed") from None
    if request == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise ValueError(f"--device {request}: torch sees no CUDA device on this machine")
    index = int(request.partition(":")[2] or 0)
    if index >= torch.cuda.device_count():
        raise ValueError(f"--device {request}: only {torch.cuda.device_count()} CUDA device(s) here")
    return request
