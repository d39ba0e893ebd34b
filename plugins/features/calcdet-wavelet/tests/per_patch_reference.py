"""Per-patch reference for the ``wavelet`` extractor: ``pywt.dwt2`` on one patch at a time,
scipy.stats / numpy.histogram per sub-band, and scikit-image's ``graycomatrix`` / ``graycoprops``.

The oracle of calcdet-wavelet's tests (their ``per_patch_reference`` fixture), and what ``benchmarks/features.py``
times ``extract`` against, so its speed ratio compares equal work.
"""

from __future__ import annotations

import numpy as np
import pywt
from scipy import stats
from skimage.feature import graycomatrix, graycoprops

from calcdet_core.api import FLAT_TOL, Candidates


def patch_at(padded: np.ndarray, x: float, y: float, size: int) -> np.ndarray:
    """The ``size`` x ``size`` patch centred on (x, y) of an image padded by ``size`` on each side."""
    h, w = padded.shape[0] - 2 * size, padded.shape[1] - 2 * size
    col = int(np.clip(np.rint(x), 0, w - 1)) + size - size // 2
    row = int(np.clip(np.rint(y), 0, h - 1)) + size - size // 2
    return padded[row : row + size, col : col + size]


def band_stats(band: np.ndarray, bins: int) -> list[float]:
    """Mean, skewness, std, kurtosis, entropy, uniformity, relative smoothness of one sub-band."""
    v = band.ravel()
    flat = np.std(v) <= FLAT_TOL * (1 + abs(np.mean(v)))
    counts, _ = np.histogram(v, bins=bins)
    p = counts[counts > 0] / v.size
    return [float(np.mean(v)), 0.0 if flat else float(stats.skew(v)), float(np.std(v)),
            0.0 if flat else float(stats.kurtosis(v)), float(-(p * np.log2(p)).sum()), float((p * p).sum()),
            1 - 1 / (1 + np.var(v))]


def quantise(band: np.ndarray, levels: int) -> np.ndarray:
    """The band's [min, max] in ``levels`` equal steps (max to the top level; flat -> level 0)."""
    lo, hi = band.min(), band.max()
    if hi == lo:
        return np.zeros(band.shape, np.uint8)
    return np.minimum(((band - lo) / (hi - lo) * levels).astype(np.intp), levels - 1).astype(np.uint8)


def glcm_stats(band: np.ndarray, config) -> list[float]:
    angles = [np.deg2rad(a) for a in config.glcm_angles]
    p = graycomatrix(quantise(band, config.glcm_levels), [config.glcm_distance], angles,
                     levels=config.glcm_levels, symmetric=False, normed=True)
    props = [graycoprops(p, name)[0] for name in ("correlation", "homogeneity", "contrast", "dissimilarity")]
    return [float(props[k][a]) for a in range(len(angles)) for k in range(4)]


def wavelet_one(patch: np.ndarray, config) -> list[float]:
    ll1, (lh1, hl1, hh1) = pywt.dwt2(patch, "haar")
    ll2, (lh2, hl2, hh2) = pywt.dwt2(ll1, "haar")
    row: list[float] = []
    for band in (ll1, lh1, hl1, hh1, ll2, lh2, hl2, hh2):
        row += band_stats(band, config.histogram_bins)
    for band in (lh1, hl1, hh1):
        row += glcm_stats(band, config)
    return row


def reference(extractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    config, size = extractor.config, extractor.config.patch_size
    padded = np.pad(image.astype(np.float64), size, mode="reflect")
    rows = [wavelet_one(patch_at(padded, x, y, size), config) for x, y in candidates.xyr[:, :2]]
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), len(extractor.feature_names()))
