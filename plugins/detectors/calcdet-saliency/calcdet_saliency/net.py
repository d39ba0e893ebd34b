"""The study's ResNet for small patches, written so it also runs fully convolutionally (imports torch).

Basic residual blocks; no 7x7 stride-2 stem and no max-pool (a 16 px patch cannot afford
them); a 3x3 stem, then stages that double the channels, the first at full resolution and
the others halving it, as many as leave a 4x4 map (16 px: 3 stages, 32 px: 4, 64 px: 5).
The head (average pool, dropout 0.4, linear, GELU, linear) is written as a pool over the
final map and 1x1 convolutions, so the same weights score one patch or, on a whole image,
every patch position at the net's stride in one pass.

``padding=False`` gives the padding-free variant: valid convolutions with the residual
branch cropped to match. Its dense map equals patch-by-patch classification exactly.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


class Block(nn.Module):
    """A basic residual block: two 3x3 convolutions with batch norm, identity (or 1x1) shortcut."""

    def __init__(self, inplanes: int, planes: int, stride: int, padding: bool) -> None:
        super().__init__()
        pad = 1 if padding else 0
        self.conv1 = nn.Conv2d(inplanes, planes, 3, stride, pad, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, pad, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.padding, self.stride = padding, stride
        self.downsample = (nn.Sequential(nn.Conv2d(inplanes, planes, 1, stride, bias=False), nn.BatchNorm2d(planes))
                           if stride != 1 or inplanes != planes else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # In-place ReLUs and sum: the same values without two feature-map allocations (a sixth of dense inference's
        # CPU time); autograd allows them, as batch norm's backward needs its input, not its output.
        out = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)), inplace=True)))
        identity = x
        if not self.padding:  # the centre of output j lies at input stride * j + stride + 1 (two valid 3x3 convs)
            skip = self.stride + 1
            identity = identity[:, :, skip:, skip:]
        if self.downsample is not None:
            identity = self.downsample(identity)
        out += identity[:, :, : out.shape[2], : out.shape[3]]
        return out.relu_()


def stages_for(patch_size: int) -> int:
    """Stages that leave a 4x4 map: 1 at full resolution plus one per halving (16 px: 3, 32 px: 4, 64 px: 5)."""
    return max(1, patch_size.bit_length() - 2)


class SmallResNet(nn.Module):
    """The patch classifier: one logit per patch, or a logit map over an image (:meth:`dense`)."""

    def __init__(self, patch_size: int = 16, width: int = 64, hidden: int = 64, dropout: float = 0.4,
                 padding: bool = True, stages: int | None = None) -> None:
        super().__init__()
        self.patch_size, self.padding = patch_size, padding
        stages = stages_for(patch_size) if stages is None else stages
        self.stem = nn.Sequential(nn.Conv2d(1, width, 3, 1, 1 if padding else 0, bias=False), nn.BatchNorm2d(width),
                                  nn.ReLU(inplace=True))
        layers, planes = [], width
        for i in range(stages):
            stride = 1 if i == 0 else 2
            layers.append(nn.Sequential(Block(planes, planes * 2, stride, padding), Block(planes * 2, planes * 2, 1,
                                                                                           padding)))
            planes *= 2
        self.stages = nn.Sequential(*layers)
        self.stride = 2 ** (stages - 1)
        self.dropout = nn.Dropout(dropout)
        self.fc1 = nn.Conv2d(planes, hidden, 1)
        self.fc2 = nn.Conv2d(hidden, 1, 1)
        try:
            with torch.no_grad():
                self.pool = int(self.features(torch.zeros(1, 1, patch_size, patch_size)).shape[-1])
        except RuntimeError as exc:
            raise ValueError(f"a {patch_size} px patch is too small for this network ({stages} stages)") from exc
        for m in self.modules():
            if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def head(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(self.dropout(pooled))))

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        """(N, 1, P, P) patches -> (N,) logits."""
        pooled = self.features(patches).mean(dim=(2, 3), keepdim=True)
        return self.head(pooled)[:, 0, 0, 0]

    def dense(self, image: torch.Tensor) -> torch.Tensor:
        """(N, 1, H, W) images -> (N, h, w) logits; entry (i, j) scores the patch whose corner is (i, j) * stride."""
        pooled = F.avg_pool2d(self.features(image), self.pool, stride=1)
        return self.head(pooled)[:, 0]


def folded(net: SmallResNet) -> SmallResNet:
    """An eval-mode copy of ``net`` with every batch norm folded into the convolution before it.

    Inference only: the same logits (to float rounding) with a quarter fewer passes over the
    feature maps; the copy is in channels-last layout, which oneDNN's CPU convolutions run faster.
    """
    net = copy.deepcopy(net).eval()
    net.stem[0], net.stem[1] = fuse_conv_bn_eval(net.stem[0], net.stem[1]), nn.Identity()
    for block in net.modules():
        if isinstance(block, Block):
            block.conv1, block.bn1 = fuse_conv_bn_eval(block.conv1, block.bn1), nn.Identity()
            block.conv2, block.bn2 = fuse_conv_bn_eval(block.conv2, block.bn2), nn.Identity()
            if block.downsample is not None:
                conv, bn = block.downsample
                block.downsample = nn.Sequential(fuse_conv_bn_eval(conv, bn))
    return net.to(memory_format=torch.channels_last)
