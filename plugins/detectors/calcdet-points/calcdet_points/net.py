"""The point detector's network: a light U-Net whose one-channel head is at the input's full resolution.

Imports torch: imported only when the detector fits, detects or loads weights.

Why this shape: MCs are 2-14 px, so the heat map has stride 1 (no stride-4 or stride-16 feature
map would place a 2 px speck); the coarser levels only widen the context (the receptive field
covers the 14 px of the study's largest MC and its surround). Decoder levels add their skip
instead of concatenating it and run one convolution each, so the costly full-resolution part is
three small convolutions.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

PRIOR = 0.01
"""The head's initial MC probability everywhere (CenterNet's bias): MC centres are about 1 pixel in 10^4."""


def conv(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, batch norm, ReLU (same size)."""
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True))


class PointNet(nn.Module):
    """Encoder of ``len(widths)`` levels (each halves the size), decoder back to full size, 1-channel logits.

    ``forward`` takes (B, 1, H, W) with H and W multiples of :attr:`multiple` and returns (B, 1, H, W)
    logits of the MC-centre heat map.
    """

    def __init__(self, widths: Sequence[int], convs: int = 2) -> None:
        super().__init__()
        widths = list(widths)
        self.multiple = 2 ** (len(widths) - 1)
        self.convs = convs
        self.down = nn.ModuleList()
        c_in = 1
        for width in widths:
            self.down.append(nn.Sequential(*[conv(c_in if k == 0 else width, width) for k in range(convs)]))
            c_in = width
        self.lateral = nn.ModuleList(nn.Conv2d(widths[k + 1], widths[k], 1) for k in range(len(widths) - 1))
        self.up = nn.ModuleList(conv(widths[k], widths[k]) for k in range(len(widths) - 1))
        self.head = nn.Conv2d(widths[0], 1, 1)
        nn.init.constant_(self.head.bias, -math.log((1 - PRIOR) / PRIOR))

    @property
    def reach(self) -> int:
        """Rows beyond which an input pixel cannot change an output pixel, a multiple of :attr:`multiple`.

        A bound on the receptive field's radius: per level, its convolutions, the pooling into it and
        the upsampling out of it, each at that level's stride.
        """
        return padded_to((self.convs + 2) * (2 * self.multiple - 1), self.multiple)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for level, block in enumerate(self.down):
            if level:
                x = F.max_pool2d(x, 2)
            x = block(x)
            skips.append(x)
        for level in range(len(self.up) - 1, -1, -1):
            x = F.interpolate(self.lateral[level](x), scale_factor=2, mode="nearest") + skips[level]
            x = self.up[level](x)
        return self.head(x)


def build_net(config: object) -> PointNet:
    """The network a config describes (``widths``, ``convs``)."""
    return PointNet(config.widths, config.convs)  # type: ignore[attr-defined]


def padded_to(size: int, multiple: int) -> int:
    """``size`` rounded up to a multiple of ``multiple``."""
    return -(-size // multiple) * multiple
