"""torchvision classifiers for 224 px patches (ResNet-50, DenseNet-121, EfficientNet-B0..B3), imports torch.

Built from scratch (``weights=None``: nothing is downloaded), the first convolution swapped
for a one-channel one of the same shape otherwise, the head a single logit. They classify
patches only (no dense pass): the detector slides them over the breast (``inference: study``).
"""

from __future__ import annotations

import torch
import torchvision
from torch import nn

TORCHVISION_ARCHITECTURES = ("resnet50", "densenet121", "efficientnet_b0", "efficientnet_b1", "efficientnet_b2",
                             "efficientnet_b3")


def _one_channel(conv: nn.Conv2d) -> nn.Conv2d:
    """A convolution like ``conv`` that reads one channel (grey patches) instead of three."""
    return nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding, bias=conv.bias is not None)


class PatchClassifier(nn.Module):
    """A torchvision classifier with one input channel and one logit: (N, 1, P, P) patches -> (N,) logits."""

    def __init__(self, architecture: str) -> None:
        super().__init__()
        if architecture not in TORCHVISION_ARCHITECTURES:
            raise ValueError(f"unknown architecture {architecture!r}; one of {', '.join(TORCHVISION_ARCHITECTURES)}")
        net = getattr(torchvision.models, architecture)(weights=None, num_classes=1)
        if architecture == "resnet50":
            net.conv1 = _one_channel(net.conv1)
        elif architecture == "densenet121":
            net.features.conv0 = _one_channel(net.features.conv0)
        else:
            net.features[0][0] = _one_channel(net.features[0][0])
        self.backbone = net

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.backbone(patches)[:, 0]
