"""Per-patch reference for the ``gabor`` extractor: the whole image filtered once per kernel with
``cv2.filter2D`` (as the study did), then one patch at a time with numpy and scipy.stats.

The oracle of calcdet-gabor's tests (their ``per_patch_reference`` fixture), and what ``benchmarks/features.py``
times ``extract`` against, so its speed ratio compares equal work.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import stats

from calcdet_core.api import FLAT_TOL, Candidates


def patch_at(padded: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """The ``size`` x ``size`` patch centred on (x, y) of an image padded by ``size`` on each side."""
    h, w = padded.shape[0] - 2 * size, padded.shape[1] - 2 * size
    col = int(np.clip(np.rint(x), 0, w - 1)) + size - size // 2
    row = int(np.clip(np.rint(y), 0, h - 1)) + size - size // 2
    return padded[row : row + size, col : col + size]


def patch_stats(v: np.ndarray) -> list[float]:
    """Energy, mean, std, skewness, excess kurtosis (shape moments 0 on a flat patch)."""
    flat = np.std(v) <= FLAT_TOL * (1 + abs(np.mean(v)))
    skewness = 0.0 if flat else float(stats.skew(v))
    kurtosis = 0.0 if flat else float(stats.kurtosis(v))
    return [float(np.sum(v**2)), float(np.mean(v)), float(np.std(v)), skewness, kurtosis]


def reference(extractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    size = extractor.config.patch_size
    image64 = image.astype(np.float64)
    padded = [np.pad(cv2.filter2D(image64, cv2.CV_64F, k.kernel, borderType=cv2.BORDER_REFLECT_101), size,
                     mode="reflect") for k in extractor.bank()]
    rows = []
    for x, y in candidates.xyr[:, :2]:
        row: list[float] = []
        for filtered in padded:
            row += patch_stats(patch_at(filtered, x, y, size).ravel())
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), 5 * len(padded))
