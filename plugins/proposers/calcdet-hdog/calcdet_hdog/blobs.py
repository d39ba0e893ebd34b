"""Blob candidates in the DoG scale space: 3x3x3 local maxima, then overlap / distance suppression."""

from __future__ import annotations

import math

import cv2
import numpy as np
from numba import njit

_SQUARE = np.ones((3, 3), np.uint8)


def spread(layer: np.ndarray) -> np.ndarray:
    """Maximum over each pixel's 3x3 neighbourhood (pixels outside the layer count as nothing)."""
    return cv2.dilate(layer, _SQUARE, borderType=cv2.BORDER_CONSTANT, borderValue=-np.inf)


@njit(cache=True, boundscheck=False)
def _peaks(layer: np.ndarray, below: np.ndarray, here: np.ndarray, above: np.ndarray, threshold: float,
           mask: np.ndarray, found: np.ndarray) -> int:
    h, w = layer.shape
    n = 0
    for y in range(h):
        for x in range(w):
            v = layer[y, x]
            if v > threshold and v >= here[y, x] and v >= below[y, x] and v >= above[y, x] and mask[y, x]:
                found[n] = y * w + x
                n += 1
    return n


def local_maxima(layer: np.ndarray, spreads: tuple[np.ndarray | None, np.ndarray, np.ndarray | None],
                 threshold: float, mask: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels of ``layer`` inside ``mask``, above ``threshold`` and not below any of
    their 26 scale-space neighbours.

    ``spreads`` are the 3x3 maxima (:func:`spread`) of the layers below, this one and above (``None``
    where the scale space ends: a missing layer counts as 0, below any response over the threshold).
    ``scratch`` is an int64 array with one slot per pixel, reused between calls.
    """
    below, here, above = spreads
    n = _peaks(layer, here if below is None else below, here, here if above is None else above, threshold,
               mask, scratch)
    rows, cols = np.divmod(scratch[:n], layer.shape[1])
    return rows, cols


@njit(cache=True)
def _disk_overlap(d: float, r1: float, r2: float) -> float:
    """Area shared by two disks over the area of the smaller one (as skimage's blob overlap)."""
    if d >= r1 + r2:
        return 0.0
    if d <= abs(r1 - r2):
        return 1.0
    c1 = min(max((d * d + r1 * r1 - r2 * r2) / (2 * d * r1), -1.0), 1.0)
    c2 = min(max((d * d + r2 * r2 - r1 * r1) / (2 * d * r2), -1.0), 1.0)
    k = (-d + r1 + r2) * (d + r1 - r2) * (d - r1 + r2) * (d + r1 + r2)
    area = r1 * r1 * math.acos(c1) + r2 * r2 * math.acos(c2) - 0.5 * math.sqrt(abs(k))
    return area / (math.pi * min(r1, r2) ** 2)


@njit(cache=True)
def _greedy(xs: np.ndarray, ys: np.ndarray, rs: np.ndarray, overlap: float, min_distance: float,
            cell: float) -> np.ndarray:
    n = xs.shape[0]
    keep = np.zeros(n, np.bool_)
    if n == 0:
        return keep
    x0, y0 = xs.min(), ys.min()
    nx = int((xs.max() - x0) / cell) + 1
    ny = int((ys.max() - y0) / cell) + 1
    head = np.full(nx * ny, -1, np.int64)
    nxt = np.full(n, -1, np.int64)
    for i in range(n):
        cx, cy = int((xs[i] - x0) / cell), int((ys[i] - y0) / cell)
        ok = True
        for gy in range(max(cy - 1, 0), min(cy + 2, ny)):
            for gx in range(max(cx - 1, 0), min(cx + 2, nx)):
                k = head[gy * nx + gx]
                while k >= 0 and ok:
                    d = math.hypot(xs[i] - xs[k], ys[i] - ys[k])
                    if d < min_distance or _disk_overlap(d, rs[i], rs[k]) > overlap:
                        ok = False
                    k = nxt[k]
        if ok:
            keep[i] = True
            c = cy * nx + cx
            nxt[i] = head[c]
            head[c] = i
    return keep


def suppress(xs: np.ndarray, ys: np.ndarray, radii: np.ndarray, score: np.ndarray, overlap: float,
             min_distance: float) -> np.ndarray:
    """Indices of the blobs kept when, strongest first, a blob goes if it overlaps a kept one by more than
    ``overlap`` (of the smaller disk) or lies closer than ``min_distance`` to it."""
    order = np.lexsort((np.arange(len(score)), -score))
    if len(order) == 0:
        return order
    reach = max(2 * float(radii.max()), min_distance, 1.0)
    keep = _greedy(xs[order].astype(np.float64), ys[order].astype(np.float64), radii[order].astype(np.float64),
                   float(overlap), float(min_distance), reach)
    return order[keep]
