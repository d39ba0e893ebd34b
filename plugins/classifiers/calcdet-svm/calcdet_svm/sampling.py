"""Class balancing by downsampling (the study's 1:10 TP:FP) and a cap that keeps SVM training fast."""

from __future__ import annotations

import numpy as np

from calcdet_core.api import InvalidInputError


def check_training_set(features: np.ndarray, labels: np.ndarray, groups: np.ndarray | None = None,
                       what: str = "training") -> tuple[np.ndarray, np.ndarray]:
    """Validate (N, F) finite features with 0/1 labels (ValueError) holding both classes (InvalidInputError)."""
    X = np.asarray(features, dtype=np.float64)
    y = np.asarray(labels).reshape(-1)
    if X.ndim != 2:
        raise ValueError(f"{what} features must be a 2-D (candidates, features) array; got shape {X.shape}")
    if len(y) != len(X) or (groups is not None and len(np.asarray(groups).reshape(-1)) != len(X)):
        raise ValueError(f"{what}: features, labels and groups must have one row per candidate; "
                         f"got {len(X)}, {len(y)} and {None if groups is None else len(groups)}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"{what} labels must be 0 (false positive) or 1 (true positive)")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} features contain NaN or infinite values")
    if y.min(initial=1) == 1 or y.max(initial=0) == 0:  # the data's doing, not the caller's: a user error
        raise InvalidInputError(f"{what} needs both true-positive and false-positive candidates; got "
                                f"{int((y == 1).sum())} TP and {int((y == 0).sum())} FP (train on more images)")
    return X, y.astype(np.int64)


def downsample(labels: np.ndarray, negatives_per_positive: float, max_samples: int,
               rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: every positive, ``negatives_per_positive`` negatives per positive, at most ``max_samples``.

    When the balanced set exceeds the cap, both classes shrink by the same factor so the
    ratio holds (at least one row of each class survives).
    """
    y = np.asarray(labels).reshape(-1)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    n_pos = len(pos)
    n_neg = min(len(neg), int(np.ceil(negatives_per_positive * max(n_pos, 1))))
    if n_pos + n_neg > max_samples:
        shrink = max_samples / (n_pos + n_neg)
        n_pos = min(n_pos, max(1, int(n_pos * shrink)))
        n_neg = min(len(neg), max(1, max_samples - n_pos))
    chosen = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, n_neg, replace=False)])
    return np.sort(chosen)


def cap_negatives(labels: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted row indices: every positive, and negatives drawn at random up to ``max_samples`` rows in all.

    For learners that weigh the classes themselves (tree ensembles), where only the total matters.
    """
    y = np.asarray(labels).reshape(-1)
    if len(y) <= max_samples:
        return np.arange(len(y))
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    return np.sort(np.concatenate([pos, rng.choice(neg, max(max_samples - len(pos), 1), replace=False)]))


def keep_sensitivity_threshold(scores: np.ndarray, labels: np.ndarray, sensitivity: float) -> float:
    """The highest threshold ``t`` such that ``scores >= t`` keeps at least ``sensitivity`` of the positives."""
    positive = np.sort(np.asarray(scores, dtype=np.float64)[np.asarray(labels) == 1])
    if len(positive) == 0:
        raise ValueError("choosing a threshold needs at least one true positive")
    may_drop = int(np.floor((1.0 - sensitivity) * len(positive) + 1e-9))
    return float(positive[min(may_drop, len(positive) - 1)])
