"""Small polygon measures shared by dataset adapters and phantoms.

An annotated contour's centre is its area centroid and its size its Feret diameter
(largest distance between two vertices), so every adapter measures a contour alike.
"""

from __future__ import annotations

import numpy as np


def polygon_centroid(points: np.ndarray) -> tuple[float, float]:
    """Area centroid of a closed polygon (K, 2); the vertex mean if it has no area."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) == 0:
        raise ValueError("a polygon needs at least one point")
    x, y = p[:, 0], p[:, 1]
    xn, yn = np.roll(x, -1), np.roll(y, -1)
    cross = x * yn - xn * y
    area = cross.sum() / 2
    if abs(area) < 1e-9:
        return float(x.mean()), float(y.mean())
    return float(((x + xn) * cross).sum() / (6 * area)), float(((y + yn) * cross).sum() / (6 * area))


def feret_diameter(points: np.ndarray) -> float:
    """Largest distance between two vertices (0 for a single point)."""
    p = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    if len(p) < 2:
        return 0.0
    diff = p[:, None, :] - p[None, :, :]
    return float(np.sqrt((diff**2).sum(-1)).max())


def ellipse_polygon(cx: float, cy: float, a: float, b: float, angle: float, n: int = 36) -> np.ndarray:
    """An ellipse (semi-axes ``a``, ``b``, rotated by ``angle`` rad) as an (n, 2) polygon."""
    t = np.linspace(0, 2 * np.pi, n, endpoint=False)
    c, s = np.cos(angle), np.sin(angle)
    x, y = a * np.cos(t), b * np.sin(t)
    return np.stack([cx + c * x - s * y, cy + s * x + c * y], axis=1)
