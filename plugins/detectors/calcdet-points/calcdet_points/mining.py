"""Hard negatives: the training images' strongest false detections, where background windows go next (numpy only).

Why: on the 120-image benchmark the net's strongest false positives on normal images were vascular
calcification lines and noise specks, which windows centred at random in the breast put in front of
it too rarely for the loss to learn them. Each epoch (after the first) the net being trained detects
on every training image as ``detect`` does; the best detections that the FROC would count as false
positives (:func:`calcdet_core.api.match_detections`: touching no MC and outside every ignore
region) become centres of that epoch's hard windows.
"""

from __future__ import annotations

import numpy as np

from calcdet_core.api import FP, Annotation, Detections, match_detections

MINED_PER_IMAGE = 32
"""False detections kept per image, best first: the pool an epoch's hard windows are drawn from."""


def false_peaks(found: Detections, annotation: Annotation, limit: int = MINED_PER_IMAGE) -> np.ndarray:
    """(N, 2) float64 centres (x, y) of the ``limit`` highest-scoring detections that are false positives."""
    status = match_detections(found, annotation).status
    false = np.flatnonzero(status == FP)
    best = false[np.argsort(-found.score[false], kind="stable")][:limit]
    return found.xyr[best, :2].copy()
