"""Supervised choice of Haar-like features: random-forest Gini importance under case-grouped CV.

The study balanced the training candidates 1:10 (TP:FP), computed the whole bank, trained a random
forest per fold of a five-fold cross-validation and kept the features with the highest importance
averaged over the folds. Here the folds are case-grouped (no case in two folds) and stratified, so
every forest sees both classes; each forest is also scored on its held-out cases, which tells the
user whether the bank separates the classes at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_core.api import InvalidInputError, ProgressTask, grow_forest


def balance(labels: np.ndarray, negatives_per_positive: float | None, max_samples: int,
            rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of a training subset: every positive, at most ``ratio`` negatives per positive,
    then both classes thinned in proportion to ``max_samples`` (at least one of each kept)."""
    pos, neg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if negatives_per_positive is not None and len(neg) > negatives_per_positive * len(pos):
        neg = rng.choice(neg, int(np.ceil(negatives_per_positive * len(pos))), replace=False)
    total = len(pos) + len(neg)
    if total > max_samples:
        n_pos = min(len(pos), max(1, round(max_samples * len(pos) / total)))
        pos = rng.choice(pos, n_pos, replace=False)
        neg = rng.choice(neg, max_samples - n_pos, replace=False)
    return np.sort(np.concatenate([pos, neg]))


@dataclass(frozen=True)
class Importance:
    """Mean Gini importance per feature over the folds, and each fold's held-out AUROC (None: one class)."""

    mean: np.ndarray
    fold_auroc: list[float | None]


def grouped_importance(features: np.ndarray, labels: np.ndarray, groups: np.ndarray, *, n_estimators: int,
                       cv_folds: int, seed: int, n_jobs: int, task: ProgressTask | None = None) -> Importance:
    """Random-forest Gini importance averaged over stratified, case-grouped folds.

    ``task`` advances by every chunk of trees grown (``cv_folds * n_estimators`` steps in all).
    """
    # scikit-learn is imported here, not at module level: plugin discovery (every `calcdet` start) stays fast.
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedGroupKFold

    n_groups = len(np.unique(groups))
    if n_groups < cv_folds:
        raise InvalidInputError(f"haar: feature selection uses {cv_folds}-fold case-grouped cross-validation but "
                                f"the training patches come from {n_groups} case(s); train on at least {cv_folds} "
                                "cases or lower cv_folds")
    folds = StratifiedGroupKFold(n_splits=cv_folds, shuffle=True, random_state=seed)
    total = np.zeros(features.shape[1], np.float64)
    aurocs: list[float | None] = []
    for fold, (train, test) in enumerate(folds.split(features, labels, groups)):
        forest = RandomForestClassifier(n_estimators=n_estimators, random_state=seed + fold, n_jobs=n_jobs)
        grow_forest(forest, features[train], labels[train], task)
        total += forest.feature_importances_
        held_out = labels[test]
        if len(np.unique(held_out)) == 2 and len(forest.classes_) == 2:
            aurocs.append(float(roc_auc_score(held_out, forest.predict_proba(features[test])[:, 1])))
        else:
            aurocs.append(None)
    return Importance(total / cv_folds, aurocs)


def top_k(importance: np.ndarray, k: int) -> np.ndarray:
    """Indices of the ``k`` most important features, most important first; ties go to the lower index."""
    order = np.lexsort((np.arange(len(importance)), -importance))
    return order[:k]
