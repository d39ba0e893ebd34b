"""Reference GM proposer: the study's steps written the direct way, as its public code did.

Marker = opening with a 14 px ellipse; reconstruction by dilating with a 3x3 square and clipping under
the image until nothing changes (every iteration scans the whole image); breast border removed by ten
5x5 erosions; ``np.quantile`` thresholds; scikit-image labels, one contour per component (as the
study); minimum distance by a full pairwise distance matrix. Parameters and outputs match
``calcdet_gm.GMProposer()`` with its defaults.
"""

from __future__ import annotations

import cv2
import numpy as np
from scipy import ndimage
from scipy.spatial.distance import cdist
from skimage.measure import label

from calcdet_core.api import Candidates

OPENING, BORDER_SIZE, BORDER_ITER = 14, 5, 10
FIRST_Q, SECOND_Q, MAX_AREA, MAX_RADIUS, MIN_DISTANCE = 0.95, 0.80, 154.0, 10.0, 6.0


def _reconstruction(marker: np.ndarray, mask: np.ndarray) -> np.ndarray:
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    current = np.minimum(marker, mask)
    while True:
        grown = cv2.min(cv2.dilate(current, square), mask)
        if (grown == current).all():
            return current
        current = grown


def propose(image: np.ndarray, mask: np.ndarray | None) -> Candidates:
    image = image.astype(np.float32)
    mask = image > 0 if mask is None else mask
    disk = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (OPENING, OPENING))
    tophat = image - _reconstruction(cv2.morphologyEx(image, cv2.MORPH_OPEN, disk), image)
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (BORDER_SIZE, BORDER_SIZE))
    region = cv2.erode(mask.astype(np.uint8), square, iterations=BORDER_ITER) > 0
    tophat[~region] = 0
    positive = tophat[tophat > 0]
    if positive.size == 0:
        return Candidates.empty()
    first = np.quantile(positive, FIRST_Q)
    if not (positive > first).any():
        return Candidates.empty()
    second = np.quantile(positive[positive > first], SECOND_Q)
    binary = (tophat > second).astype(np.uint8)
    labels = label(binary, connectivity=2)
    peak = ndimage.maximum(tophat, labels, np.arange(labels.max() + 1))
    contours, _ = cv2.findContours(binary, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    rows = []
    for contour in contours:
        if max(cv2.contourArea(contour), 1.0) > MAX_AREA:
            continue
        (cx, cy), r = cv2.minEnclosingCircle(contour)
        if r <= MAX_RADIUS:
            x0, y0 = contour[0, 0]
            rows.append((cx, cy, r + 0.5, peak[labels[y0, x0]]))
    if not rows:
        return Candidates.empty()
    table = np.array(rows)
    order = np.lexsort((np.arange(len(table)), -table[:, 3]))
    table = table[order]
    distance = cdist(table[:, :2], table[:, :2])
    removed = np.zeros(len(table), bool)
    for i in range(len(table)):
        if not removed[i]:
            removed |= distance[i] <= MIN_DISTANCE
            removed[i] = False
    kept = table[~removed]
    return Candidates(kept[:, :3], kept[:, 3])
