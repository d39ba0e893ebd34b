"""Context of scored points among the others of their image: score rank, neighbour counts and scores, spacing.

A patch feature sees 14x14 pixels; a radiologist reads an MC in its cluster and against the rest of
the breast. These columns give a classifier that view of any scored points: a proposer's candidates
(calcdet-context's features) or a detector's detections (point-heatmap's context rescoring). They
depend on the image's other points, so they are computed on all of an image's points at once, the
same way in training as at detection, and do not depend on the points' order. Imports scipy when called.
"""

from __future__ import annotations

import numpy as np


def context_features(xy: np.ndarray, score: np.ndarray, radii: list[float], strong_share: float,
                     nearest: int, far: float) -> np.ndarray:
    """(N, 6 + len(radii)) context features of N points at ``xy`` with (log) ``score`` (a proposer's, a detector's).

    Scores are taken relative to the image's median (a neighbourhood without candidates counts
    as median); counts and the distance are log1p-compressed (heavy-tailed; an SVM standardises
    them); ``far`` stands in for the k-th nearest distance of a candidate with fewer than k others.
    """
    from scipy.spatial import cKDTree
    from scipy.stats import rankdata

    n = len(xy)
    if n == 0:
        return np.zeros((0, 6 + len(radii)))
    rank = (rankdata(score) - 0.5) / n  # ties share their mean rank: independent of the order
    relative = score - np.median(score)

    tree = cKDTree(xy)
    pairs = tree.query_pairs(radii[-1], output_type="ndarray")
    me = np.concatenate([pairs[:, 0], pairs[:, 1]])  # each pair once from either side
    other = np.concatenate([pairs[:, 1], pairs[:, 0]])
    distance = np.hypot(*(xy[me] - xy[other]).T)
    counts = [np.bincount(me[distance <= r], minlength=n) for r in radii]
    around = counts[-1]
    strong = np.bincount(me, weights=rank[other] >= 1 - strong_share, minlength=n)
    mean_relative = np.bincount(me, weights=relative[other], minlength=n) / np.maximum(around, 1)
    max_relative = np.where(around > 0, -np.inf, 0.0)
    np.maximum.at(max_relative, me, relative[other])

    # k + 1 because each point's nearest "neighbour" is itself
    kth = tree.query(xy, k=nearest + 1)[0][:, -1] if n > nearest else np.full(n, far)
    columns = [rank, relative, *(np.log1p(c) for c in counts), np.log1p(strong), max_relative, mean_relative,
               np.log1p(np.minimum(kth, far))]
    return np.stack(columns, axis=1).astype(np.float64)
