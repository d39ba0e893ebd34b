"""The study's matching rule: which detections hit which annotated microcalcifications.

One function, :func:`match_detections`, serves both evaluation (TP/FP for the FROC)
and training (positive/negative labels for candidate classifiers), so both see the
very same rule:

1. **Touching.** A detection touches a target when the disc of ``diameter`` px
   (default 14, the study's value) around the detection centre intersects the target:

   - a point target is its pixel, represented by the pixel centre ``(x, y)``: it is
     touched when ``hypot(dx, dy) <= diameter / 2`` (this is what intersecting the
     rasterised 14 px disc with a one-pixel mask amounts to);
   - a contour target is its closed polygon: touched when the detection centre lies
     inside it, or within ``diameter / 2`` of one of its edges.

   A contour with fewer than 3 vertices is treated as its polyline (or single point).
2. **One TP per target, at the highest score.** Among the detections touching a
   target, the one with the highest score is credited with it (ties go to the
   detection nearest the target, then to the lower index). Credited detections are TP
   (``status == 1``). A detection that touches targets but is credited with none (the
   target was taken by a higher-scoring detection) is neither TP nor FP
   (``status == -1``).

   One detection can be credited with several nearby targets at once: each target
   asks "was I reached, and at which score?", which is what the FROC needs
   (``hit`` and ``hit_score``).
3. **Ignore regions for the rest.** A detection that touches no target and whose
   centre lies inside an ignore polygon (cluster outline, calcification > 1 mm;
   boundary included) is dropped: neither TP nor FP (``status == -1``). Any other
   detection is a FP (``status == 0``). An ignore region says "more lies here than was
   annotated one by one": it forgives detections of the unannotated MCs of a cluster,
   but an MC annotated on its own counts as a target wherever it lies (INbreast
   annotates many clusters both as an outline and as individual calcifications).

For training labels: ``status == 1`` is a positive, ``0`` a negative, ``-1`` is left out.

**Two crediting rules.** ``crediting="study"`` (the default, above) lets one detection be
credited with every target its disc touches, which is what the study's code does: in a dense
cluster one detection can find several MCs. ``crediting="strict"`` lets each detection reach
only its *nearest* touching target (ties: the lower target index); step 2 then runs on those
pairs, so a detection credits at most one target, and one whose nearest target went to a
higher-scoring detection is neither TP nor FP (it touches a target), exactly as in step 2.
Strict sensitivity is never above the study's on the same detections.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from calcdet_core.contracts.data import Annotation, Candidates

CREDITING_RULES = ("study", "strict")
"""Values of ``crediting``: the study's (a detection may find every target it touches) or one target each."""

STUDY_DIAMETER_PX = 14.0
"""The study's matching disc: 14 px (about 1 mm at 70 um) around each detection centre."""

TP, FP, DROPPED = 1, 0, -1
"""Values of :attr:`Match.status`."""

_PAIR_BUDGET = 1 << 22
"""Detection x target distances computed per block, to bound memory for huge inputs."""


@dataclass(frozen=True)
class Match:
    """Result of :func:`match_detections` for one image.

    Per detection (length N, in the order given): ``status`` int8 (1 TP, 0 FP, -1
    neither) and ``target_of`` int64 (the target credited to a TP; for a dropped
    detection that touched a target, the nearest such target; else -1).
    Per target (length T, annotation order): ``hit`` bool and ``hit_score`` float64
    (the highest score that reached it, NaN when missed).
    """

    status: np.ndarray
    target_of: np.ndarray
    hit: np.ndarray
    hit_score: np.ndarray

    @property
    def n_tp(self) -> int:
        return int(np.count_nonzero(self.status == TP))

    @property
    def n_fp(self) -> int:
        return int(np.count_nonzero(self.status == FP))

    @property
    def n_targets(self) -> int:
        return len(self.hit)

    @property
    def n_hit(self) -> int:
        return int(np.count_nonzero(self.hit))


# --------------------------------------------------------------------------- geometry


