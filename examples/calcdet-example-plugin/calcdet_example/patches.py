"""Training crops for the FCN detector: pixels, a Gaussian heat-map target and a loss weight per pixel (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_core.api import TrainingImage


@dataclass(frozen=True)
class CropSpec:
    """How crops are drawn from one image."""

    size: int
    count: int
    positive_fraction: float
    sigma: float
    positive_weight: float


def heat_target(shape: tuple[int, int], centres: np.ndarray, sigma: float) -> np.ndarray:
    """Per-pixel target in [0, 1]: the highest Gaussian of width ``sigma`` over the (K, 2) ``centres`` (x, y)."""
    h, w = shape
    out = np.zeros(shape, np.float32)
    yy, xx = np.mgrid[:h, :w]
    for x, y in centres:
        np.maximum(out, np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)), out=out)
    return out


def standardised(pixels: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Pixels as z-scores of the breast's own intensities, so the net sees contrast, not exposure.

    Statistics come from the pixels inside ``mask`` (all pixels when there is no mask or it is
    empty); a flat image has no contrast to standardise and comes back centred, unscaled.
    """
    pixels = np.asarray(pixels, np.float32)
    inside = pixels[mask] if mask is not None and mask.any() else pixels
    mean, std = float(inside.mean()), float(inside.std())
    return ((pixels - mean) / (std if std > 0 else 1.0)).astype(np.float32)


def _padded(image: TrainingImage, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Standardised pixels (edge-padded) and mask (False in the padding), both at least ``size`` on each side."""
    mask = np.ones(np.shape(image.pixels), bool) if image.mask is None else np.asarray(image.mask, bool)
    pixels = standardised(image.pixels, mask)
    pad = ((0, max(0, size - pixels.shape[0])), (0, max(0, size - pixels.shape[1])))
    return np.pad(pixels, pad, mode="edge"), np.pad(mask, pad, constant_values=False)


def sample_crops(image: TrainingImage, spec: CropSpec, rng: np.random.Generator
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``spec.count`` crops (C, S, S) of pixels, heat targets and loss weights (zero outside the breast mask).

    A ``positive_fraction`` of the crops is centred near an annotated MC (jittered by up to a quarter
    crop); the rest lie anywhere, so the net also sees the parenchyma, the skin line and the background.
    """
    pixels, mask = _padded(image, spec.size)
    h, w = pixels.shape
    centres = np.array([(t.x, t.y) for t in image.annotation.targets], np.float64).reshape(-1, 2)
    s = spec.size
    crops, targets, weights = [], [], []
    for _ in range(spec.count):
        if len(centres) and rng.random() < spec.positive_fraction:
            cx, cy = centres[rng.integers(len(centres))] + rng.uniform(-s / 4, s / 4, 2)
            x0, y0 = int(np.clip(round(cx - s / 2), 0, w - s)), int(np.clip(round(cy - s / 2), 0, h - s))
        else:
            x0, y0 = int(rng.integers(0, w - s + 1)), int(rng.integers(0, h - s + 1))
        target = heat_target((s, s), centres - (x0, y0), spec.sigma)
        crops.append(pixels[y0 : y0 + s, x0 : x0 + s])
        targets.append(target)
        weights.append(mask[y0 : y0 + s, x0 : x0 + s] * (1 + spec.positive_weight * target))
    return np.stack(crops), np.stack(targets), np.stack(weights).astype(np.float32)
