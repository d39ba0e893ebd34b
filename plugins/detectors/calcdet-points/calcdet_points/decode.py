"""From a heat map to detections (numpy only): local maxima, sub-pixel centres, NMS, the mask, a cap."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from calcdet_torch.points import local_maxima, subpixel_offsets, suppress

from calcdet_core.api import Detections


@dataclass(frozen=True)
class DecodeSpec:
    """How peaks become detections."""

    threshold: float = 0.05
    """Lowest heat (0-1) of a peak reported as a detection."""
    min_distance: float = 14.0
    """No two detections closer than this, px (the study's 14 px)."""
    max_detections: int = 1000
    radius: float = 3.0
    """Radius given to every detection, px."""

    @classmethod
    def of(cls, config: Any) -> DecodeSpec:
        """The decoding a point-heatmap config sets: ``threshold``, ``min_distance``, ``max_detections``, ``radius``."""
        return cls(config.threshold, config.min_distance, config.max_detections, config.radius)


def decode(heat: np.ndarray, mask: np.ndarray | None, spec: DecodeSpec) -> Detections:
    """Detections at the maxima of their 3x3 neighbourhood reaching ``spec.threshold``, best first.

    Centres are refined by a parabola through each peak and its neighbours (within half a pixel),
    peaks whose pixel lies outside ``mask`` are dropped, then greedy NMS keeps the best of any
    peaks closer than ``min_distance`` and at most ``max_detections`` remain.
    """
    heat = np.asarray(heat, np.float32)
    rows, cols = local_maxima(heat, spec.threshold)
    if mask is not None:
        inside = mask[rows, cols]
        rows, cols = rows[inside], cols[inside]
    if not len(rows):
        return Detections.empty()
    dx, dy = subpixel_offsets(heat, rows, cols)
    xy = np.column_stack([cols + dx, rows + dy])
    score = heat[rows, cols].astype(np.float64)
    order = np.lexsort((cols, rows, -score))  # best first, ties in a fixed order
    xy, score = xy[order], score[order]
    keep = suppress(xy, score, spec.min_distance, spec.max_detections)
    radius = np.full(len(keep), spec.radius)
    return Detections(np.column_stack([xy[keep], radius]).reshape(-1, 3), score[keep])
