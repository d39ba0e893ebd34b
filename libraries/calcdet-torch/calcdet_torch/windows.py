"""Square windows over an image, with the boxes of the targets inside them (numpy only).

A window detector (Faster R-CNN) trains on windows that hold targets and detects window by
window. Coordinates: the working grid puts pixel ``i``'s centre at ``i``; boxes inside a
window use torchvision's continuous convention (pixel ``i`` spans ``[i, i + 1)``), so a box
in the grid is the window box plus the window's corner minus 0.5 (:func:`to_grid`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_core.api import TrainingImage


def starts(length: int, window: int, stride: int) -> np.ndarray:
    """Window starts along one axis: every ``stride`` px, the last flush with the end (one at 0 when short)."""
    last = max(length - window, 0)
    return np.unique(np.r_[np.arange(0, last + 1, stride), last]).astype(int)


def grid(shape: tuple[int, int], window: int, stride: int) -> np.ndarray:
    """(N, 2) window corners (x0, y0) covering an image of ``shape`` (rows, columns)."""
    h, w = shape
    xs, ys = starts(w, window, stride), starts(h, window, stride)
    return np.array([(x, y) for y in ys for x in xs], int).reshape(-1, 2)


def cut(pixels: np.ndarray, corner: tuple[int, int] | np.ndarray, window: int) -> np.ndarray:
    """The ``window`` x ``window`` crop at ``corner`` (x0, y0), zeros (background) beyond the image."""
    x0, y0 = int(corner[0]), int(corner[1])
    out = np.zeros((window, window), np.float32)
    part = pixels[y0 : y0 + window, x0 : x0 + window]
    out[: part.shape[0], : part.shape[1]] = part
    return out


def target_boxes(centres: np.ndarray, side: float, corner: tuple[int, int] | np.ndarray, window: int) -> np.ndarray:
    """(K, 4) boxes (window coordinates, clipped) of the ``side`` px squares on the targets centred in the window."""
    c = np.asarray(centres, np.float64).reshape(-1, 2) - np.asarray(corner, np.float64) + 0.5
    inside = ((c >= 0) & (c < window)).all(axis=1)
    c = c[inside]
    boxes = np.column_stack([c - side / 2, c + side / 2])
    return np.clip(boxes, 0, window).reshape(-1, 4)


def to_grid(boxes: np.ndarray, corner: tuple[int, int] | np.ndarray) -> np.ndarray:
    """Window boxes (continuous coordinates) as working-grid boxes (pixel centres at integers)."""
    x0, y0 = float(corner[0]), float(corner[1])
    return np.asarray(boxes, np.float64).reshape(-1, 4) + np.array([x0, y0, x0, y0]) - 0.5


def flip_rotate(window: np.ndarray, boxes: np.ndarray, flip_x: bool, flip_y: bool, turns: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """A square window mirrored and turned ``turns`` x 90 degrees (``np.rot90``), with its boxes moved alike."""
    side = window.shape[0]
    b = np.asarray(boxes, np.float64).reshape(-1, 4).copy()
    out = window
    if flip_x:
        out, b = out[:, ::-1], np.column_stack([side - b[:, 2], b[:, 1], side - b[:, 0], b[:, 3]])
    if flip_y:
        out, b = out[::-1, :], np.column_stack([b[:, 0], side - b[:, 3], b[:, 2], side - b[:, 1]])
    for _ in range(turns % 4):  # rot90: the point (x, y) goes to (y, side - x)
        out, b = np.rot90(out), np.column_stack([b[:, 1], side - b[:, 2], b[:, 3], side - b[:, 0]])
    return np.ascontiguousarray(out, np.float32), b


@dataclass(frozen=True)
class WindowSpec:
    """How training windows are cut and labelled."""

    window: int = 224
    stride: int = 100
    box: float = 14.0
    negative_share: float = 0.2
    """Windows without targets per window with targets, drawn per image (at least one per image when > 0)."""
    min_side: float = 2.0
    """A box clipped by the window edge to narrower than this is dropped (and the window is not negative)."""


def sample_windows(image: TrainingImage, spec: WindowSpec, rng: np.random.Generator, augment: bool = False
                   ) -> tuple[np.ndarray, list[np.ndarray]]:
    """One image's training windows (N, S, S) and their boxes: every grid window holding a target, and negatives.

    Negatives are grid windows without any target box that hold breast (when there is a mask).
    """
    pixels = np.asarray(image.pixels, np.float32)
    centres = np.array([(t.x, t.y) for t in image.annotation.targets], np.float64).reshape(-1, 2)
    corners = grid(pixels.shape, spec.window, spec.stride)
    positive, negative, boxes = [], [], []
    for corner in corners:
        c = centres - corner + 0.5
        near = ((c > -spec.box / 2) & (c < spec.window + spec.box / 2)).all(axis=1).any()  # a box reaches in
        kept = target_boxes(centres, spec.box, corner, spec.window)
        kept = kept[((kept[:, 2] - kept[:, 0]) >= spec.min_side) & ((kept[:, 3] - kept[:, 1]) >= spec.min_side)]
        if len(kept):
            positive.append(corner)
            boxes.append(kept)
        elif not near and (image.mask is None or cut(image.mask.astype(np.float32), corner, spec.window).any()):
            negative.append(corner)
    wanted = int(np.ceil(spec.negative_share * max(len(positive), 1))) if spec.negative_share > 0 else 0
    picks = rng.permutation(len(negative))[:wanted]
    chosen = [*positive, *(negative[i] for i in sorted(picks))]
    boxes += [np.zeros((0, 4))] * len(picks)
    windows = [cut(pixels, c, spec.window) for c in chosen]
    if augment:
        moved = [flip_rotate(w, b, bool(rng.random() < 0.5), bool(rng.random() < 0.5), int(rng.integers(4)))
                 for w, b in zip(windows, boxes, strict=True)]
        windows, boxes = [w for w, _ in moved], [b for _, b in moved]
    stack = np.stack(windows) if windows else np.zeros((0, spec.window, spec.window), np.float32)
    return stack, boxes
