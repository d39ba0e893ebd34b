"""The two quantile thresholds of the top-hat, computed without numpy's slow paths.

``np.quantile`` partitions around two order statistics at once, which numpy does several
times slower than around one; boolean-mask indexing of a whole image is slow as well. Here one
pass gathers the values, one single-kth partition finds the lower order statistic and a minimum
the upper one; ``np.quantile`` then interpolates between those two exactly as it would have.
"""

from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True, boundscheck=False)
def _positive_inside(values: np.ndarray, region: np.ndarray, out: np.ndarray) -> int:
    n = 0
    for i in range(values.size):
        v = values[i]
        if region[i] and v > 0:
            out[n] = v
            n += 1
    return n


def positive_inside(values: np.ndarray, region: np.ndarray) -> np.ndarray:
    """``values[region & (values > 0)]`` (both 2-D, same shape), in one pass."""
    flat = np.ascontiguousarray(values).reshape(-1)
    out = np.empty_like(flat)
    return out[:_positive_inside(flat, np.ascontiguousarray(region).reshape(-1), out)]


def quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) of a non-empty 1-D array, bit for bit."""
    index = q * (values.size - 1)
    k = int(np.floor(index))
    part = np.partition(values, k)
    upper = part[k + 1:].min() if k + 1 < values.size else part[k]
    return np.quantile(np.array([part[k], upper], dtype=values.dtype), index - k)
