"""PNG overlays: an image windowed to 8 bits with detection circles drawn on it (drawn in numpy, saved by Pillow)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calcdet_core.contracts.data import Candidates

MIN_DRAWN_RADIUS = 4.0
"""Circles are drawn at least this large so that 1-2 px calcification detections stay visible."""


def to_8bit(pixels: np.ndarray) -> np.ndarray:
    """Window by the 0.5-99.5 percentiles of the non-background pixels to uint8."""
    p = np.asarray(pixels, dtype=np.float64)
    body = p[p > p.min()] if (p > p.min()).any() else p.ravel()
    low, high = np.percentile(body, [0.5, 99.5])
    scale = 255.0 / (high - low) if high > low else 0.0
    return np.clip((p - low) * scale, 0, 255).astype(np.uint8)


def draw_circles(rgb: np.ndarray, detections: Candidates, color: tuple[int, int, int]) -> np.ndarray:
    """Draw 1-px circle outlines (radius at least :data:`MIN_DRAWN_RADIUS`) into an (H, W, 3) uint8 image."""
    h, w = rgb.shape[:2]
    for x, y, r in detections.xyr:
        radius = max(float(r), MIN_DRAWN_RADIUS)
        t = np.linspace(0, 2 * np.pi, max(16, int(2 * np.pi * radius * 2)), endpoint=False)
        cols = np.rint(x + radius * np.cos(t)).astype(int)
        rows = np.rint(y + radius * np.sin(t)).astype(int)
        ok = (cols >= 0) & (cols < w) & (rows >= 0) & (rows < h)
        rgb[rows[ok], cols[ok]] = color
    return rgb


def write_png(path: Path, rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 array as an 8-bit RGB PNG."""
    from PIL import Image  # imported here: `calcdet` start-up does not pay for Pillow

    pixels = np.ascontiguousarray(rgb, dtype=np.uint8)
    if pixels.ndim != 3 or pixels.shape[2] != 3:
        raise ValueError(f"{path}: an RGB PNG needs an (H, W, 3) array, got shape {pixels.shape}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")
    return path


def write_overlay(path: Path, pixels: np.ndarray, detections: Candidates,
                  color: tuple[int, int, int] = (255, 40, 40)) -> Path:
    """The stored image with its detections circled."""
    gray = to_8bit(pixels)
    return write_png(path, draw_circles(np.repeat(gray[:, :, None], 3, axis=2), detections, color))
