"""Checks on what a proposer is given, so bad input fails with a message instead of deep in OpenCV."""

from __future__ import annotations

import numpy as np

MIN_SIDE = 32
"""Smallest image side accepted, px: below it a 3-sigma Gaussian blur is mostly border."""


def checked_inputs(image: np.ndarray, mask: np.ndarray | None, who: str) -> tuple[np.ndarray, np.ndarray]:
    """The image as float32 and the mask as bool, or a ValueError that says what is wrong.

    A missing mask means "the non-zero pixels": preprocessing sets the background to 0.
    """
    image = np.asarray(image)
    if image.ndim != 2:
        raise ValueError(f"{who} needs a 2-D grey image; got shape {image.shape} (convert colour images first)")
    if not np.issubdtype(image.dtype, np.floating):
        raise ValueError(f"{who} needs a float image in [0, 1] (the preprocessed working grid); got {image.dtype}, "
                         "normalise it first (calcdet's preprocess does)")
    if min(image.shape) < MIN_SIDE:
        raise ValueError(f"{who} needs an image of at least {MIN_SIDE}x{MIN_SIDE} px; got {image.shape[1]}x"
                         f"{image.shape[0]}")
    if not np.isfinite(image).all():
        raise ValueError(f"{who} needs finite pixel values; the image contains NaN or inf")
    lo, hi = float(image.min()), float(image.max())
    if lo < 0 or hi > 1:
        raise ValueError(f"{who} needs pixel values in [0, 1]; got [{lo:.4g}, {hi:.4g}]")
    if mask is None:
        mask = image > 0
    else:
        mask = np.asarray(mask)
        if mask.shape != image.shape:
            raise ValueError(f"{who}: mask shape {mask.shape} differs from image shape {image.shape}")
        mask = mask.astype(bool, copy=False)
    return np.ascontiguousarray(image, dtype=np.float32), mask


def bounding_box(mask: np.ndarray) -> tuple[slice, slice] | None:
    """Row and column slices of the smallest box holding every True pixel, or None for an empty mask."""
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    if rows.size == 0:
        return None
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)
