"""Microcalcification clusters: single-linkage groups of detections (or annotated MCs) close enough together.

BI-RADS calls several calcifications within about 1 cm2 a cluster. Here two MCs are linked when
their centres are at most ``distance_mm`` apart (in millimetres, through the pixel spacing, so a
setting means the same on every detector); a cluster is a connected group of links with at least
``min_count`` members. Its outline is the convex hull of the member centres, its score is read
off its members' scores (:data:`SCORE_RULES`). The same function groups the annotated MCs into
truth clusters, so truth and detections are clustered alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calcdet_clusters.geometry import convex_hull

DEFAULT_SPACING_MM = 0.07
"""Pixel spacing assumed when an image does not say (70 um, the study's INbreast grid); outputs say so."""

LINK_TOLERANCE = 1e-9
"""Centres this much (mm) farther apart than the distance still link: a spacing times a pixel count is rounded."""

SCORE_RULES = ("max", "top_k_mean", "count_weighted")
"""How a cluster's score comes from its members' scores:

- ``max``: the best member (a cluster is as suspicious as its most suspicious MC);
- ``top_k_mean``: the mean of the ``top_k`` best members (all of them when fewer), less sensitive to
  one stray high score;
- ``count_weighted``: the sum of the member scores (mean x count), so more MCs of the same score rank
  higher; for scores >= 0 only (probabilities), refused otherwise because a sum of negative
  scores would rank bigger clusters lower.
"""


@dataclass(frozen=True)
class Cluster:
    """One cluster: ``members`` (indices into the grouped points, ascending), its ``score`` and ``hull`` (K, 2) x, y."""

    members: np.ndarray
    score: float
    hull: np.ndarray

    @property
    def count(self) -> int:
        return len(self.members)


def spacing_or_default(spacing_mm: Sequence[float] | float | None) -> tuple[tuple[float, float], bool]:
    """(row, column) spacing in mm and whether it was known (else :data:`DEFAULT_SPACING_MM` both ways)."""
    if spacing_mm is None:
        return (DEFAULT_SPACING_MM, DEFAULT_SPACING_MM), False
    values = np.broadcast_to(np.asarray(spacing_mm, dtype=np.float64).ravel(), (2,))
    if not (np.isfinite(values).all() and (values > 0).all()):
        raise ValueError(f"pixel spacing must be positive finite millimetres, got {spacing_mm!r}")
    return (float(values[0]), float(values[1])), True


def single_linkage(xy: np.ndarray, distance: float) -> np.ndarray:
    """(N,) group label of each point: connected components of "centres at most ``distance`` apart" (+ 1e-9).

    Labels are numbered in the order of each group's first point, so they do not depend on the
    library's traversal order.
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    n = len(xy)
    if n == 0:
        return np.zeros(0, np.int64)
    pairs = cKDTree(xy).query_pairs(r=float(distance) + LINK_TOLERANCE, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    _, first = np.unique(labels, return_index=True)
    renumber = np.empty(len(first), np.int64)
    renumber[np.argsort(np.argsort(first))] = np.arange(len(first))
    return renumber[labels]


def cluster_score(scores: np.ndarray, rule: str = "max", top_k: int = 3) -> float:
    """A cluster's score from its members' ``scores`` (see :data:`SCORE_RULES`)."""
    scores = np.asarray(scores, dtype=np.float64)
    if rule == "max":
        return float(scores.max())
    if rule == "top_k_mean":
        return float(np.sort(scores)[::-1][:top_k].mean())
    if rule == "count_weighted":
        if (scores < 0).any():
            raise ValueError("cluster score count_weighted needs scores >= 0 (a sum of negative scores ranks bigger "
                             "clusters lower); use max or top_k_mean for these scores")
        return float(scores.sum())
    raise ValueError(f"cluster score rule must be one of {', '.join(SCORE_RULES)}, got {rule!r}")


def find_clusters(xy: np.ndarray, scores: np.ndarray | None = None, spacing_mm: Sequence[float] | float | None = None,
                  distance_mm: float = 5.0, min_count: int = 3, score: str = "max", top_k: int = 3) -> list[Cluster]:
    """Clusters of the points ``xy`` (x = column, y = row, pixels), best score first.

    ``spacing_mm`` is the (row, column) pixel spacing (:data:`DEFAULT_SPACING_MM` when None).
    ``scores`` None (annotated MCs) gives every cluster the score 1.
    """
    if not (np.isfinite(distance_mm) and distance_mm > 0):
        raise ValueError(f"cluster distance must be a positive number of millimetres, got {distance_mm}")
    if min_count < 1:
        raise ValueError(f"a cluster needs min_count >= 1 members, got {min_count}")
    xy = np.asarray(xy, dtype=np.float64).reshape(-1, 2)
    scores = np.ones(len(xy)) if scores is None else np.asarray(scores, dtype=np.float64).ravel()
    if len(scores) != len(xy):
        raise ValueError(f"{len(xy)} points but {len(scores)} scores")
    (row_mm, col_mm), _ = spacing_or_default(spacing_mm)
    labels = single_linkage(xy * [col_mm, row_mm], distance_mm)
    clusters = []
    for label in range(int(labels.max()) + 1 if len(labels) else 0):
        members = np.flatnonzero(labels == label)
        if len(members) >= min_count:
            clusters.append(Cluster(members, cluster_score(scores[members], score, top_k), convex_hull(xy[members])))
    clusters.sort(key=lambda c: (-c.score, int(c.members[0])))
    return clusters
