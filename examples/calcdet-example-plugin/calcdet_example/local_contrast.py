"""A local-contrast proposer: bright pixels that stand out from a box-filtered surround."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from calcdet_core.api import Candidates, ComponentConfig, Proposer


def box_mean(image: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a (2r+1)^2 window, edges replicated, via an integral image (O(1) per pixel)."""
    size = 2 * radius + 1
    padded = np.pad(image.astype(np.float64), radius + 1, mode="edge")
    integral = padded.cumsum(0).cumsum(1)
    h, w = image.shape
    total = (integral[size:size + h, size:size + w] - integral[:h, size:size + w]
             - integral[size:size + h, :w] + integral[:h, :w])
    return total / size**2


def local_maxima(values: np.ndarray) -> np.ndarray:
    """Pixels strictly greater than their 8 neighbours."""
    padded = np.pad(values, 1, mode="constant", constant_values=-np.inf)
    h, w = values.shape
    peak = np.ones(values.shape, bool)
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            if dy or dx:
                peak &= values > padded[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w]
    return peak


class LocalContrastProposer(Proposer):
    """Proposes local maxima of (pixel - surround mean) above a multiple of the robust noise level."""

    name = "local-contrast"
    description = "Local maxima of centre-minus-surround contrast above k robust standard deviations."

    class Config(ComponentConfig):
        surround_radius: int = Field(7, ge=1, le=64, description="Half-width of the surround box, px.")
        k: float = Field(4.0, gt=0, le=100, description="Threshold in robust standard deviations (1.4826 * MAD).")
        radius: float = Field(3.0, gt=0, le=100, description="Radius reported for every candidate, px.")

    def propose(self, image: np.ndarray, mask: np.ndarray | None = None) -> Candidates:
        image = np.asarray(image)
        if image.ndim != 2:
            raise ValueError(f"local-contrast needs a 2-D grey image, got shape {image.shape}")
        if not np.isfinite(image).all():
            raise ValueError("local-contrast needs finite pixel values; the image contains NaN or inf")
        contrast = image - box_mean(image, self.config.surround_radius)
        robust_sd = 1.4826 * np.median(np.abs(contrast - np.median(contrast)))
        if robust_sd == 0:
            return Candidates.empty()
        keep = local_maxima(contrast) & (contrast > self.config.k * robust_sd)
        if mask is not None:
            keep &= np.asarray(mask, bool)
        y, x = np.nonzero(keep)
        return Candidates.from_columns(x, y, np.full(len(x), self.config.radius), contrast[y, x])
