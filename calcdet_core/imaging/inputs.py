"""Checks on the arrays a component is given, so bad input fails with a message, not deep in OpenCV."""

from __future__ import annotations

import numpy as np


def checked_image(image: np.ndarray, who: str, min_side: int = 1) -> np.ndarray:
    """The working-grid image as contiguous float32, or a ValueError naming ``who`` and the problem."""
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"{who} needs a 2-D grey image; got shape {image.shape} (convert colour images first)")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{who} needs a float image in [0, 1] (the preprocessed working grid); got {image.dtype}, "
                         "normalise it first (calcdet's preprocess does)")
    if min(image.shape) < min_side:
        raise ValueError(f"{who} needs an image of at least {min_side}x{min_side} px; got {image.shape[1]}x"
                         f"{image.shape[0]}")
    if not np.isfinite(image).all():
        raise ValueError(f"{who} needs finite pixel values; the image contains NaN or inf")
    lo, hi = float(image.min()), float(image.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{who} needs pixel values in [0, 1]; got [{lo:.4g}, {hi:.4g}]")
    return np.ascontiguousarray(image, dtype=np.float32)


def checked_mask(mask: np.ndarray | None, shape: tuple[int, ...], who: str) -> np.ndarray | None:
    """``mask`` as bool with the image's shape (``None`` stays ``None``), or a ValueError."""
    if mask is None:
        return None
    mask = np.asarray(mask)
    if mask.shape != shape:
        raise ValueError(f"{who}: mask shape {mask.shape} differs from image shape {shape}")
    return mask.astype(bool, copy=False)


def bounding_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the smallest box holding every True pixel, or None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def checked_inputs(image: np.ndarray, mask: np.ndarray | None, who: str,
                   min_side: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Image and mask checked; a missing mask means the non-zero pixels (preprocessing zeroes the background)."""
    image = checked_image(image, who, min_side)
    mask = checked_mask(mask, image.shape, who)
    return image, image > 0 if mask is None else mask
