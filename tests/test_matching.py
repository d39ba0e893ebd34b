"""The study's matching rule on hand-computed cases, edge cases and against a plain-Python reference."""

import math

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, IgnoreRegion, Target
from calcdet_core.evaluation.matching import DROPPED, FP, TP, match_detections


def dets(*rows: tuple[float, float, float]) -> Candidates:
    """Detections from (x, y, score) rows."""
    arr = np.array(rows, dtype=float).reshape(-1, 3)
    return Candidates.from_columns(arr[:, 0], arr[:, 1], np.full(len(arr), 3.0), arr[:, 2], "img")


def square(x0: float, y0: float, side: float) -> np.ndarray:
    return np.array([[x0, y0], [x0 + side, y0], [x0 + side, y0 + side], [x0, y0 + side]], float)


def test_point_target_touched_at_exactly_half_the_diameter():
    truth = Annotation(targets=(Target(10.0, 10.0),))
    m = match_detections(dets((17.0, 10.0, 0.5), (10.0, 17.01, 0.9)), truth)
    assert m.status.tolist() == [TP, FP]
    assert m.target_of.tolist() == [0, -1]
    assert m.hit.tolist() == [True] and m.hit_score.tolist() == [0.5]


def test_diameter_is_a_parameter():
    truth = Annotation(targets=(Target(0.0, 0.0),))
    assert match_detections(dets((3.0, 4.0, 1.0)), truth, diameter=10.0).status.tolist() == [TP]
    assert match_detections(dets((3.0, 4.0, 1.0)), truth, diameter=9.9).status.tolist() == [FP]


def test_each_target_counts_once_at_the_highest_score():
    truth = Annotation(targets=(Target(50.0, 50.0),))
    m = match_detections(dets((51.0, 50.0, 0.2), (49.0, 52.0, 0.8), (80.0, 80.0, 0.9)), truth)
    assert m.status.tolist() == [DROPPED, TP, FP]
    assert m.target_of.tolist() == [0, 0, -1]  # the dropped one still says which target it reached
    assert m.hit_score.tolist() == [0.8]
    assert (m.n_tp, m.n_fp, m.n_targets, m.n_hit) == (1, 1, 1, 1)


def test_tied_scores_go_to_the_nearest_then_to_the_lower_index():
    truth = Annotation(targets=(Target(50.0, 50.0),))
    assert match_detections(dets((55.0, 50.0, 0.5), (51.0, 50.0, 0.5)), truth).status.tolist() == [DROPPED, TP]
    assert match_detections(dets((52.0, 50.0, 0.5), (48.0, 50.0, 0.5)), truth).status.tolist() == [TP, DROPPED]


def test_one_detection_between_two_targets_reaches_both_and_reports_the_nearer():
    truth = Annotation(targets=(Target(10.0, 10.0), Target(16.0, 10.0)))
    m = match_detections(dets((14.0, 10.0, 0.7)), truth)
    assert m.status.tolist() == [TP]
    assert m.hit.tolist() == [True, True]
    assert m.target_of.tolist() == [1]


def test_a_taken_target_does_not_stop_a_detection_reaching_another():
    truth = Annotation(targets=(Target(10.0, 10.0), Target(22.0, 10.0)))
    m = match_detections(dets((10.0, 10.0, 0.9), (16.0, 10.0, 0.4)), truth)
    assert m.status.tolist() == [TP, TP]
    assert m.target_of.tolist() == [0, 1]
    assert m.hit_score.tolist() == [0.9, 0.4]


def test_contour_target_inside_and_near_its_edge():
    truth = Annotation(targets=(Target(10.0, 10.0, 20.0, contour=square(0, 0, 20)),))
    m = match_detections(dets((10.0, 10.0, 0.1), (27.0, 10.0, 0.3), (27.5, 10.0, 0.9), (25.0, 25.0, 0.2)), truth)
    # (25, 25) is sqrt(50) = 7.07 px from the corner (20, 20): outside the 7 px radius.
    assert m.status.tolist() == [DROPPED, TP, FP, FP]
    assert m.hit_score.tolist() == [0.3]


def test_concave_contour_uses_the_polygon_not_its_box():
    # A U shape open at the bottom (high y): its notch lies inside the bounding box but outside the polygon.
    u = np.array([[0, 0], [40, 0], [40, 40], [30, 40], [30, 10], [10, 10], [10, 40], [0, 40]], float)
    truth = Annotation(targets=(Target(20.0, 5.0, 40.0, contour=u),))
    m = match_detections(dets((20.0, 30.0, 0.5), (20.0, 16.0, 0.4), (5.0, 30.0, 0.3)), truth)
    # (20, 30) is 10 px from the notch's walls and 20 px from its floor: a miss; (20, 16) is 6 px from the floor.
    assert m.status.tolist() == [FP, TP, DROPPED]


def test_detections_in_ignore_regions_touching_no_target_are_dropped():
    ignore = (IgnoreRegion(square(100, 100, 50)),)
    truth = Annotation(targets=(Target(10.0, 10.0),), ignore=ignore)
    m = match_detections(dets((125.0, 125.0, 0.9), (100.0, 130.0, 0.8), (95.0, 130.0, 0.1), (12.0, 10.0, 0.3)), truth)
    assert m.status.tolist() == [DROPPED, DROPPED, FP, TP]  # on the boundary counts as inside
    assert m.hit.tolist() == [True] and m.n_targets == 1


