"""Heat maps from the trained network (imports torch; imported when the detector detects or loads weights)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from calcdet_torch.state import Arrays, load_module_arrays
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from calcdet_points.net import PointNet, build_net, padded_to


def heatmaps(net: PointNet, images: Sequence[np.ndarray], device: torch.device, strip: int = 0) -> list[np.ndarray]:
    """MC-centre probabilities (H, W) of each image (breast z-scores), all of one size, in one pass.

    Each image is zero-padded at its bottom and right to a multiple of the net's levels and the
    map cropped back, so a batch gives each image the map it gets alone. With ``strip`` (rows, a
    multiple of ``net.multiple``) the net runs on strips of that many rows plus ``net.reach`` rows
    above and below: the same map (no output pixel sees past its strip's margin), in less memory
    and faster on a CPU (4.4 s against 6.2 s for a 2848x2216 image here).
    """
    if not images:
        return []
    h, w = images[0].shape
    ph, pw = padded_to(h, net.multiple), padded_to(w, net.multiple)
    batch = np.zeros((len(images), 1, ph, pw), np.float32)
    for k, image in enumerate(images):
        batch[k, 0, :h, :w] = image
    x = torch.from_numpy(batch).to(device)
    with torch.inference_mode():
        if not strip or ph <= strip + 2 * net.reach:
            logits = net(x)
        else:
            logits = torch.empty_like(x)
            for top in range(0, ph, strip):
                a, b = max(top - net.reach, 0), min(top + strip + net.reach, ph)
                part = net(x[:, :, a:b])
                logits[:, :, top : top + strip] = part[:, :, top - a : top - a + min(strip, ph - top)]
        heat = torch.sigmoid(logits)[:, 0, :h, :w]
    return list(heat.float().cpu().numpy())


def fused(net: PointNet) -> PointNet:
    """The net in evaluation mode with each batch norm folded into its convolution (the same maps, faster)."""
    net.eval()
    for module in net.modules():
        if isinstance(module, nn.Sequential) and len(module) == 3 and isinstance(module[1], nn.BatchNorm2d):
            module[0], module[1] = fuse_conv_bn_eval(module[0], module[1]), nn.Identity()
    return net


class Inference:
    """The trained network on a device, ready to turn batches of images into heat maps."""

    def __init__(self, config: Any, weights: Arrays, device: str, source: str = "weights") -> None:
        self.device, self.strip = torch.device(device), config.strip_rows
        net = build_net(config)
        load_module_arrays(net, weights, source)
        self.net = fused(net).to(self.device)

    def heatmaps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        return heatmaps(self.net, images, self.device, self.strip)
