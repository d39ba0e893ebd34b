"""From a binary map of bright spots to scored blobs: contour filters and minimum-distance suppression."""

from __future__ import annotations

import cv2
import numpy as np
from scipy.spatial import cKDTree


def component_blobs(binary: np.ndarray, contrast: np.ndarray, max_area: float,
                    max_radius: float) -> tuple[np.ndarray, np.ndarray]:
    """(N, 3) x, y, radius and (N,) peak contrast of the 8-connected components that pass the filters.

    As in the study: the area is that of the component's outer contour (``cv2.contourArea``; a single
    pixel counts 1), the centre and radius those of its minimum enclosing circle. The radius gains half a
    pixel, since the circle passes through pixel centres and a component's pixels are unit squares.
    """
    n_labels, labels = cv2.connectedComponents(binary.view(np.uint8), connectivity=8)
    if n_labels <= 1:
        return np.zeros((0, 3)), np.zeros(0)
    ys, xs = np.nonzero(binary)
    peak = np.zeros(n_labels, np.float64)
    np.maximum.at(peak, labels[ys, xs], contrast[ys, xs])
    contours, _ = cv2.findContours(binary.view(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rows: list[tuple[float, float, float, float]] = []
    for contour in contours:
        if max(cv2.contourArea(contour), 1.0) > max_area:
            continue
        (cx, cy), r = cv2.minEnclosingCircle(contour)
        if r <= max_radius:
            x0, y0 = contour[0, 0]
            rows.append((cx, cy, r + 0.5, peak[labels[y0, x0]]))
    if not rows:
        return np.zeros((0, 3)), np.zeros(0)
    table = np.asarray(rows, dtype=np.float64)
    return table[:, :3], table[:, 3]


def keep_strongest_apart(xy: np.ndarray, score: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices of the blobs kept when, strongest first, every blob within ``min_distance`` of a kept one goes."""
    n = len(score)
    order = np.lexsort((np.arange(n), -score))
    if n < 2 or min_distance <= 0:
        return order
    pairs = cKDTree(xy).query_pairs(min_distance, output_type="ndarray")
    if len(pairs) == 0:
        return order
    both = np.concatenate([pairs, pairs[:, ::-1]])
    both = both[np.argsort(both[:, 0], kind="stable")]
    starts = np.searchsorted(both[:, 0], np.arange(n + 1))
    removed = np.zeros(n, bool)
    kept = []
    for i in order:
        if not removed[i]:
            kept.append(i)
            removed[both[starts[i]:starts[i + 1], 1]] = True
    return np.asarray(kept, dtype=np.intp)
