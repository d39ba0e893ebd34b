"""Per-patch reference for the ``fos`` extractor: one patch at a time, plain numpy and scipy.stats.

The oracle of calcdet-fos's tests (their ``per_patch_reference`` fixture), and what ``benchmarks/features.py``
times ``extract`` against, so its speed ratio compares equal work.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from calcdet_core.api import FLAT_TOL, Candidates


def patch_at(padded: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """The ``size`` x ``size`` patch centred on (x, y) of an image padded by ``size`` on each side."""
    h, w = padded.shape[0] - 2 * size, padded.shape[1] - 2 * size
    col = int(np.clip(np.rint(x), 0, w - 1)) + size - size // 2
    row = int(np.clip(np.rint(y), 0, h - 1)) + size - size // 2
    return padded[row : row + size, col : col + size]


def shape_moments(v: np.ndarray) -> tuple[float, float]:
    """scipy's skewness and excess kurtosis, defined as 0 on a flat sample."""
    if np.std(v) <= FLAT_TOL * (1 + abs(np.mean(v))):
        return 0.0, 0.0
    return float(stats.skew(v)), float(stats.kurtosis(v))


def entropy_uniformity(v: np.ndarray, bins: int) -> tuple[float, float]:
    counts, _ = np.histogram(v, bins=bins)
    p = counts[counts > 0] / v.size
    return float(-(p * np.log2(p)).sum()), float((p * p).sum())


def fos_one(v: np.ndarray, bins: int) -> list[float]:
    """The 17 features of one flattened patch, in ``calcdet_fos.FEATURES`` order."""
    p10, q25, median, q75, p90 = np.quantile(v, [0.10, 0.25, 0.50, 0.75, 0.90])
    entropy, uniformity = entropy_uniformity(v, bins)
    skewness, kurtosis = shape_moments(v)
    robust = v[(v >= p10) & (v <= p90)]
    return [v.min(), v.max(), p10, p90, v.mean(), median, v.std(), np.sum(v**2), entropy, uniformity,
            skewness, kurtosis, q75 - q25, np.ptp(v), np.mean(np.abs(v - v.mean())),
            np.mean(np.abs(robust - robust.mean())), np.sqrt(np.mean(v**2))]


def reference(extractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    size, bins = extractor.config.patch_size, extractor.config.histogram_bins
    padded = np.pad(image.astype(np.float64), size, mode="reflect")
    rows = [fos_one(patch_at(padded, x, y, size).ravel(), bins) for x, y in candidates.xyr[:, :2]]
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), 17)
