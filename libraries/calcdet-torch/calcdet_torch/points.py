"""Peaks of a score map with sub-pixel centres, and greedy non-maximum suppression of points (numpy only)."""

from __future__ import annotations

import numpy as np


def neighbourhood_max(values: np.ndarray, size: int = 3) -> np.ndarray:
    """The largest value in each ``size`` x ``size`` window (anchored as ``size // 2``), edges padded with -inf."""
    h, w = values.shape
    before = size // 2
    padded = np.pad(values, ((before, size - 1 - before),) * 2, constant_values=-np.inf)
    rows = np.max([padded[dy : dy + h] for dy in range(size)], axis=0)
    return np.max([rows[:, dx : dx + w] for dx in range(size)], axis=0)


def local_maxima(values: np.ndarray, floor: float, size: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the maxima of their ``size`` x ``size`` window that reach ``floor``."""
    keep = (values >= neighbourhood_max(values, size)) & (values >= floor) & np.isfinite(values)
    return np.nonzero(keep)


def subpixel_offsets(values: np.ndarray, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Offsets (dx, dy) in (-0.5, 0.5) of the parabola through each peak and its two neighbours per axis."""
    padded = np.pad(values.astype(np.float64), 1, mode="edge")
    r, c = rows + 1, cols + 1
    centre = padded[r, c]

    def offset(before: np.ndarray, after: np.ndarray) -> np.ndarray:
        curvature = before - 2 * centre + after
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(curvature < 0, 0.5 * (before - after) / curvature, 0.0)
        return np.clip(np.nan_to_num(out), -0.5, 0.5)

    return offset(padded[r, c - 1], padded[r, c + 1]), offset(padded[r - 1, c], padded[r + 1, c])


def suppress(xy: np.ndarray, score: np.ndarray, min_distance: float, limit: int | None = None) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression: best first, none closer than ``min_distance``.

    With ``limit``, it stops once that many are kept: the same first ``limit`` indices, without
    visiting the (often tens of thousands of) weaker points a capped detector would drop anyway.
    """
    order = np.argsort(-np.asarray(score), kind="stable")
    cell = max(float(min_distance), 1e-9)
    grid: dict[tuple[int, int], list[int]] = {}
    kept = []
    for i in order:
        cx, cy = int(xy[i, 0] // cell), int(xy[i, 1] // cell)
        near = [j for dx in (-1, 0, 1) for dy in (-1, 0, 1) for j in grid.get((cx + dx, cy + dy), ())]
        if all(np.hypot(*(xy[i] - xy[j])) >= min_distance for j in near):
            grid.setdefault((cx, cy), []).append(int(i))
            kept.append(int(i))
            if limit is not None and len(kept) >= limit:
                break
    return np.array(kept, dtype=int)
