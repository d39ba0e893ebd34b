"""First-order statistics of the intensities in the patch around each candidate (17 features)."""

from __future__ import annotations

import numpy as np
from pydantic import Field

from calcdet_core.api import (
    Candidates,
    ComponentConfig,
    FeatureExtractor,
    entropy_uniformity,
    extract_patches,
    moments,
    quantiles,
)

FEATURES: tuple[tuple[str, str], ...] = (
    ("fos_min", "minimum intensity"),
    ("fos_max", "maximum intensity"),
    ("fos_p10", "10th percentile (linear interpolation)"),
    ("fos_p90", "90th percentile"),
    ("fos_mean", "mean"),
    ("fos_median", "median"),
    ("fos_std", "standard deviation (ddof 0)"),
    ("fos_energy", "sum of squared intensities"),
    ("fos_entropy", "Shannon entropy (bits) of a `histogram_bins`-bin histogram over the patch's [min, max]"),
    ("fos_uniformity", "sum of squared probabilities of that histogram"),
    ("fos_skewness", "biased sample skewness (0 on a flat patch)"),
    ("fos_kurtosis", "biased excess (Fisher) kurtosis (0 on a flat patch)"),
    ("fos_iqr", "75th minus 25th percentile"),
    ("fos_range", "maximum minus minimum"),
    ("fos_mad", "mean absolute deviation from the mean"),
    ("fos_robust_mad", "mean absolute deviation from the mean of the intensities within [p10, p90]"),
    ("fos_rms", "root mean square"),
)
"""Feature names in column order, with their definitions (pyradiomics' first-order set, as the study)."""


class FosConfig(ComponentConfig):
    """The patch and the histogram the statistics are taken over."""

    patch_size: int = Field(14, ge=3, le=256, description="Side of the square patch centred on each candidate (px)")
    histogram_bins: int = Field(
        16, ge=2, le=1024,
        description="Bins of the histogram (spanning each patch's min..max) for entropy and uniformity")


class FirstOrderStatistics(FeatureExtractor):
    """First-order intensity statistics of each candidate's patch, all candidates at once."""

    name = "fos"
    description = "17 first-order intensity statistics (min ... RMS) of the patch centred on each candidate"
    Config = FosConfig
    config: FosConfig

    def feature_names(self) -> list[str]:
        return [name for name, _ in FEATURES]

    def extract(self, image: np.ndarray, candidates: Candidates) -> np.ndarray:
        patches = extract_patches(image, candidates.xyr[:, :2], self.patch_size)
        if not np.isfinite(patches).all():
            raise ValueError("fos: the image holds NaN or infinite pixels in candidates' patches")
        return first_order_features(patches.reshape(len(patches), self.patch_size**2).astype(np.float64),
                                    self.config.histogram_bins)


def first_order_features(x: np.ndarray, bins: int) -> np.ndarray:
    """(N, 17) first-order statistics of the rows of ``x`` (one flattened patch per row)."""
    n = len(x)
    if n == 0:
        return np.zeros((0, len(FEATURES)))
    p10, q25, median, q75, p90 = quantiles(x, (0.10, 0.25, 0.50, 0.75, 0.90))
    mom = moments(x)
    mean = mom["mean"]
    lo, hi = x.min(axis=1), x.max(axis=1)
    entropy, uniformity = entropy_uniformity(x, bins)
    inside = (x >= p10[:, None]) & (x <= p90[:, None])
    count = np.maximum(inside.sum(axis=1), 1)
    robust_mean = np.where(inside, x, 0.0).sum(axis=1) / count
    robust_mad = np.where(inside, np.abs(x - robust_mean[:, None]), 0.0).sum(axis=1) / count
    energy = (x * x).sum(axis=1)
    columns = [lo, hi, p10, p90, mean, median, mom["std"], energy, entropy, uniformity, mom["skewness"],
               mom["kurtosis"], q75 - q25, hi - lo, np.abs(x - mean[:, None]).mean(axis=1), robust_mad,
               np.sqrt(energy / x.shape[1])]
    return np.stack(columns, axis=1)
