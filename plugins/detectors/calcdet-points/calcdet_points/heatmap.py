"""Dense supervision (numpy only): Gaussian heat maps of MC centres, and the training windows cut around them.

Coordinates: the working grid puts pixel ``i``'s centre at ``i`` (x = column, y = row); a window
at corner ``(x0, y0)`` holds grid pixel ``(x0 + i, y0 + j)`` at ``[j, i]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from calcdet_torch.patches import standardised, target_centres
from calcdet_torch.windows import cut

from calcdet_core.api import TrainingImage


def centre_heatmap(shape: tuple[int, int], centres: np.ndarray, sigma: float) -> np.ndarray:
    """(H, W) float32: the largest of Gaussians of ``sigma`` px around each (x, y) centre, 1 at each centre's pixel.

    Why exactly 1 at the nearest pixel: the focal loss counts pixels equal to 1 as the positives
    (CenterNet's convention); the Gaussian around them lowers the penalty of near misses, and
    centred on the sub-pixel position it keeps that position for the decoder's parabola fit.
    """
    h, w = shape
    heat = np.zeros((h, w), np.float32)
    reach = int(np.ceil(3 * sigma))
    for x, y in np.asarray(centres, np.float64).reshape(-1, 2):
        cx, cy = round(x), round(y)
        x0, x1, y0, y1 = max(cx - reach, 0), min(cx + reach + 1, w), max(cy - reach, 0), min(cy + reach + 1, h)
        if x0 >= x1 or y0 >= y1:
            continue
        yy, xx = np.mgrid[y0:y1, x0:x1]
        g = np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)).astype(np.float32)
        heat[y0:y1, x0:x1] = np.maximum(heat[y0:y1, x0:x1], g)
        if 0 <= cx < w and 0 <= cy < h:
            heat[cy, cx] = 1.0
    return heat


@dataclass(frozen=True)
class WindowSpec:
    """How training windows are drawn from an image."""

    window: int = 128
    per_image: int = 16
    """Windows per image and epoch (an image without MCs gets them all at random in the breast)."""
    positive_share: float = 0.75
    """Share of an image's windows that hold a target (chosen at random), placed anywhere in the window."""
    sigma: float = 1.5
    margin: int = 8
    """A window's chosen target lies at least this far from its edges, px."""
    hard_share: float = 0.0
    """Share of the windows without a chosen target that hold one of the image's ``hard`` centres."""
    hard: Mapping[str, np.ndarray] = field(default_factory=dict)
    """Per image id, (N, 2) centres of false detections (:mod:`calcdet_points.mining`); none: all windows at random."""


def window_corners(image: TrainingImage, spec: WindowSpec, rng: np.random.Generator) -> np.ndarray:
    """(N, 2) corners (x0, y0): ``positive_share`` holding a random target, ``hard_share`` of the rest a random
    hard centre, the rest centred at random in the breast."""
    h, w = image.pixels.shape
    centres = target_centres(image)
    hard = spec.hard.get(image.image_id, np.zeros((0, 2)))
    n_pos = round(spec.positive_share * spec.per_image) if len(centres) else 0
    n_hard = round(spec.hard_share * (spec.per_image - n_pos)) if len(hard) else 0
    corners = []
    room = max(spec.window - 2 * spec.margin, 1)
    for chosen, count in ((centres, n_pos), (hard, n_hard)):
        for k in rng.integers(0, max(len(chosen), 1), count):
            x, y = chosen[k]
            corners.append((x - spec.margin - rng.integers(0, room), y - spec.margin - rng.integers(0, room)))
    mask = np.ones((h, w), bool) if image.mask is None or not image.mask.any() else image.mask
    ys, xs = np.nonzero(mask)
    for k in rng.integers(0, len(xs), spec.per_image - n_pos - n_hard):
        corners.append((xs[k] - spec.window // 2, ys[k] - spec.window // 2))
    out = np.rint(np.asarray(corners, np.float64).reshape(-1, 2)).astype(int)
    out[:, 0] = np.clip(out[:, 0], 0, max(w - spec.window, 0))
    out[:, 1] = np.clip(out[:, 1], 0, max(h - spec.window, 0))
    return out


def image_windows(image: TrainingImage, spec: WindowSpec, rng: np.random.Generator, augment: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """One image's training windows (N, S, S) as breast z-scores and their heat maps (N, S, S).

    Augmented windows are mirrored and turned by 90 degrees with their heat maps (MCs have no
    orientation on the working grid).
    """
    pixels = standardised(image.pixels, image.mask)
    centres = target_centres(image)
    corners = window_corners(image, spec, rng)
    windows, heats = [], []
    for corner in corners:
        win = cut(pixels, corner, spec.window)
        heat = centre_heatmap((spec.window, spec.window), centres - corner, spec.sigma)
        if augment:
            turns, flip = int(rng.integers(4)), bool(rng.random() < 0.5)
            win, heat = np.rot90(win, turns), np.rot90(heat, turns)
            if flip:
                win, heat = win[:, ::-1], heat[:, ::-1]
        windows.append(np.ascontiguousarray(win, np.float32))
        heats.append(np.ascontiguousarray(heat, np.float32))
    size = (0, spec.window, spec.window)
    return (np.stack(windows) if windows else np.zeros(size, np.float32),
            np.stack(heats) if heats else np.zeros(size, np.float32))
