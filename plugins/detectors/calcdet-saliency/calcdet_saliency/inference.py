"""Logit maps of a trained patch classifier over an image: dense (one pass per tile) or patch by patch (torch).

Geometry shared by both: the image is mirrored by ``P // 2`` px on each side, and map entry
``k`` at step ``s`` scores the patch whose corner is ``k * s - P // 2``, so its centre lies at
``k * s - P // 2 + (P - 1) / 2`` in the image.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from calcdet_torch.state import Arrays, load_module_arrays

from calcdet_saliency.backbones import PatchClassifier
from calcdet_saliency.net import SmallResNet, folded


def build_net(config: Any) -> SmallResNet | PatchClassifier:
    """The config's classifier: the study's small ResNet, or a torchvision one (``architecture``)."""
    if getattr(config, "architecture", "study-resnet") != "study-resnet":
        return PatchClassifier(config.architecture)
    return SmallResNet(config.patch_size, config.width, config.hidden, config.dropout, config.padding)


def windows_holding(mask: np.ndarray, size: int, stride: int) -> np.ndarray:
    """(rows, cols) bool: which ``size`` px windows at ``stride`` of the mirrored image hold some of ``mask``."""
    padded = np.pad(np.asarray(mask, bool).astype(np.int64), size // 2)
    c = np.pad(padded.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    sums = c[size:, size:] - c[:-size, size:] - c[size:, :-size] + c[:-size, :-size]
    return sums[::stride, ::stride] > 0


class Inference:
    """A net built from numpy weights on one device; the small ResNet's batch norms folded (:func:`folded`)."""

    def __init__(self, config: Any, weights: Arrays, device: str, source: str = "weights") -> None:
        self.config = config
        self.device = torch.device(device)
        self.net = build_net(config)
        load_module_arrays(self.net, weights, source)
        self.net = (folded(self.net) if isinstance(self.net, SmallResNet) else self.net.eval()).to(self.device)

    @property
    def margin(self) -> int:
        return self.config.patch_size // 2

    def mirrored(self, pixels: np.ndarray, extra: int = 0) -> np.ndarray:
        return np.pad(np.asarray(pixels, np.float32), self.margin + extra, mode="symmetric")

    def dense(self, pixels: np.ndarray, stride: int, region: np.ndarray | None = None, tile: int = 512) -> np.ndarray:
        """Logits at every ``stride``-th patch corner, the net run fully convolutionally on overlapping tiles.

        ``stride`` divides the net's own stride ``D``: the ``(D / stride)^2`` shifted passes are
        interleaved (shift and stitch). A padded net sees ``halo`` px of real context around
        each tile (its outputs there are discarded), so tile seams do not show; ``region``
        (a mask) skips tiles without any of it (their logits are -inf).
        """
        net, size = self.net, self.config.patch_size
        step = net.stride
        if step % stride:
            raise ValueError(f"resnet-saliency: stride {stride} does not divide the network's stride {step}")
        halo = math.ceil(size / step) * step if net.padding else 0
        image = self.mirrored(pixels, halo)
        inside = None if region is None else np.pad(np.asarray(region, bool), self.margin + halo)
        h, w = image.shape[0] - 2 * halo, image.shape[1] - 2 * halo
        rows, cols = (h - size) // stride + 1, (w - size) // stride + 1
        out = np.full((max(rows, 0), max(cols, 0)), -np.inf, np.float32)
        per_tile = max(1, tile // step)
        for oy in range(0, step, stride):
            for ox in range(0, step, stride):
                n_rows, n_cols = (h - oy - size) // step + 1, (w - ox - size) // step + 1
                for a in range(0, max(n_rows, 0), per_tile):
                    for b in range(0, max(n_cols, 0), per_tile):
                        ta, tb = min(per_tile, n_rows - a), min(per_tile, n_cols - b)
                        y0, x0 = oy + a * step, ox + b * step  # tile corner without the halo
                        y1, x1 = y0 + (ta - 1) * step + size, x0 + (tb - 1) * step + size
                        if inside is not None and not inside[y0 + halo : y1 + halo, x0 + halo : x1 + halo].any():
                            continue
                        crop = image[y0 : y1 + 2 * halo, x0 : x1 + 2 * halo]
                        with torch.inference_mode():
                            logits = net.dense(torch.from_numpy(np.ascontiguousarray(crop))[None, None]
                                               .to(self.device))[0].cpu().numpy()
                        skip = halo // step
                        block = logits[skip : skip + ta, skip : skip + tb]
                        every = step // stride
                        r0, c0 = (a * step + oy) // stride, (b * step + ox) // stride
                        out[r0::every, c0::every][:ta, :tb] = block
        return out

    def patches(self, patches: np.ndarray, batch: int = 1024) -> np.ndarray:
        """Logits of (N, P, P) patches, classified one by one (in batches)."""
        out = []
        with torch.inference_mode():
            for start in range(0, len(patches), batch):
                chunk = torch.from_numpy(np.ascontiguousarray(patches[start : start + batch], np.float32))
                out.append(self.net(chunk[:, None].to(self.device)).cpu().numpy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def sliding(self, pixels: np.ndarray, stride: int, normalise_patch: bool = False, batch: int = 1024,
                region: np.ndarray | None = None) -> np.ndarray:
        """The same map as :meth:`dense`, built by cutting and classifying every patch explicitly.

        Windows are cut one batch at a time (a 224 px window grid would not fit in memory at once);
        with ``region`` (a mask) only windows holding some of it are classified, the others are -inf.
        """
        size = self.config.patch_size
        image = self.mirrored(pixels)
        rows, cols = (image.shape[0] - size) // stride + 1, (image.shape[1] - size) // stride + 1
        windows = np.lib.stride_tricks.sliding_window_view(image, (size, size))[::stride, ::stride][:rows, :cols]
        keep = np.ones((rows, cols), bool) if region is None else windows_holding(region, size, stride)[:rows, :cols]
        picked = np.argwhere(keep)
        out = np.full((rows, cols), -np.inf, np.float32)
        parts = []
        for start in range(0, len(picked), batch):
            chunk = windows[picked[start : start + batch, 0], picked[start : start + batch, 1]]
            if normalise_patch:
                from calcdet_torch.patches import zscore

                chunk = zscore(chunk)
            parts.append(self.patches(chunk, batch))
        if parts:
            out[keep] = np.concatenate(parts)
        return out
