"""Hessians of DoG layers and their eigenvalues in closed form.

Derivatives follow ``numpy.gradient`` applied twice (central differences inside, one-sided at the
edges), as the study computed them. For a symmetric 2x2 matrix [[a, b], [b, c]] the eigenvalues are
(a + c) / 2 +- sqrt(((a - c) / 2)^2 + b^2): a few operations per pixel instead of one LAPACK call.
"""

from __future__ import annotations

import numpy as np
from numba import njit


def hessian_eigenvalues(hrr: np.ndarray, hrc: np.ndarray, hcc: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (larger, smaller) of [[hrr, hrc], [hrc, hcc]], element-wise."""
    half_trace = (hrr + hcc) / 2
    radius = np.sqrt(((hrr - hcc) / 2) ** 2 + hrc**2)
    return half_trace + radius, half_trace - radius


@njit(cache=True, boundscheck=False)
def _gradient_rows(f: np.ndarray, out: np.ndarray) -> None:
    h, w = f.shape
    for y in range(h):
        lo, hi = max(y - 1, 0), min(y + 1, h - 1)
        scale = np.float32(1.0 / (hi - lo))
        for x in range(w):
            out[y, x] = (f[hi, x] - f[lo, x]) * scale


@njit(cache=True, boundscheck=False)
def _gradient_cols(f: np.ndarray, out: np.ndarray) -> None:
    h, w = f.shape
    for y in range(h):
        for x in range(1, w - 1):
            out[y, x] = (f[y, x + 1] - f[y, x - 1]) * np.float32(0.5)
        out[y, 0] = f[y, 1] - f[y, 0]
        out[y, w - 1] = f[y, w - 1] - f[y, w - 2]


@njit(cache=True, inline="always")
def _eigen_at(gy, gx, l1, l2, y, x, lo, hi, sy, xl, xh, sx) -> None:
    hrr = (gy[hi, x] - gy[lo, x]) * sy
    hrc = (gx[hi, x] - gx[lo, x]) * sy
    hcc = (gx[y, xh] - gx[y, xl]) * sx
    half = (hrr + hcc) * np.float32(0.5)
    diff = (hrr - hcc) * np.float32(0.5)
    radius = np.sqrt(diff * diff + hrc * hrc)
    l1[y, x] = half + radius
    l2[y, x] = half - radius


@njit(cache=True, boundscheck=False)
def _eigen_from_gradients(gy: np.ndarray, gx: np.ndarray, l1: np.ndarray, l2: np.ndarray) -> None:
    h, w = gy.shape
    half, one = np.float32(0.5), np.float32(1.0)
    for y in range(h):
        lo, hi = max(y - 1, 0), min(y + 1, h - 1)
        sy = np.float32(1.0 / (hi - lo))
        _eigen_at(gy, gx, l1, l2, y, 0, lo, hi, sy, 0, min(1, w - 1), one)
        for x in range(1, w - 1):  # inside: no clamping, so it vectorises
            _eigen_at(gy, gx, l1, l2, y, x, lo, hi, sy, x - 1, x + 1, half)
        if w > 1:
            _eigen_at(gy, gx, l1, l2, y, w - 1, lo, hi, sy, w - 2, w - 1, one)


def layer_eigenvalues(dog: np.ndarray, out: tuple[np.ndarray, ...] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Hessian eigenvalues (larger, smaller) of one DoG layer at every pixel (float32, 2-D, at least 2x2).

    ``out`` = four float32 arrays shaped like ``dog`` (two scratch, then the two results) lets a caller
    streaming many layers reuse its memory.
    """
    dog = np.ascontiguousarray(dog, dtype=np.float32)
    gy, gx, l1, l2 = out if out is not None else tuple(np.empty_like(dog) for _ in range(4))
    _gradient_rows(dog, gy)
    _gradient_cols(dog, gx)
    _eigen_from_gradients(gy, gx, l1, l2)
    return l1, l2


def hessian_at(dog: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hrr, hrc, hcc) of one DoG layer at the given pixels only, with the same differences."""
    h, w = dog.shape

    def grad(axis_len: int, i: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        lo, hi = np.maximum(i - 1, 0), np.minimum(i + 1, axis_len - 1)
        return lo, hi, 1.0 / (hi - lo)

    def gy(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        lo, hi, s = grad(h, y)
        return (dog[hi, x].astype(np.float64) - dog[lo, x]) * s

    def gx(y: np.ndarray, x: np.ndarray) -> np.ndarray:
        lo, hi, s = grad(w, x)
        return (dog[y, hi].astype(np.float64) - dog[y, lo]) * s

    ylo, yhi, sy = grad(h, ys)
    xlo, xhi, sx = grad(w, xs)
    return (gy(yhi, xs) - gy(ylo, xs)) * sy, (gx(yhi, xs) - gx(ylo, xs)) * sy, (gx(ys, xhi) - gx(ys, xlo)) * sx


@njit(cache=True, boundscheck=False, fastmath=True)
def product_maxima(lower1: np.ndarray, upper1: np.ndarray, lower2: np.ndarray, upper2: np.ndarray,
                   mask: np.ndarray) -> tuple[float, float]:
    """Largest lower_k * upper_k inside ``mask``, for k = 1, 2, in one pass."""
    best1 = best2 = np.float32(-np.inf)
    h, w = mask.shape
    for y in range(h):
        for x in range(w):  # branch-free, so it vectorises
            inside = mask[y, x]
            best1 = max(best1, lower1[y, x] * upper1[y, x] if inside else np.float32(-np.inf))
            best2 = max(best2, lower2[y, x] * upper2[y, x] if inside else np.float32(-np.inf))
    return best1, best2
