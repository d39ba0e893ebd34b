"""The two Hough stages of the study: a global transform, then local transforms around its circles."""

from __future__ import annotations

import cv2
import numpy as np

from calcdet_hough.circles import HoughSettings, find_circles


def quantile_with_low(values: np.ndarray, extra: int, low: float, q: float) -> float:
    """``np.quantile`` (linear) of ``values`` joined with ``extra`` copies of ``low`` (<= all values), unbuilt."""
    flat = values.ravel()
    n = flat.size + extra
    pos = q * (n - 1)
    lo, hi = int(np.floor(pos)), int(np.ceil(pos))
    ranks = [k - extra for k in (lo, hi) if k >= extra]
    part = np.partition(flat, ranks) if ranks else flat

    def at(k: int) -> float:
        return low if k < extra else float(part[k - extra])

    return at(lo) + (pos - lo) * (at(hi) - at(lo))


def quantile_with_zeros(values: np.ndarray, extra_zeros: int, q: float) -> float:
    """``np.quantile`` (linear) of ``values`` (all >= 0) joined with ``extra_zeros`` zeros, without building it.

    The study thresholds the whole image, background zeros included; we process only the
    breast's bounding box, so the zeros outside it are counted, not allocated.
    """
    return quantile_with_low(values, extra_zeros, 0.0, q)


def binary_above(values: np.ndarray, floor: float) -> np.ndarray:
    """0/255 uint8 of the pixels the study keeps after min-max scaling ``max(values, floor)`` to 8 bits."""
    top = float(values.max())
    if top <= floor:
        return np.zeros(values.shape, np.uint8)
    scaled = (np.maximum(values, np.float32(floor)) - np.float32(floor)) / np.float32(top - floor) * np.float32(255)
    return np.where(scaled.astype(np.uint8) > 0, np.uint8(255), np.uint8(0))


def global_stage(kept: np.ndarray, settings: HoughSettings) -> tuple[np.ndarray, np.ndarray]:
    """Circles (x, y, r) and their support on the edge image after the global threshold (zero below it)."""
    return find_circles(binary_above(kept, 0.0), settings)


