"""Binary erosion of masks by a square in pure numpy (the core depends on no image library).

Proposers drop a band along the breast border, where the skin line and the mask's own edge
make bright false spots; they all erode the breast mask by a square. A square is separable:
the columns pass and the rows pass are each a 1-D minimum over a window, and each is done at
a cost that does not grow with the window:

- along columns, van Herk/Gil-Werman: prefix and suffix ANDs within blocks of the window's
  length, one vectorised AND per block offset over whole (contiguous) rows;
- along rows, the mask's runs: each run of breast pixels shrinks by the window's reach on
  either side (a breast mask has a few runs per row, so this is a scan and a repaint).
"""

from __future__ import annotations

import numpy as np


def erode_mask(mask: np.ndarray, size: int, iterations: int = 1, *, erode_image_edges: bool = False) -> np.ndarray:
    """``mask`` eroded ``iterations`` times by a ``size`` x ``size`` square of ones, as ``cv2.erode`` does.

    A pixel stays when every pixel of the square around it is in the mask. ``erode_image_edges``
    says what lies beyond the image: ``False`` (OpenCV's default border) counts it as mask, so a
    breast that reaches the image edge keeps its pixels there and only the mask's own border is
    eroded; ``True`` counts it as background, so the mask also loses a band along the image edges.
    An even ``size`` is anchored as OpenCV anchors it (the square reaches ``size // 2`` pixels up
    and left, one fewer down and right). Repeated erosions by a square are one erosion by a larger
    square, so ``iterations`` costs nothing extra; 0 iterations or ``size`` 1 return a copy.
    ``mask`` is any 2-D array (non-zero = in the mask); the result is a new bool array.
    """
    m = np.asarray(mask)
    if m.ndim != 2:
        raise ValueError(f"mask must be 2-D, got shape {m.shape}")
    if size < 1 or iterations < 0:
        raise ValueError(f"size must be >= 1 and iterations >= 0, got size={size}, iterations={iterations}")
    m = m if m.dtype == bool else m != 0
    before, after = iterations * (size // 2), iterations * (size - 1 - size // 2)
    if before + after == 0 or m.size == 0:
        return m.copy()
    outside = not erode_image_edges
    columns = _erode_columns(m, min(before, m.shape[0]), min(after, m.shape[0]), outside)
    return _erode_rows(columns, min(before, m.shape[1]), min(after, m.shape[1]), outside)


def _erode_columns(m: np.ndarray, before: int, after: int, outside: bool) -> np.ndarray:
    """Row y becomes the AND of rows y - before .. y + after (rows beyond the image are ``outside``).

    van Herk/Gil-Werman: with the rows cut into blocks of the window's length k, the window
    starting at row i spans the end of one block and the start of the next, so it is the suffix
    AND of the first at i and the prefix AND of the second at i + k - 1.
    """
    h, w = m.shape
    k = before + after + 1
    blocks = -(-(h + k - 1) // k)
    prefix = np.full((blocks * k, w), outside)
    prefix[before:before + h] = m
    suffix = prefix.copy()
    pre, suf = prefix.reshape(blocks, k, w), suffix.reshape(blocks, k, w)
    for i in range(1, k):
        np.logical_and(pre[:, i - 1], pre[:, i], out=pre[:, i])
        np.logical_and(suf[:, k - i], suf[:, k - 1 - i], out=suf[:, k - 1 - i])
    return suffix[:h] & prefix[k - 1:k - 1 + h]


def _erode_rows(m: np.ndarray, before: int, after: int, outside: bool) -> np.ndarray:
    """Pixel x of each row becomes the AND of pixels x - before .. x + after (beyond the row: ``outside``).

    The rows are laid end to end with one background pixel after each, so every run of mask
    pixels is a (start, end) pair of the flat array; a run shrinks by ``before`` at its start and
    ``after`` at its end (not at an image edge when beyond it counts as mask), and the shrunk
    runs are painted back with one ``np.repeat``.
    """
    h, w = m.shape
    flat = np.zeros(1 + h * (w + 1), bool)  # a leading background pixel, then each row and one more
    flat[1:].reshape(h, w + 1)[:, :w] = m
    change = np.flatnonzero(flat[1:] != flat[:-1])  # positions (in flat[1:]) where a run starts or ends
    starts, ends = change[0::2], change[1::2]
    if outside:
        starts = starts + np.where(starts % (w + 1) == 0, 0, before)
        ends = ends - np.where(ends % (w + 1) == w, 0, after)
    else:
        starts, ends = starts + before, ends - after
    keep = starts < ends
    bounds = np.column_stack([starts[keep], ends[keep]]).ravel()
    lengths = np.diff(bounds, prepend=0, append=h * (w + 1))
    values = np.arange(len(lengths)) % 2 == 1  # background, run, background, ..., background
    return np.repeat(values, lengths).reshape(h, w + 1)[:, :w].copy()
