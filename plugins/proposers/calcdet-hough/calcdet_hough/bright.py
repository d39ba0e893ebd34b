"""Large objects much brighter than the tissue (clips, markers, large calcifications), found robustly.

The Hough chain scales the image by its maximum and its 8-bit binarisations by the strongest edge.
A clip would set both, flattening every microcalcification's contrast and edges; its pixels are
lowered to the brightest value elsewhere in the breast before the chain runs.
"""

from __future__ import annotations

import cv2
import numpy as np

OBJECT_AREA = 154
"""Bright components larger than this (px^2) are objects, not MCs: a 1 mm MC at 70 um is pi * 7^2 px^2."""


def bright_objects(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` in components above the ceiling larger than :data:`OBJECT_AREA` (bool, image-shaped).

    The ceiling is robust to the objects themselves: the 95th percentile of ``region`` plus twice its
    distance to the median, so it sits well above the tissue whatever a small object does to the
    maximum. Microcalcifications may cross it but are smaller than an object.
    """
    values = image[region]
    if values.size == 0:
        return np.zeros(image.shape, bool)
    median, high = np.percentile(values, [50, 95])
    over = ((image > high + 2 * (high - median)) & region).view(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(over, connectivity=8)
    large = stats[:, cv2.CC_STAT_AREA] > OBJECT_AREA
    large[0] = False
    return large[labels]