def _patch_origin(centre: int, size: int, extent: int) -> int:
    """First index of a ``size`` window centred on ``centre``, shifted to lie inside ``[0, extent)``."""
    return int(np.clip(centre - size // 2, 0, max(extent - size, 0)))


def linear_quantile(values: np.ndarray, q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) through one partition, without its overhead."""
    return quantile_with_low(values, 0, 0.0, q)


def _disk_offsets(radius: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column offsets of the pixels ``cv2.circle(..., radius, thickness=-1)`` fills."""
    disk = np.zeros((2 * radius + 1, 2 * radius + 1), np.uint8)
    cv2.circle(disk, (radius, radius), radius, 1, -1)
    dy, dx = np.nonzero(disk)
    return dy - radius, dx - radius


def _lifted_window(kept: np.ndarray, x1: int, y1: int, size: int, centres: np.ndarray,
                   radii: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A copy of the window with the seeds' disks lifted to the window mean, and its non-zero values."""
    patch = kept[y1 : y1 + size, x1 : x1 + size].copy()
    disks = np.zeros(patch.shape, np.uint8)
    for (cx, cy), r in zip(centres, radii, strict=True):
        cv2.circle(disks, (int(cx) - x1, int(cy) - y1), int(r), 1, -1)
    lifted = disks.astype(bool)
    patch[lifted] = np.maximum(patch[lifted], np.float32(patch.mean()))
    return patch, patch[patch > 0]


def union_binary(kept: np.ndarray, seeds: np.ndarray, quantile: float, size: int) -> np.ndarray:
    """OR of the study's per-seed window binaries (0/255), built from each window's lowest kept value.

    A window keeps the pixels at or above ``t + (max - t) / 255`` (its 8-bit scaling after the
    ``quantile`` threshold ``t``), so a pixel is in the union when it clears the lowest such
    floor among the windows covering it: each window's floor is noted at its top-left corner, and
    one 200x200 minimum filter (OpenCV's erosion, O(1) per pixel) spreads it over the window.

    Only ~3 % of ``kept`` is non-zero (the global threshold), so each window's statistics come
    from the non-zero pixels alone, sorted by column: a window is two binary searches and a row
    filter, not a 200x200 scan. The seed's disk is lifted to the window mean as the study does;
    its empty pixels join the values at that mean (lifting a non-zero pixel, which lies above
    the global threshold, practically never happens and is ignored).
    """
    h, w = kept.shape
    corner = np.full(kept.shape, np.inf, np.float32)
    ys, xs = np.nonzero(kept)
    order = np.argsort(xs, kind="stable")
    xs, ys, vs = xs[order], ys[order], kept[ys[order], xs[order]]
    centres = np.floor(seeds[:, :2]).astype(np.intp)
    radii = seeds[:, 2].astype(np.intp)
    offsets = {int(r): _disk_offsets(int(r)) for r in np.unique(radii)}
    for (cx, cy), radius in zip(centres, radii, strict=True):
        x1, y1 = _patch_origin(int(cx), size, w), _patch_origin(int(cy), size, h)
        x2, y2 = min(x1 + size, w), min(y1 + size, h)
        lo, hi = np.searchsorted(xs, [x1, x2])
        rows = ys[lo:hi]
        values = vs[lo:hi][(rows >= y1) & (rows < y2)]
        if values.size == 0:
            continue
        mean = np.float32(values.sum(dtype=np.float64) / ((x2 - x1) * (y2 - y1)))
        dy, dx = offsets[int(radius)]
        r, c = dy + cy, dx + cx
        on = (r >= y1) & (r < y2) & (c >= x1) & (c < x2)
        empty = int(np.count_nonzero(kept[r[on], c[on]] == 0)) if mean > 0 else 0
        t = quantile_with_low(values, empty, float(mean), quantile)
        top = float(values.max())
        if top > t:
            corner[y1, x1] = min(corner[y1, x1], np.float32(t + (top - t) / 255.0))
    floor = cv2.erode(corner, np.ones((size, size), np.uint8), anchor=(size - 1, size - 1),
                      borderType=cv2.BORDER_CONSTANT, borderValue=np.inf)
    return np.where((kept >= floor) & (kept > 0), np.uint8(255), np.uint8(0))


def local_stage(
    kept: np.ndarray, seeds: np.ndarray, quantile: float, patch_size: int, grid: int, settings: HoughSettings,
    union: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Second transform on ``patch_size`` windows around the global circles ``seeds``.

    ``kept`` is the edge image after the global threshold (zero below it). In each window
    the seeds' disks are lifted to the window mean, the window is binarised above the
    ``quantile`` of its non-zero values, and ``cv2.HoughCircles`` runs on it. Seeds whose
    integer centres fall in the same ``grid`` x ``grid`` cell share one window, centred on
    the cell (``grid = 1``: one window per seed, as the study did); overlapping windows are
    what made the study's version slow, and their duplicates are removed later anyway.

    With ``union``, one more transform runs on the union of the study's per-seed window
    binaries (:func:`union_binary`): each structure is seen with the most permissive of
    the thresholds around it, which wins back what sharing windows costs in sensitivity.
    """
    h, w = kept.shape
    centres = np.floor(seeds[:, :2]).astype(np.intp)
    radii = seeds[:, 2].astype(np.intp)
    unique_cells, owner = np.unique(centres // grid, axis=0, return_inverse=True)
    owner = owner.reshape(-1)
    found, support = [np.zeros((0, 3))], [np.zeros(0)]
    for index, (cell_x, cell_y) in enumerate(unique_cells):
        x1 = _patch_origin(int(cell_x) * grid + grid // 2, patch_size, w)
        y1 = _patch_origin(int(cell_y) * grid + grid // 2, patch_size, h)
        members = owner == index
        patch, positive = _lifted_window(kept, x1, y1, patch_size, centres[members], radii[members])
        if positive.size == 0:
            continue
        circles, votes = find_circles(binary_above(patch, linear_quantile(positive, quantile)), settings)
        found.append(circles + np.array([x1, y1, 0.0]))
        support.append(votes)
    if union:
        circles, votes = find_circles(union_binary(kept, seeds, quantile, patch_size), settings)
        found.append(circles)
        support.append(votes)
    return np.concatenate(found), np.concatenate(support)
