"""Upright and 45-degree integral images of many patches at once, as one flat table per patch."""

from __future__ import annotations

from functools import cache

import numpy as np


@cache
def _shear_index(patch: int) -> np.ndarray:
    """Flat position in the (2P - 1)^2 sheared grid of each patch pixel, row-major: s = x + y, d = x - y + P - 1."""
    y, x = np.mgrid[:patch, :patch]
    index = (x + y) * (2 * patch - 1) + (x - y + patch - 1)
    index.flags.writeable = False
    return index.ravel()


def _integral(grid: np.ndarray) -> np.ndarray:
    """(N, H + 1, W + 1) exclusive integral: ``out[:, r, c]`` sums ``grid[:, :r, :c]``."""
    n, h, w = grid.shape
    out = np.zeros((n, h + 1, w + 1), np.float64)
    np.cumsum(grid, axis=1, dtype=np.float64, out=out[:, 1:, 1:])
    np.cumsum(out[:, 1:, 1:], axis=2, out=out[:, 1:, 1:])
    return out


def flat_tables(patches: np.ndarray) -> np.ndarray:
    """(N, (P + 1)^2 + (2 P)^2) float64: upright integral image, then the integral of the sheared patch.

    On the sheared grid (pixel (x, y) at row s = x + y, column d = x - y + P - 1, other cells zero)
    a 45-degree rectangle is an axis-aligned one, so both kinds of rectangle sum are four look-ups.
    """
    patches = np.asarray(patches)
    n, p, _ = patches.shape
    sheared = np.zeros((n, (2 * p - 1) ** 2), patches.dtype)
    sheared[:, _shear_index(p)] = patches.reshape(n, p * p)
    upright = _integral(patches).reshape(n, (p + 1) ** 2)
    rotated = _integral(sheared.reshape(n, 2 * p - 1, 2 * p - 1)).reshape(n, (2 * p) ** 2)
    return np.concatenate([upright, rotated], axis=1)
