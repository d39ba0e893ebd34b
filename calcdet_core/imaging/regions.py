"""Connected regions of binary masks in pure numpy (the core depends on no image library).

Pixels are grouped into horizontal runs; runs that overlap in consecutive rows are merged
by vectorised label propagation with pointer jumping, so the cost grows with the number of
runs, not pixels (a breast mask has a few per row). Whole-image work is limited to finding
the runs and painting the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class _Runs:
    """Maximal horizontal runs of a mask in raster order: row, first column, one past the last, component."""

    shape: tuple[int, int]
    row: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    component: np.ndarray  # 0..n-1, numbered in the raster order of each component's first run
    n: int

    def paint(self, selected: np.ndarray) -> np.ndarray:
        """A boolean image of the runs where ``selected`` (one flag per run) is true."""
        h, w = self.shape
        edges = np.zeros(h * w + 1, np.int8)
        first = self.row[selected] * w
        edges[first + self.start[selected]] += 1
        np.subtract.at(edges, first + self.stop[selected], 1)  # a stop may meet the next row's start
        return np.cumsum(edges[:-1], dtype=np.int8).reshape(h, w).view(bool)


def _runs(mask: np.ndarray) -> _Runs:
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    h, w = m.shape
    padded = np.zeros((h, w + 2), np.int8)  # a background column either side: no run crosses a row end
    padded[:, 1:-1] = m
    change = np.flatnonzero(np.diff(padded.ravel()))
    starts, stops = change[0::2], change[1::2]  # every run begins (0 -> 1) then ends (1 -> 0) in its row
    row = starts // (w + 2)
    start, stop = starts - row * (w + 2), stops - row * (w + 2)
    return _Runs((h, w), row, start, stop, *_components(row, start, stop))


def _components(row: np.ndarray, start: np.ndarray, stop: np.ndarray) -> tuple[np.ndarray, int]:
    """Component of each run (4-connected: runs of consecutive rows sharing a column) and their number."""
    n_runs = len(row)
    if n_runs == 0:
        return np.zeros(0, np.int64), 0
    span = int(stop.max()) + 1
    start_key, stop_key = row * span + start, row * span + stop  # both increase along the raster order
    below = np.flatnonzero(row > 0)
    above_start = (row[below] - 1) * span + start[below]
    above_stop = (row[below] - 1) * span + stop[below]
    first = np.searchsorted(stop_key, above_start, side="right")  # runs above ending after this one starts
    last = np.searchsorted(start_key, above_stop, side="left")  # ... and starting before this one stops
    count = np.maximum(last - first, 0)
    lower = np.repeat(below, count)
    upper = np.repeat(first, count) + np.arange(int(count.sum())) - np.repeat(np.cumsum(count) - count, count)
    parent = np.arange(n_runs, dtype=np.int64)
    while len(lower):
        low = np.minimum(parent[upper], parent[lower])
        before = parent.copy()
        np.minimum.at(parent, upper, low)
        np.minimum.at(parent, lower, low)
        np.minimum.at(parent, before, parent)  # a root takes its members' smaller label
        parent = parent[parent]
        if np.array_equal(parent, before):
            break
    roots, component = np.unique(parent, return_inverse=True)
    return component, len(roots)


def label_regions(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected labels of ``mask``: an int32 image (0 = outside, 1..n in raster order of first pixel) and n."""
    runs = _runs(mask)
    h, w = runs.shape
    labels = np.zeros(h * w, np.int32)
    lengths = runs.stop - runs.start
    offsets = np.repeat(runs.row * w + runs.start - np.cumsum(lengths) + lengths, lengths)
    labels[offsets + np.arange(int(lengths.sum()))] = np.repeat(runs.component + 1, lengths)
    return labels.reshape(h, w), runs.n


def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of ``mask`` (all False if the mask is empty; ties: the first in raster order)."""
    runs = _runs(mask)
    if runs.n == 0:
        return np.zeros(runs.shape, bool)
    sizes = np.bincount(runs.component, weights=runs.stop - runs.start, minlength=runs.n)
    return runs.paint(runs.component == int(np.argmax(sizes)))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every background region not touching the image border filled."""
    m = np.asarray(mask, dtype=bool)
    gaps = _runs(~m)
    h, w = gaps.shape
    touching = (gaps.row == 0) | (gaps.row == h - 1) | (gaps.start == 0) | (gaps.stop == w)
    outside = np.zeros(gaps.n, bool)
    outside[gaps.component[touching]] = True
    return ~gaps.paint(outside[gaps.component])
