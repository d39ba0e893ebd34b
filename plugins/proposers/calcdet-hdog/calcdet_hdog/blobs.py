"""Blob candidates in the DoG scale space: 3x3x3 local maxima, then overlap / distance suppression."""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, boundscheck=False)
def _not_below(layer: np.ndarray, v: float, y: int, x: int) -> bool:
    """No pixel of ``layer`` in the 3x3 window around (y, x) exceeds ``v``."""
    h, w = layer.shape
    for yy in range(max(y - 1, 0), min(y + 2, h)):
        for xx in range(max(x - 1, 0), min(x + 2, w)):
            if layer[yy, xx] > v:
                return False
    return True


@njit(cache=True, boundscheck=False)
def _peaks(below: np.ndarray, layer: np.ndarray, above: np.ndarray, has_below: bool, has_above: bool,
           threshold: float, mask: np.ndarray, found: np.ndarray) -> int:
    h, w = layer.shape
    n = 0
    for y in range(h):
        for x in range(w):
            v = layer[y, x]
            if v > threshold and mask[y, x] and _not_below(layer, v, y, x) \
                    and (not has_below or _not_below(below, v, y, x)) and (not has_above or _not_below(above, v, y, x)):
                found[n] = y * w + x
                n += 1
    return n


def local_maxima(below: np.ndarray | None, layer: np.ndarray, above: np.ndarray | None, threshold: float,
                 mask: np.ndarray, scratch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the pixels of ``layer`` inside ``mask``, above ``threshold`` and not below any of
    their 26 scale-space neighbours (``None`` where the scale space ends: a missing layer counts as 0,
    below any response over the threshold; so do pixels outside the image).

    Only the few pixels over the threshold are compared with their neighbours. ``scratch`` is an int64
    array with one slot per pixel, reused between calls.
    """
    n = _peaks(layer if below is None else below, layer, layer if above is None else above,
               below is not None, above is not None, threshold, mask, scratch)
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
