"""Which detected clusters find which truth clusters on one image.

**The rule.** A detected cluster *reaches* a truth cluster when its convex hull, widened by
``tolerance_px`` (default 7 px, the radius of the study's 14 px MC matching disc), holds at least
one of the truth cluster's MCs. Why this and not hull overlap: a hull of three nearly collinear
MCs has almost no area, so an area overlap would hinge on rounding, while "holds one of its MCs"
is an exact point test that works for any hull, and it is the MC-level rule lifted to clusters
(a detection within 7 px of an MC finds it). It also refuses the case an overlap would credit: a
large sparse detected cluster whose hull grazes a truth hull without coming near any of its MCs.

Crediting then follows the MC-level rule: each truth cluster counts once, at the highest score
of the detected clusters reaching it (ties: the lower cluster index); like a detection under the
study's MC rule, one detected cluster may find several truth clusters. A detected cluster credited
with a truth cluster is a TP (status 1). One that reaches truth clusters all taken by higher
scores, or that reaches no truth cluster but an annotated MC too isolated to form one (fewer than
the minimum count), or whose member centroid lies in an ignore region (an outline of MCs not
annotated one by one), is neither (status -1). Every other detected cluster is a FP cluster (0).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calcdet_clusters.geometry import polygon_distance
from calcdet_clusters.grouping import Cluster

TP, FP, DROPPED = 1, 0, -1


@dataclass(frozen=True)
class ClusterMatch:
    """Per detected cluster ``status`` (1, 0, -1); per truth cluster ``hit_score`` (NaN when missed)."""

    status: np.ndarray
    hit_score: np.ndarray


def reaches(cluster: Cluster, points: np.ndarray, tolerance_px: float) -> np.ndarray:
    """(M,) whether each point lies in ``cluster``'s hull or within ``tolerance_px`` of it."""
    return polygon_distance(points, cluster.hull) <= tolerance_px + 1e-9


def match_clusters(detected: Sequence[Cluster], detected_xy: np.ndarray, truth: Sequence[Cluster],
                   truth_xy: np.ndarray, ignore: Sequence[np.ndarray] = (), tolerance_px: float = 7.0) -> ClusterMatch:
    """Apply the rule of the module docstring. ``detected_xy``/``truth_xy``: the grouped points (members index them)."""
    truth_xy = np.asarray(truth_xy, dtype=np.float64).reshape(-1, 2)
    status = np.full(len(detected), FP, np.int8)
    hit_score = np.full(len(truth), np.nan)
    clustered = np.zeros(len(truth_xy), bool)
    for t in truth:
        clustered[t.members] = True
    order = sorted(range(len(detected)), key=lambda i: (-detected[i].score, i))
    for i in order:
        c = detected[i]
        near = reaches(c, truth_xy, tolerance_px) if len(truth_xy) else np.zeros(0, bool)
        reached = [k for k, t in enumerate(truth) if near[t.members].any()]
        fresh = [k for k in reached if np.isnan(hit_score[k])]
        if fresh:
            hit_score[fresh] = c.score
            status[i] = TP
        elif reached or near[~clustered].any():
            status[i] = DROPPED
        elif ignore:
            centroid = np.asarray(detected_xy, dtype=np.float64)[c.members].mean(axis=0, keepdims=True)
            if any(polygon_distance(centroid, np.asarray(p, dtype=np.float64))[0] <= 1e-9 for p in ignore):
                status[i] = DROPPED
    return ClusterMatch(status, hit_score)
