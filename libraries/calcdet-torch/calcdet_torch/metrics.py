"""Validation figures of a patch classifier (numpy only): AUROC and F1 at the Youden threshold."""

from __future__ import annotations

import numpy as np


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
