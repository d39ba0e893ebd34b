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
def _gradient_rows_at(f: np.ndarray, r: int, out: np.ndarray) -> None:
    """Row ``r`` of numpy.gradient(f, axis=0)."""
    h, w = f.shape
    lo, hi = max(r - 1, 0), min(r + 1, h - 1)
    scale = np.float32(1.0 / (hi - lo))
    a, b = f[hi], f[lo]
    for x in range(w):
        out[x] = (a[x] - b[x]) * scale


@njit(cache=True, boundscheck=False)
def _gradient_cols_at(f: np.ndarray, r: int, out: np.ndarray) -> None:
    """Row ``r`` of numpy.gradient(f, axis=1)."""
    w = f.shape[1]
    row = f[r]
    for x in range(1, w - 1):
        out[x] = (row[x + 1] - row[x - 1]) * np.float32(0.5)
    out[0] = row[1] - row[0]
    out[w - 1] = row[w - 1] - row[w - 2]


@njit(cache=True, inline="always")
def _eigen_at(gy_lo, gy_hi, gx_lo, gx_hi, gx, sy, l1, l2, x, xl, xh, sx) -> None:
    hrr = (gy_hi[x] - gy_lo[x]) * sy
    hrc = (gx_hi[x] - gx_lo[x]) * sy
    hcc = (gx[xh] - gx[xl]) * sx
    half = (hrr + hcc) * np.float32(0.5)
    diff = (hrr - hcc) * np.float32(0.5)
    radius = np.sqrt(diff * diff + hrc * hrc)
    l1[x] = half + radius
    l2[x] = half - radius


@njit(cache=True, boundscheck=False)
def _eigen_row(gy_lo, gy_hi, gx_lo, gx_hi, gx, sy, l1, l2) -> None:
    w = gx.shape[0]
    half, one = np.float32(0.5), np.float32(1.0)
    _eigen_at(gy_lo, gy_hi, gx_lo, gx_hi, gx, sy, l1, l2, 0, 0, min(1, w - 1), one)
    for x in range(1, w - 1):  # inside: no clamping, so it vectorises
        _eigen_at(gy_lo, gy_hi, gx_lo, gx_hi, gx, sy, l1, l2, x, x - 1, x + 1, half)
    if w > 1:
        _eigen_at(gy_lo, gy_hi, gx_lo, gx_hi, gx, sy, l1, l2, w - 1, w - 2, w - 1, one)


@njit(cache=True, boundscheck=False, fastmath=True)
def _row_product_max(lower: np.ndarray, upper: np.ndarray, inside: np.ndarray, best: np.float32) -> np.float32:
    for x in range(inside.shape[0]):  # branch-free, so it vectorises
        best = max(best, lower[x] * upper[x] if inside[x] else np.float32(-np.inf))
    return best


@njit(cache=True, boundscheck=False)
def _eigenvalues(f: np.ndarray, l1: np.ndarray, l2: np.ndarray, lower1: np.ndarray, lower2: np.ndarray,
                 inside: np.ndarray, products: bool) -> tuple[np.float32, np.float32]:
    """Eigenvalues row by row from first derivatives kept for three rows only (a ring), and, with
    ``products``, the largest lower_k * l_k inside the mask, all in one pass over the layer."""
    h, w = f.shape
    gy = np.empty((3, w), f.dtype)
    gx = np.empty((3, w), f.dtype)
    for r in range(min(2, h)):
        _gradient_rows_at(f, r, gy[r])
        _gradient_cols_at(f, r, gx[r])
    best1 = best2 = np.float32(-np.inf)
    for y in range(h):
        lo, hi = max(y - 1, 0), min(y + 1, h - 1)
        _eigen_row(gy[lo % 3], gy[hi % 3], gx[lo % 3], gx[hi % 3], gx[y % 3], np.float32(1.0 / (hi - lo)),
                   l1[y], l2[y])
        if products:
            best1 = _row_product_max(lower1[y], l1[y], inside[y], best1)
            best2 = _row_product_max(lower2[y], l2[y], inside[y], best2)
        if y + 2 < h:  # row y - 1 leaves the ring
            _gradient_rows_at(f, y + 2, gy[(y + 2) % 3])
            _gradient_cols_at(f, y + 2, gx[(y + 2) % 3])
    return best1, best2


def _outputs(dog: np.ndarray, out: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, ...]:
    dog = np.ascontiguousarray(dog, dtype=np.float32)
    l1, l2 = out if out is not None else (np.empty_like(dog), np.empty_like(dog))
    return dog, l1, l2


def layer_eigenvalues(dog: np.ndarray, out: tuple[np.ndarray, np.ndarray] | None = None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """Hessian eigenvalues (larger, smaller) of one DoG layer at every pixel (float32, 2-D, at least 2x2).

    ``out`` = two float32 arrays shaped like ``dog`` lets a caller streaming many layers reuse its memory.
    """
    dog, l1, l2 = _outputs(dog, out)
    _eigenvalues(dog, l1, l2, l1, l2, np.zeros((1, 1), np.bool_), False)
    return l1, l2


def eigenvalues_and_product_maxima(dog: np.ndarray, lower: tuple[np.ndarray, np.ndarray], inside: np.ndarray,
                                   out: tuple[np.ndarray, np.ndarray] | None = None
                                   ) -> tuple[tuple[np.ndarray, np.ndarray], tuple[float, float]]:
    """:func:`layer_eigenvalues` plus max over ``inside`` of lower_k * lambda_k for k = 1, 2 (the
    multiscale products of the layer below and this one), in the same pass."""
    dog, l1, l2 = _outputs(dog, out)
    maxima = _eigenvalues(dog, l1, l2, lower[0], lower[1], np.ascontiguousarray(inside), True)
    return (l1, l2), (float(maxima[0]), float(maxima[1]))


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
