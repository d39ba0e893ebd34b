"""Plane geometry the clusters need: convex hulls and distances from points to a filled polygon."""

from __future__ import annotations

import numpy as np


def convex_hull(points: np.ndarray) -> np.ndarray:
    """(K, 2) hull vertices counter-clockwise (y up) by Andrew's monotone chain, first vertex not repeated.

    Collinear points give the two ends of their segment, one point itself, duplicates count once.
    """
    pts = np.unique(np.asarray(points, dtype=np.float64).reshape(-1, 2), axis=0)  # sorted by x, then y
    if len(pts) <= 2:
        return pts

    def half(sequence: np.ndarray) -> list[np.ndarray]:
        chain: list[np.ndarray] = []
        for p in sequence:
            while len(chain) >= 2 and _cross(chain[-2], chain[-1], p) <= 0:
                chain.pop()
            chain.append(p)
        return chain

    lower, upper = half(pts), half(pts[::-1])
    return np.array(lower[:-1] + upper[:-1])


def _cross(o: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    return float((a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]))


def polygon_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(M,) distance from each point to a filled convex-or-not polygon: 0 inside or on it, else to its boundary.

    A polygon of one or two vertices is its point or segment.
    """
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    polygon = np.asarray(polygon, dtype=np.float64).reshape(-1, 2)
    if len(points) == 0:
        return np.zeros(0)
    if len(polygon) == 1:
        return np.hypot(*(points - polygon[0]).T)
    start = polygon if len(polygon) >= 3 else polygon[:1]
    end = np.roll(polygon, -1, axis=0) if len(polygon) >= 3 else polygon[1:]
    d = end - start
    length2 = np.einsum("kj,kj->k", d, d)
    rel = points[:, None, :] - start[None]
    t = np.clip(np.einsum("mkj,kj->mk", rel, d) / np.where(length2 > 0, length2, 1.0), 0.0, 1.0)
    dist = np.sqrt(((rel - t[..., None] * d[None]) ** 2).sum(-1)).min(axis=1)
    if len(polygon) < 3:
        return dist
    xi, yi = polygon[:, 0], polygon[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    px, py = points[:, 0:1], points[:, 1:2]
    straddles = (yi > py) != (yj > py)
    crossing = (xj - xi) * (py - yi) / np.where(yj != yi, yj - yi, 1.0) + xi
    inside = (np.count_nonzero(straddles & (px < crossing), axis=1) % 2) == 1
    return np.where(inside, 0.0, dist)
