"""Hough circle search on binary edge images, circle support (the score), and minimum-distance filtering."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import cKDTree


@dataclass(frozen=True)
class HoughSettings:
    """Arguments of ``cv2.HoughCircles`` (method ``HOUGH_GRADIENT``)."""

    dp: float
    min_dist: float
    param1: float
    param2: float
    min_radius: int
    max_radius: int


def find_circles(binary: np.ndarray, settings: HoughSettings) -> tuple[np.ndarray, np.ndarray]:
    """Circles (x, y, r) that ``cv2.HoughCircles`` finds in a 0/255 uint8 image, and their support.

    The transform runs on the bounding box of the non-zero pixels plus ``max_radius + 2``
    px: every edge, every centre that can collect a vote and the accumulator's row-major
    tie order lie inside it, so the circles are those of the whole image, found faster.
    """
    x, y, w, h = cv2.boundingRect(binary)
    if w == 0 or h == 0:
        return np.zeros((0, 3)), np.zeros(0)
    m = settings.max_radius + 2
    x0, y0 = max(x - m, 0), max(y - m, 0)
    box = binary[y0 : y + h + m, x0 : x + w + m]
    found = cv2.HoughCircles(box, cv2.HOUGH_GRADIENT, dp=settings.dp, minDist=settings.min_dist,
                             param1=settings.param1, param2=settings.param2,
                             minRadius=settings.min_radius, maxRadius=settings.max_radius)
    if found is None:
        return np.zeros((0, 3)), np.zeros(0)
    circles = found[0, :, :3].astype(np.float64)
    support = circle_support(box, circles, settings.param1)
    return circles + np.array([x0, y0, 0.0]), support


def circle_support(binary: np.ndarray, circles: np.ndarray, canny_high: float) -> np.ndarray:
    """Number of edge pixels within 1 px of each circle: a proxy for its accumulator votes.

    ``cv2.HoughCircles`` does not return its votes through the Python binding (it fills a
    3-column output), so we count what voted: the Canny edges it computes internally
    (thresholds ``canny_high / 2`` and ``canny_high``) lying on the circle. For a filled
    disk every boundary pixel's gradient points at the centre, so this count is the
    centre's vote for that radius.
    """
    if len(circles) == 0:
        return np.zeros(0)
    edges = cv2.Canny(binary, max(canny_high / 2.0, 1.0), canny_high) > 0
    half = int(np.ceil(circles[:, 2].max())) + 2
    grid = np.arange(-half, half + 1)
    h, w = binary.shape
    cols = np.rint(circles[:, 0]).astype(np.intp)[:, None, None] + grid[None, None, :]
    rows = np.rint(circles[:, 1]).astype(np.intp)[:, None, None] + grid[None, :, None]
    distance = np.hypot(cols - circles[:, 0, None, None], rows - circles[:, 1, None, None])
    on_ring = np.abs(distance - circles[:, 2, None, None]) <= 1.0
    inside = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
    hits = edges[np.clip(rows, 0, h - 1), np.clip(cols, 0, w - 1)] & on_ring & inside
    return hits.sum(axis=(1, 2)).astype(np.float64)


def keep_separated(xyr: np.ndarray, score: np.ndarray, min_distance: float) -> np.ndarray:
    """Indices kept by greedy suppression: best score first, dropping others within ``min_distance``.

    Ties go to the smaller x, then y, then radius, so the result does not depend on input order.
    """
    if len(xyr) == 0:
        return np.zeros(0, np.intp)
    xy = xyr[:, :2]
    order = np.lexsort((xyr[:, 2], xy[:, 1], xy[:, 0], -score))
    neighbours = cKDTree(xy).query_ball_point(xy, r=min_distance)
    alive = np.ones(len(xy), bool)
    kept = []
    for i in order:
        if alive[i]:
            kept.append(i)
            alive[neighbours[i]] = False
    return np.sort(np.asarray(kept, np.intp))
