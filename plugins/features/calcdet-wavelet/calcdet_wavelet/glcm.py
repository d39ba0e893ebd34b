"""Grey-level co-occurrence matrices of many small images at once, matching scikit-image.

``graycomatrix`` / ``graycoprops`` work on one image at a time; here one ``numpy.bincount`` per
angle counts the pairs of every image in the stack, and the properties are array reductions.
Offsets follow scikit-image exactly: for distance d and angle a the neighbour of pixel (r, c) is
(r + round(sin(a) d), c + round(cos(a) d)), so 45 degrees at distance 2 is the diagonal step (1, 1).
Matrices are not symmetrised and are normalised to sum 1 (``symmetric=False, normed=True``).
"""

from __future__ import annotations

import math

import numpy as np

PROPERTIES = ("correlation", "homogeneity", "contrast", "dissimilarity")
"""GLCM summaries, as ``skimage.feature.graycoprops`` defines them, in column order."""


def offset(distance: int, angle_deg: float) -> tuple[int, int]:
    """(row, column) step of the pair at ``distance`` and ``angle_deg``, as scikit-image rounds it."""
    angle = math.radians(angle_deg)
    return round(math.sin(angle) * distance), round(math.cos(angle) * distance)


def quantise(x: np.ndarray, levels: int) -> np.ndarray:
    """(N, h, w) integer grey levels 0..levels-1: each image's own [min, max] cut into ``levels``
    equal steps (the maximum goes to the top level; a flat image is all level 0)."""
    lo = x.min(axis=(1, 2), keepdims=True)
    width = x.max(axis=(1, 2), keepdims=True) - lo
    scaled = np.where(width > 0, (x - lo) / np.where(width > 0, width, 1.0) * levels, 0.0)
    return np.minimum(scaled.astype(np.intp), levels - 1)


def cooccurrence(q: np.ndarray, levels: int, step: tuple[int, int]) -> np.ndarray:
    """(N, levels, levels) normalised co-occurrence of (pixel, pixel + step) for each image of ``q``."""
    n, h, w = q.shape
    dr, dc = step
    rows, cols = slice(max(0, -dr), min(h, h - dr)), slice(max(0, -dc), min(w, w - dc))
    shifted_rows, shifted_cols = slice(rows.start + dr, rows.stop + dr), slice(cols.start + dc, cols.stop + dc)
    a, b = q[:, rows, cols], q[:, shifted_rows, shifted_cols]
    index = (np.arange(n)[:, None, None] * levels + a) * levels + b
    counts = np.bincount(index.ravel(), minlength=n * levels * levels).reshape(n, levels, levels)
    total = counts.sum(axis=(1, 2), keepdims=True)
    if (total == 0).any():
        raise ValueError(f"a {h}x{w} image has no pixel pair at step {step}: the GLCM is empty")
    return counts / total


def properties(p: np.ndarray) -> np.ndarray:
    """(..., 4) correlation, homogeneity, contrast, dissimilarity of normalised GLCMs (..., L, L).

    Correlation is 1 where either marginal has zero spread (std < 1e-15), as scikit-image defines it.
    """
    levels = p.shape[-1]
    i = np.arange(levels, dtype=np.float64)[:, None]
    j = np.arange(levels, dtype=np.float64)[None, :]
    diff = i - j
    mu_i = (p * i).sum(axis=(-2, -1))
    mu_j = (p * j).sum(axis=(-2, -1))
    di = i - mu_i[..., None, None]
    dj = j - mu_j[..., None, None]
    std_i = np.sqrt((p * di**2).sum(axis=(-2, -1)))
    std_j = np.sqrt((p * dj**2).sum(axis=(-2, -1)))
    cov = (p * di * dj).sum(axis=(-2, -1))
    degenerate = (std_i < 1e-15) | (std_j < 1e-15)
    correlation = np.where(degenerate, 1.0, cov / np.where(degenerate, 1.0, std_i * std_j))
    homogeneity = (p / (1.0 + diff**2)).sum(axis=(-2, -1))
    contrast = (p * diff**2).sum(axis=(-2, -1))
    dissimilarity = (p * np.abs(diff)).sum(axis=(-2, -1))
    return np.stack([correlation, homogeneity, contrast, dissimilarity], axis=-1)
