"""Connected regions of binary masks in pure numpy (the core depends on no image library).

Pixels are grouped into horizontal runs; runs that touch between consecutive rows
are merged by vectorised label propagation with pointer jumping, so the cost
grows with the number of runs, not pixels (a breast mask has a few per row).
"""

from __future__ import annotations

import numpy as np


def label_regions(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """4-connected labels of ``mask``: an int32 image (0 = outside, 1..n) and n."""
    m = np.asarray(mask, dtype=bool)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    h, w = m.shape
    flat = m.ravel()
    starts = flat.copy()
    starts[1:] &= ~flat[:-1]
    starts[::w] = flat[::w]  # a run never continues across a row end
    run_id = np.cumsum(starts, dtype=np.int64) - 1
    n_runs = int(starts.sum())
    if n_runs == 0:
        return np.zeros((h, w), np.int32), 0
    run_img = np.where(m, run_id.reshape(h, w), -1)
    up, down = run_img[:-1], run_img[1:]
    both = (up >= 0) & (down >= 0)
    new_pair = both.copy()  # keep one pixel per touching pair of runs
    new_pair[:, 1:] &= ~both[:, :-1] | (up[:, 1:] != up[:, :-1]) | (down[:, 1:] != down[:, :-1])
    edges = np.stack([up[new_pair], down[new_pair]], axis=1)
    parent = np.arange(n_runs, dtype=np.int64)
    while True:
        low = np.minimum(parent[edges[:, 0]], parent[edges[:, 1]])
        before = parent.copy()
        np.minimum.at(parent, edges[:, 0], low)
        np.minimum.at(parent, edges[:, 1], low)
        np.minimum.at(parent, before, parent)  # a root takes its members' smaller label
        parent = parent[parent]
        if np.array_equal(parent, before):
            break
    roots, compact = np.unique(parent, return_inverse=True)
    labels = np.zeros((h, w), np.int32)
    labels[m] = compact[run_img[m]].astype(np.int32) + 1
    return labels, len(roots)


def largest_region(mask: np.ndarray) -> np.ndarray:
    """The largest 4-connected region of ``mask`` (all False if the mask is empty)."""
    labels, n = label_regions(mask)
    if n == 0:
        return np.zeros(labels.shape, bool)
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    sizes[0] = 0
    return labels == int(np.argmax(sizes))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every background region not touching the image border filled."""
    m = np.asarray(mask, dtype=bool)
    labels, n = label_regions(~m)
    if n == 0:
        return m.copy()
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    outside = np.isin(labels, border[border > 0])
    return ~outside
