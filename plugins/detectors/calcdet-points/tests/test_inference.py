"""Detection in strips of rows gives the map of the whole image at once, for every depth and convolution count."""

import numpy as np
import pytest
import torch
from calcdet_points.inference import fused, heatmaps
from calcdet_points.net import PointNet


@pytest.mark.parametrize(("widths", "convs"), [((4, 8, 16), 2), ((4, 8), 1), ((4, 4, 8, 8), 3)])
def test_strips_give_the_whole_image_s_map(widths, convs):
    torch.manual_seed(0)
    net = fused(PointNet(widths, convs))
    with torch.no_grad():  # random batch-norm statistics and biases: every pixel sees its whole receptive field
        for p in net.parameters():
            p.add_(torch.randn_like(p) * 0.1)
    images = [np.random.default_rng(k).normal(size=(301, 83)).astype(np.float32) for k in range(2)]
    whole = heatmaps(net, images, torch.device("cpu"))
    striped = heatmaps(net, images, torch.device("cpu"), strip=net.multiple * 2)
    assert net.reach + 2 * net.multiple * 2 < 301  # strips were used
    for a, b in zip(whole, striped, strict=True):
        assert a.shape == b.shape == (301, 83)
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-6)
