"""Square patches around candidates, for every candidate of an image at once."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view


def extract_patches(image: np.ndarray, xy: np.ndarray, size: int = 14, mode: str = "reflect",
                    dtype: npt.DTypeLike = np.float32) -> np.ndarray:
    """(N, size, size) patches (``dtype``, float32 by default) centred on the rounded (x, y) centres.

    For an even ``size`` the centre pixel is at index ``size // 2`` (the study's
    14x14 patch spans ``x - 7 .. x + 6``). Candidates near the border get a padded
    patch (``numpy.pad`` ``mode``), never a missing one.
    """
    if image.ndim != 2:
        raise ValueError(f"expected a 2-D image, got shape {image.shape}")
    if size < 1:
        raise ValueError(f"patch size must be positive, got {size}")
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    if len(xy) == 0:
        return np.zeros((0, size, size), dtype)
    half = size // 2
    pad = size
    padded = np.pad(np.asarray(image, dtype=dtype), pad, mode=mode)  # type: ignore[call-overload]
    h, w = image.shape
    cols = np.clip(np.rint(xy[:, 0]).astype(np.intp), 0, w - 1) + pad - half
    rows = np.clip(np.rint(xy[:, 1]).astype(np.intp), 0, h - 1) + pad - half
    windows = sliding_window_view(padded, (size, size))
    return np.ascontiguousarray(windows[rows, cols])
