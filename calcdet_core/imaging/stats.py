"""Vectorised statistics over a stack of samples (one row per patch), shared by the texture plugins.

Every function takes an (N, M) float64 array, one row per patch, and reduces along the rows, so
all candidates of an image are handled by a few numpy calls. Conventions (documented because the
textbook formulas are undefined on a flat patch):

- skewness and kurtosis are the biased sample moments ``m3 / m2**1.5`` and ``m4 / m2**2 - 3``
  (Fisher, excess), as ``scipy.stats.skew`` / ``scipy.stats.kurtosis`` with default arguments;
  on a flat row (standard deviation <= ``FLAT_TOL * (1 + |mean|)``) both are defined as 0.
- entropy (bits) and uniformity (sum of squared probabilities) use a histogram of ``bins``
  equal bins spanning each row's own [min, max], as ``numpy.histogram(row, bins)``; a flat
  row falls in one bin: entropy 0, uniformity 1.
"""

from __future__ import annotations

import numpy as np

FLAT_TOL = 1e-9
"""A row whose standard deviation is at most ``FLAT_TOL * (1 + |mean|)`` is flat (rounding noise only)."""


def is_flat(std: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """Rows whose spread is rounding noise: their shape moments are defined as 0."""
    return std <= FLAT_TOL * (1.0 + np.abs(mean))


def moments(x: np.ndarray) -> dict[str, np.ndarray]:
    """Mean, standard deviation (ddof 0), skewness and excess kurtosis of every row."""
    mean = x.mean(axis=1)
    d = x - mean[:, None]
    d2 = d * d
    m2 = d2.mean(axis=1)
    m3 = (d2 * d).mean(axis=1)
    m4 = (d2 * d2).mean(axis=1)
    std = np.sqrt(m2)
    flat = is_flat(std, mean)
    safe = np.where(flat, 1.0, m2)
    skewness = np.where(flat, 0.0, m3 / safe**1.5)
    kurtosis = np.where(flat, 0.0, m4 / safe**2 - 3.0)
    return {"mean": mean, "std": std, "skewness": skewness, "kurtosis": kurtosis}


def histogram_counts(x: np.ndarray, bins: int) -> np.ndarray:
    """(N, bins) counts of each row over ``bins`` equal bins spanning the row's [min, max]."""
    n = len(x)
    lo = x.min(axis=1, keepdims=True)
    width = x.max(axis=1, keepdims=True) - lo
    safe = np.where(width > 0, width, 1.0)
    # Same arithmetic as numpy.histogram; a flat row goes to one bin (which one does not matter).
    index = np.where(width > 0, (x - lo) / safe * bins, 0.0).astype(np.intp)
    np.clip(index, 0, bins - 1, out=index)
    flat_index = index + (np.arange(n) * bins)[:, None]
    return np.bincount(flat_index.ravel(), minlength=n * bins).reshape(n, bins)


def entropy_uniformity(x: np.ndarray, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Shannon entropy (bits) and uniformity of each row's ``bins``-bin histogram."""
    p = histogram_counts(x, bins) / x.shape[1]
    logp = np.log2(np.where(p > 0, p, 1.0))
    return -(p * logp).sum(axis=1), (p * p).sum(axis=1)


def quantiles(x: np.ndarray, qs: tuple[float, ...]) -> np.ndarray:
    """(len(qs), N) quantiles of every row, linear interpolation (numpy's default method)."""
    s = np.sort(x, axis=1)
    m = x.shape[1]
    out = np.empty((len(qs), x.shape[0]))
    for i, q in enumerate(qs):
        pos = q * (m - 1)
        lo = int(np.floor(pos))
        hi = min(lo + 1, m - 1)
        t = pos - lo
        out[i] = s[:, lo] + (s[:, hi] - s[:, lo]) * t
    return out
