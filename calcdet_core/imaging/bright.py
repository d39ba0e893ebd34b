"""Large objects much brighter than the tissue (clips, markers, large calcifications), found robustly.

Why it exists: a threshold relative to an image's maximum (HDoG's eigenvalue test, the Hough
chain's scaling by the maximum and the strongest edge) collapses when such an object is in the
image: the object sets the maximum, and every microcalcification falls below the bar. A proposer
leaves these pixels out of its maximum, or lowers them, before it thresholds.
"""

from __future__ import annotations

import numpy as np

from calcdet_core.imaging.inputs import bounding_box
from calcdet_core.imaging.regions import label_regions

OBJECT_AREA = 154
"""Bright components larger than this (px^2) are objects, not MCs: a 1 mm MC at 70 um is pi * 7^2 px^2."""


def bright_objects(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` in 8-connected components above the ceiling larger than :data:`OBJECT_AREA`.

    Returns a bool image-shaped array. The ceiling is robust to the objects themselves: the 95th
    percentile of ``region`` plus twice its distance to the median, so it sits well above the
    tissue whatever a small object does to the maximum. Microcalcifications may cross it but are
    smaller than an object.
    """
    found = np.zeros(image.shape, bool)
    values = image[region]
    if values.size == 0:
        return found
    median, high = np.percentile(values, [50, 95])
    over = (image > high + 2 * (high - median)) & region
    box = bounding_box(over)
    if box is None:
        return found
    over = over[box]
    labels, _ = label_regions(_diagonals_bridged(over))
    areas = np.bincount(labels[over])
    large = areas > OBJECT_AREA
    large[0] = False
    found[box] = over & large[labels]
    return found


def _diagonals_bridged(mask: np.ndarray) -> np.ndarray:
    """``mask`` with one pixel added beside each diagonal-only contact, so 4-connected regions are its 8-connected ones.

    A pair (i, j), (i+1, j+1) gains (i+1, j); a pair (i, j+1), (i+1, j) gains (i, j). Each added pixel
    touches only pixels 8-connected to the pair, so no two separate regions are joined.
    """
    bridged = mask.copy()
    bridged[1:, :-1] |= mask[:-1, :-1] & mask[1:, 1:]
    bridged[:-1, :-1] |= mask[:-1, 1:] & mask[1:, :-1]
    return bridged
