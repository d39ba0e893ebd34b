"""An exponential moving average of a model's weights, the model a fit validates and keeps (imports torch).

Why: a detector trained on a few dozen images at a high learning rate swings from step to step (on
the 120-image benchmark point-heatmap's validation FROC AUC moved by 0.1 between neighbouring
epochs); the average of the recent steps' weights is steadier and usually better, as in YOLO's and
timm's training. The optimizer steps the raw weights; validation, model selection and the saved
weights use the average.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

WARMUP = 10
"""The decay starts at (1 + step) / (WARMUP + step), so the first steps' random weights fade out fast."""


class WeightAverage:
    """``model``'s exponential moving average with ``decay`` per optimizer step (batch-norm statistics too)."""

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)
        self.decay, self.steps = decay, 0

    def update(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average (after an optimizer step)."""
        self.steps += 1
        decay = min(self.decay, (1 + self.steps) / (WARMUP + self.steps))
        with torch.no_grad():
            for average, current in zip(self.model.state_dict().values(), model.state_dict().values(), strict=True):
                if average.dtype.is_floating_point:
                    average.lerp_(current.detach(), 1 - decay)
                else:
                    average.copy_(current)
