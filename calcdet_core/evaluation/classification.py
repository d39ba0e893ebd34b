"""AUROC and AUPRC of candidate scores, at the data's own prevalence (the study's section 2.2.3).

Both are computed from the sorted scores in numpy, with ties handled the way scikit-learn
does (a tie group is one threshold), so the numbers agree with ``roc_auc_score`` and
``average_precision_score``. Nothing is rebalanced: with 1 % positives the AUPRC is low,
and that is the point of reporting it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.matching import DROPPED, STUDY_DIAMETER_PX, TP, match_detections


def _check(labels: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).reshape(-1)
    s = np.asarray(scores, dtype=np.float64).reshape(-1)
    if y.shape != s.shape:
        raise ValueError(f"labels and scores must have the same length, got {y.shape[0]} and {s.shape[0]}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("labels must be 0 (negative) or 1 (positive)")
    if not np.isfinite(s).all():
        raise ValueError("scores must be finite")
    return y.astype(bool), s


def _cumulative_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """True and false positives above each distinct threshold (descending)."""
    order = np.argsort(-s, kind="stable")
    y, s = y[order], s[order]
    last = np.r_[s[1:] != s[:-1], True]
    tp = np.cumsum(y)[last].astype(np.float64)
    fp = np.cumsum(~y)[last].astype(np.float64)
    return tp, fp


def auroc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    """Area under the ROC curve (trapezoids through the tie groups); None without both classes."""
    y, s = _check(np.asarray(labels), np.asarray(scores))
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        return None
    tp, fp = _cumulative_counts(y, s)
    tpr, fpr = np.r_[0.0, tp / n_pos], np.r_[0.0, fp / n_neg]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def auprc(labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray) -> float | None:
    """Average precision: sum over thresholds of (recall step) x precision; None without positives."""
    y, s = _check(np.asarray(labels), np.asarray(scores))
    n_pos = int(y.sum())
    if n_pos == 0:
        return None
    tp, fp = _cumulative_counts(y, s)
    precision = tp / (tp + fp)
    recall = np.r_[0.0, tp / n_pos]
    return float(np.sum(np.diff(recall) * precision))


def candidate_labels(results: Sequence[ImageResult], diameter: float = STUDY_DIAMETER_PX
                     ) -> tuple[np.ndarray, np.ndarray]:
    """0/1 labels (by the matching rule) and scores of every detection that is TP or FP."""
    labels, scores = [np.zeros(0, np.int8)], [np.zeros(0)]
    for result in results:
        status = match_detections(result.detections, result.annotation, diameter).status
        keep = status != DROPPED
        labels.append((status[keep] == TP).astype(np.int8))
        scores.append(result.detections.score[keep])
    return np.concatenate(labels), np.concatenate(scores)


def classification_metrics(results: Sequence[ImageResult], diameter: float = STUDY_DIAMETER_PX) -> dict[str, Any]:
    """AUROC, AUPRC and prevalence of the detections' scores against their matching labels."""
    labels, scores = candidate_labels(results, diameter)
    return {
        "samples": len(labels),
        "positives": int(labels.sum()),
        "prevalence": float(labels.mean()) if len(labels) else None,
        "auroc": auroc(labels, scores),
        "auprc": auprc(labels, scores),
    }