def _closed_segments(polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end points (K, 2) of a polygon's edges, last vertex joined to the first."""
    return polygon, np.roll(polygon, -1, axis=0)


def _segment_distance(points: np.ndarray, start: np.ndarray, end: np.ndarray) -> np.ndarray:
    """(M,) distance from each point to the nearest of the K segments ``start -> end``."""
    d = end - start  # (K, 2)
    length2 = np.einsum("kj,kj->k", d, d)
    rel = points[:, None, :] - start[None, :, :]  # (M, K, 2)
    t = np.einsum("mkj,kj->mk", rel, d) / np.where(length2 > 0, length2, 1.0)
    t = np.clip(np.where(length2 > 0, t, 0.0), 0.0, 1.0)
    nearest = start[None] + t[..., None] * d[None]
    return np.sqrt(((points[:, None, :] - nearest) ** 2).sum(-1)).min(axis=1)


def _inside_polygon(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(M,) even-odd point-in-polygon test (boundary not guaranteed; combine with a distance)."""
    if len(polygon) < 3:
        return np.zeros(len(points), bool)
    xi, yi = polygon[:, 0], polygon[:, 1]
    xj, yj = np.roll(xi, 1), np.roll(yi, 1)
    px, py = points[:, 0:1], points[:, 1:2]
    straddles = (yi > py) != (yj > py)
    dy = np.where(yj != yi, yj - yi, 1.0)
    crossing_x = (xj - xi) * (py - yi) / dy + xi
    return (np.count_nonzero(straddles & (px < crossing_x), axis=1) % 2) == 1


def _as_polygon(contour: np.ndarray, what: str) -> np.ndarray:
    polygon = np.asarray(contour, dtype=np.float64).reshape(-1, 2)
    if len(polygon) == 0 or not np.isfinite(polygon).all():
        raise ValueError(f"{what} must be a non-empty (K, 2) array of finite x, y points")
    return polygon


def _polygon_distance(points: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """(M,) distance from points to a filled polygon: 0 inside, else to the nearest edge."""
    if len(points) == 0:
        return np.zeros(0)
    start, end = _closed_segments(polygon) if len(polygon) >= 3 else (polygon[:-1], polygon[1:])
    if len(start) == 0:  # a single point
        return np.hypot(points[:, 0] - polygon[0, 0], points[:, 1] - polygon[0, 1])
    dist = _segment_distance(points, start, end)
    return np.where(_inside_polygon(points, polygon), 0.0, dist)


def inside_any(points: np.ndarray, polygons: list[np.ndarray]) -> np.ndarray:
    """(M,) whether each point lies inside (or on the boundary of) any of ``polygons``."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    inside = np.zeros(len(points), bool)
    for polygon in polygons:
        lo, hi = polygon.min(0) - 1e-9, polygon.max(0) + 1e-9
        near = np.flatnonzero(((points >= lo) & (points <= hi)).all(1) & ~inside)
        if len(near):
            inside[near] = _polygon_distance(points[near], polygon) <= 1e-9
    return inside


# --------------------------------------------------------------------------- touching pairs


def _point_pairs(det_xy: np.ndarray, target_xy: np.ndarray, target_ids: np.ndarray,
                 radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detection, target, distance) for every detection within ``radius`` of a point target."""
    dets, tgts, dists = [], [], []
    block = max(1, _PAIR_BUDGET // max(1, len(target_xy)))
    for lo in range(0, len(det_xy), block):
        chunk = det_xy[lo : lo + block]
        dist = np.hypot(chunk[:, None, 0] - target_xy[None, :, 0], chunk[:, None, 1] - target_xy[None, :, 1])
        n, t = np.nonzero(dist <= radius)
        dets.append(n + lo)
        tgts.append(target_ids[t])
        dists.append(dist[n, t])
    return _concat(dets, np.int64), _concat(tgts, np.int64), _concat(dists, np.float64)


def _contour_pairs(det_xy: np.ndarray, polygon: np.ndarray, target_id: int,
                   radius: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(detection, target, distance) for detections within ``radius`` of one contour target."""
    lo, hi = polygon.min(0) - radius, polygon.max(0) + radius
    near = np.flatnonzero(((det_xy >= lo) & (det_xy <= hi)).all(1))
    dist = _polygon_distance(det_xy[near], polygon)
    keep = dist <= radius
    return near[keep], np.full(int(keep.sum()), target_id, np.int64), dist[keep]


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)


# --------------------------------------------------------------------------- the rule


def match_detections(detections: Candidates, annotation: Annotation, diameter: float = STUDY_DIAMETER_PX,
                     crediting: str = "study") -> Match:
    """Apply the study's matching rule (see the module docstring) to one image.

    ``detections`` and ``annotation`` must be in the same pixel grid. Works for
    candidates (all scores equal is fine) and scored detections alike. ``crediting``
    is one of :data:`CREDITING_RULES`.
    """
    if crediting not in CREDITING_RULES:
        raise ValueError(f"crediting must be one of {', '.join(CREDITING_RULES)}, got {crediting!r}")
    if not np.isfinite(diameter) or diameter < 0:
        raise ValueError(f"matching diameter must be a finite non-negative number of pixels, got {diameter}")
    radius = float(diameter) / 2.0 + 1e-9  # touching includes the boundary, whatever the rounding
    det_xy = detections.xyr[:, :2]
    score = detections.score
    if not (np.isfinite(det_xy).all() and np.isfinite(score).all()):
        raise ValueError(f"detections of image {detections.image_id!r} contain non-finite coordinates or scores")
    n, targets = len(det_xy), annotation.targets
    ignore_polygons = [_as_polygon(r.contour, f"ignore region {i} contour") for i, r in enumerate(annotation.ignore)]

    target_xy = np.array([[t.x, t.y] for t in targets], dtype=np.float64).reshape(-1, 2)
    status = np.full(n, FP, np.int8)
    target_of = np.full(n, -1, np.int64)
    hit = np.zeros(len(targets), bool)
    hit_score = np.full(len(targets), np.nan)

    is_point = np.array([t.contour is None for t in targets], bool)
    pairs = [_point_pairs(det_xy, target_xy[is_point], np.flatnonzero(is_point), radius)]
    for t in np.flatnonzero(~is_point):
        polygon = _as_polygon(targets[t].contour, f"contour of target {t}")  # type: ignore[arg-type]
        pairs.append(_contour_pairs(det_xy, polygon, int(t), radius))
    det_idx = np.concatenate([p[0] for p in pairs])
    tgt_idx = np.concatenate([p[1] for p in pairs])
    dist = np.concatenate([p[2] for p in pairs])

    touching = np.zeros(n, bool)
    touching[det_idx] = True
    status[touching] = DROPPED  # until credited below
    status[~touching & inside_any(det_xy, ignore_polygons)] = DROPPED
    if len(det_idx) == 0:
        return Match(status, target_of, hit, hit_score)

    # Nearest target of every touching detection (for dropped ones' target_of).
    order = np.lexsort((tgt_idx, dist, det_idx))
    first = order[np.r_[True, np.diff(det_idx[order]) != 0]]
    target_of[det_idx[first]] = tgt_idx[first]
    if crediting == "strict":  # each detection reaches its nearest target only
        det_idx, tgt_idx, dist = det_idx[first], tgt_idx[first], dist[first]

    # The credited detection of every target: highest score, then nearest, then lowest index.
    order = np.lexsort((det_idx, dist, -score[det_idx], tgt_idx))
    best = order[np.r_[True, np.diff(tgt_idx[order]) != 0]]
    credited_t, credited_d, credited_dist = tgt_idx[best], det_idx[best], dist[best]
    hit[credited_t] = True
    hit_score[credited_t] = score[credited_d]
    status[credited_d] = TP
    # A detection credited with several targets reports the nearest of them.
    order = np.lexsort((credited_t, credited_dist, credited_d))
    first = order[np.r_[True, np.diff(credited_d[order]) != 0]]
    target_of[credited_d[first]] = credited_t[first]
    return Match(status, target_of, hit, hit_score)
