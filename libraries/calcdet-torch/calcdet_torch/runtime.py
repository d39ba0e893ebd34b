"""Seeds and devices from the training context (imports torch)."""

from __future__ import annotations

import torch

from calcdet_core.api import TrainingContext


def seed_torch(seed: int) -> None:
    """Seed torch's generators (CPU and CUDA) and ask cuDNN for deterministic kernels.

    numpy draws come from ``context.rng(stream)``, never from numpy's global generator.
    """
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def context_device(context: TrainingContext) -> torch.device:
    """The device ``--device`` resolved to (``cpu``, ``cuda:N``)."""
    return torch.device(context.device)