def test_annotated_targets_inside_an_ignore_region_still_count():
    # INbreast outlines a cluster and also marks some of its calcifications one by one.
    ignore = (IgnoreRegion(square(100, 100, 50)),)
    truth = Annotation(targets=(Target(120.0, 120.0), Target(140.0, 140.0)), ignore=ignore)
    m = match_detections(dets((121.0, 120.0, 0.9), (124.0, 121.0, 0.95), (110.0, 140.0, 0.2)), truth)
    assert m.status.tolist() == [DROPPED, TP, DROPPED]  # the weaker duplicate and the miss inside are forgiven
    assert m.hit.tolist() == [True, False] and m.n_targets == 2 and m.target_of.tolist() == [0, 0, -1]


def test_touching_a_target_inside_an_ignore_region_from_outside_is_a_tp():
    ignore = (IgnoreRegion(square(100, 100, 10)),)
    truth = Annotation(targets=(Target(109.0, 105.0),), ignore=ignore)
    m = match_detections(dets((114.0, 105.0, 0.5)), truth)
    assert m.status.tolist() == [TP]
    assert m.target_of.tolist() == [0]


def test_empty_inputs():
    m = match_detections(Candidates.empty(), Annotation())
    assert m.status.shape == (0,) and m.status.dtype == np.int8 and m.hit.shape == (0,)
    m = match_detections(Candidates.empty(), Annotation(targets=(Target(1.0, 1.0),)))
    assert m.hit.tolist() == [False] and math.isnan(m.hit_score[0])
    m = match_detections(dets((1.0, 1.0, 0.5)), Annotation())
    assert m.status.tolist() == [FP] and m.target_of.dtype == np.int64


def test_bad_input_is_refused_with_a_message():
    with pytest.raises(ValueError, match="diameter"):
        match_detections(dets((1.0, 1.0, 0.5)), Annotation(), diameter=-1)
    with pytest.raises(ValueError, match="non-finite"):
        match_detections(dets((np.nan, 1.0, 0.5)), Annotation())
    with pytest.raises(ValueError, match="ignore region 0"):
        match_detections(dets((1.0, 1.0, 0.5)), Annotation(ignore=(IgnoreRegion(np.zeros((0, 2))),)))


# --------------------------------------------------------------------------- reference


def _reference(points, scores, targets, radius):
    """Per-detection, per-target loops: the rule as a person would apply it by hand (no ignore regions)."""

    def seg_dist(p, a, b):
        ab = (b[0] - a[0], b[1] - a[1])
        length2 = ab[0] ** 2 + ab[1] ** 2
        t = 0.0 if length2 == 0 else max(0.0, min(1.0, ((p[0] - a[0]) * ab[0] + (p[1] - a[1]) * ab[1]) / length2))
        return math.hypot(p[0] - a[0] - t * ab[0], p[1] - a[1] - t * ab[1])

    def inside(p, poly):
        result = False
        for i in range(len(poly)):
            (x1, y1), (x2, y2) = poly[i - 1], poly[i]
            if (y1 > p[1]) != (y2 > p[1]) and p[0] < (x1 - x2) * (p[1] - y2) / (y1 - y2) + x2:
                result = not result
        return result

    def dist(p, t):
        if t.contour is None:
            return math.hypot(p[0] - t.x, p[1] - t.y)
        poly = [tuple(v) for v in t.contour]
        if inside(p, poly):
            return 0.0
        return min(seg_dist(p, poly[i - 1], poly[i]) for i in range(len(poly)))

    status = [FP] * len(points)
    best = [None] * len(targets)
    for i, p in enumerate(points):
        for j, t in enumerate(targets):
            d = dist(p, t)
            if d <= radius:
                status[i] = DROPPED
                key = (-scores[i], d, i)
                if best[j] is None or key < best[j]:
                    best[j] = key
    for key in best:
        if key is not None:
            status[key[2]] = TP
    return status, [key is not None for key in best]


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_rule_equals_a_plain_python_reference(seed):
    rng = np.random.default_rng(seed)
    targets = []
    for k in range(12):
        x, y = rng.uniform(10, 190, 2)
        if k % 3 == 0:
            angles = np.sort(rng.uniform(0, 2 * np.pi, 6))
            contour = np.column_stack([x + 6 * np.cos(angles), y + 6 * np.sin(angles)]) * rng.uniform(0.5, 1.5)
            targets.append(Target(float(x), float(y), 12.0, contour=contour))
        else:
            targets.append(Target(float(x), float(y)))
    n = 400
    scores = np.round(rng.random(n), 1)  # many ties
    candidates = Candidates.from_columns(rng.uniform(0, 200, n), rng.uniform(0, 200, n), np.ones(n), scores)
    m = match_detections(candidates, Annotation(targets=tuple(targets)))
    status, hit = _reference(candidates.xyr[:, :2].tolist(), scores.tolist(), targets, 7.0 + 1e-9)
    assert m.status.tolist() == status
    assert m.hit.tolist() == hit
    assert {TP, FP, DROPPED} <= set(status)  # the case exercises every outcome
