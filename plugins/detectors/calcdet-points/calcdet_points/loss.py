"""The focal loss of CenterNet for heat maps where about one pixel in 10^4 is an MC centre (imports torch).

Why not binary cross-entropy: with 10^4 background pixels per centre, plain cross-entropy is
minimised by predicting nothing. The focal term ``p^alpha`` (``(1 - p)^alpha`` at centres) lets
the easy background fade out of the sum, ``(1 - heat)^beta`` forgives near misses around a centre,
and the sum is divided by the number of centres, not of pixels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def focal_loss(logits: torch.Tensor, heat: torch.Tensor, alpha: float = 2.0, beta: float = 4.0) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss of ``logits`` against target ``heat`` (1 at centres), per centre."""
    p = torch.sigmoid(logits)
    centre = heat.eq(1).to(logits.dtype)
    positive = -((1 - p) ** alpha) * F.logsigmoid(logits) * centre
    negative = -((1 - heat) ** beta) * p**alpha * F.logsigmoid(-logits) * (1 - centre)
    return (positive.sum() + negative.sum()) / centre.sum().clamp(min=1.0)
