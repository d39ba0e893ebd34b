"""Grayscale reconstruction by dilation (8-connected, i.e. geodesic dilations with a 3x3 square).

The textbook algorithm dilates the marker and clips it under the mask until nothing changes; every
iteration re-scans every pixel, and on a mammogram it takes ~150 iterations. Here (Vincent 1993,
"hybrid" algorithm): raster and anti-raster scans propagate values along the scan directions in
O(1) per pixel, then a FIFO queue seeded with the few pixels that can still raise a neighbour
finishes the job, touching only pixels that change. The seeds are collected by the last
anti-raster scan itself: a pixel can only still raise the neighbours that scan visited before
it (right and below); those visited after it already took its value into account. The result
is identical to the textbook one.
"""

from __future__ import annotations

import numpy as np
from numba import njit

_SCAN_PAIRS = 2
"""Raster + anti-raster pass pairs before the queue; two leave ~1% of pixels for the queue."""


@njit(cache=True, boundscheck=False)
def _raster_scan(out: np.ndarray, mask: np.ndarray, backward: bool, seeds: np.ndarray) -> int:
    """One scan: each pixel takes the max of itself and its already-visited neighbours, clipped by the mask.

    A backward scan given a non-empty ``seeds`` also writes there (flat indices) the pixels that
    can still raise a neighbour it visited before them, and returns their count (else 0).
    """
    h, w = mask.shape
    best = np.empty(w, out.dtype)
    flag = np.empty(w, np.bool_)
    n = 0
    for i in range(h):
        y = h - 1 - i if backward else i
        row = out[y]
        if i > 0:
            prev = out[y + 1] if backward else out[y - 1]
            best[0] = max(row[0], prev[0], prev[min(1, w - 1)])
            for x in range(1, w - 1):  # no dependency inside the row: vectorises
                best[x] = max(max(row[x], prev[x - 1]), max(prev[x], prev[x + 1]))
            if w > 1:
                best[w - 1] = max(row[w - 1], prev[w - 2], prev[w - 1])
        else:
            best[:] = row
        m = mask[y]
        start, stop, step = (w - 1, -1, -1) if backward else (0, w, 1)
        carry = -np.inf
        for x in range(start, stop, step):
            v = best[x] if best[x] > carry else carry
            carry = v if v < m[x] else m[x]
            row[x] = carry
        if backward and seeds.size:
            n = _collect_seeds(out, mask, y, flag, seeds, n)
    return n


@njit(cache=True, boundscheck=False)
def _collect_seeds(out: np.ndarray, mask: np.ndarray, y: int, flag: np.ndarray, seeds: np.ndarray, n: int) -> int:
    """Append to ``seeds`` the pixels of row ``y`` that can raise their right or lower neighbours.

    Neighbour q can be raised by p when out[q] < min(out[p], mask[q]); the flags are computed
    branch-free (so the loop vectorises) into ``flag`` (one row of scratch) and compacted after.
    """
    h, w = mask.shape
    row, m = out[y], mask[y]
    flag[w - 1] = False
    for x in range(w - 1):
        flag[x] = row[x + 1] < min(row[x], m[x + 1])
    if y + 1 < h:
        below, mb = out[y + 1], mask[y + 1]
        for x in range(w):
            flag[x] |= below[x] < min(row[x], mb[x])
        for x in range(1, w):
            flag[x] |= below[x - 1] < min(row[x], mb[x - 1])
        for x in range(w - 1):
            flag[x] |= below[x + 1] < min(row[x], mb[x + 1])
    for x in range(w):
        if flag[x]:
            seeds[n] = y * w + x
            n += 1
    return n


@njit(cache=True, boundscheck=False)
def _propagate(out: np.ndarray, mask: np.ndarray, seeds: np.ndarray) -> None:
    """FIFO propagation from ``seeds`` (flat indices) until no neighbour can be raised."""
    h, w = mask.shape
    n = h * w
    queue = np.empty(n, np.int32)
    queued = np.zeros(n, np.uint8)
    size = seeds.shape[0]
    queue[:size] = seeds
    for i in range(size):
        queued[seeds[i]] = 1
    head, tail = 0, size % n
    while size > 0:
        p = queue[head]
        head = head + 1 if head + 1 < n else 0
        size -= 1
        queued[p] = 0
        y = p // w
        x = p - y * w
        v = out[y, x]
        for yy in range(max(y - 1, 0), min(y + 2, h)):
            for xx in range(max(x - 1, 0), min(x + 2, w)):
                q = out[yy, xx]
                if q < v:
                    m = mask[yy, xx]
                    if q < m:
                        out[yy, xx] = v if v < m else m
                        k = yy * w + xx
                        if queued[k] == 0:
                            queued[k] = 1
                            queue[tail] = k
                            tail = tail + 1 if tail + 1 < n else 0
                            size += 1


def reconstruct_by_dilation(marker: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Reconstruction by dilation of ``marker`` under ``mask`` (2-D float32, same shape), 8-connected.

    ``marker`` above ``mask`` is clipped to it first (as the textbook definition does).
    """
    mask = np.ascontiguousarray(mask, dtype=np.float32)
    if marker.shape != mask.shape or mask.ndim != 2:
        raise ValueError(f"marker {marker.shape} and mask {mask.shape} must be 2-D arrays of the same shape")
    out = np.minimum(np.asarray(marker, dtype=np.float32), mask)
    seeds, none = np.empty(out.size, np.int32), np.empty(0, np.int32)
    for i in range(_SCAN_PAIRS):
        _raster_scan(out, mask, False, none)
        n = _raster_scan(out, mask, True, seeds if i == _SCAN_PAIRS - 1 else none)
    _propagate(out, mask, seeds[:n])
    return out
