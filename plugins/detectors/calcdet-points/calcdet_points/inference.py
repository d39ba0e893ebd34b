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


def heatmaps(net: PointNet, images: Sequence[np.ndarray], device: torch.device) -> list[np.ndarray]:
    """MC-centre probabilities (H, W) of each image (breast z-scores), all of one size, in one pass.

    Each image is zero-padded at its bottom and right to a multiple of the net's levels and the
    map cropped back, so a batch gives each image the map it gets alone.
    """
    if not images:
        return []
    h, w = images[0].shape
    ph, pw = padded_to(h, net.multiple), padded_to(w, net.multiple)
    batch = np.zeros((len(images), 1, ph, pw), np.float32)
    for k, image in enumerate(images):
        batch[k, 0, :h, :w] = image
    with torch.inference_mode():
        heat = torch.sigmoid(net(torch.from_numpy(batch).to(device)))[:, 0, :h, :w]
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
        self.device = torch.device(device)
        net = build_net(config)
        load_module_arrays(net, weights, source)
        self.net = fused(net).to(self.device)

    def heatmaps(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        return heatmaps(self.net, images, self.device)
