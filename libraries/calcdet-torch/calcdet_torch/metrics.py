"""Validation figures (numpy only): a patch classifier's AUROC and F1 at the Youden threshold, a box
detector's AP/AR, and the FROC AUC of detections on whole images (the core's definitions)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from calcdet_core.api import ImageResult, box_metrics, froc_data, froc_point_estimate


def roc_curve(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """False- and true-positive rates at every distinct score threshold (highest first), and the thresholds."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, np.float64)
    order = np.argsort(-scores, kind="stable")
    labels, scores = labels[order], scores[order]
    last = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    tp, fp = np.cumsum(labels)[last], np.cumsum(~labels)[last]
    return fp / max(int((~labels).sum()), 1), tp / max(int(labels.sum()), 1), scores[last]


def auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve (ties counted half); NaN when one class is missing."""
    labels = np.asarray(labels, bool)
    if labels.all() or not labels.any():
        return float("nan")
    fpr, tpr, _ = roc_curve(labels, scores)
    return float(np.trapezoid(np.r_[0, tpr], np.r_[0, fpr]))


def youden_f1(labels: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """The threshold maximising TPR - FPR, and the F1 score there; NaN when one class is missing."""
    labels, scores = np.asarray(labels, bool), np.asarray(scores, np.float64)
    if labels.all() or not labels.any():
        return float("nan"), float("nan")
    fpr, tpr, thresholds = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    predicted = scores >= thresholds[best]
    tp = int((predicted & labels).sum())
    return float(thresholds[best]), 2 * tp / max(int(predicted.sum()) + int(labels.sum()), 1)


def box_figures(results: Sequence[ImageResult]) -> dict[str, float]:
    """``ap50`` (AP at IoU 0.5) and ``ar`` (AR over IoU 0.5:0.95) of the results; empty when they hold no target."""
    figures = box_metrics(results)
    return {key: float(figures[key]) for key in ("ap50", "ar") if figures[key] is not None}


def froc_auc(results: Sequence[ImageResult]) -> float | None:
    """FROC AUC over 0-50 FP per normal image, in [0, 1]; None without a normal image or a target among them."""
    auc = froc_point_estimate(froc_data(results))["auc"]
    return None if auc is None else float(auc)


def froc_sample(normal: Sequence[bool], at_most: int) -> list[int]:
    """Indices of at most ``at_most`` images, about half normal, spread evenly within each kind.

    Why both kinds: the FROC counts false positives on normal images and finds on the others;
    without one kind (or with ``at_most`` below 2) it is undefined, and the sample is empty.
    """
    normal = np.asarray(normal, bool)
    normals, others = np.flatnonzero(normal), np.flatnonzero(~normal)
    if not len(normals) or not len(others) or at_most < 2:
        return []
    n_other = min(len(others), at_most - min(len(normals), at_most // 2))
    n_normal = min(len(normals), at_most - n_other)
    picks = [ix[np.linspace(0, len(ix) - 1, n).astype(int)] for ix, n in ((normals, n_normal), (others, n_other)) if n]
    return sorted(int(i) for part in picks for i in part)
