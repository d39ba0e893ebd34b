"""Grouping against a brute-force oracle, hulls, score rules and the assumed spacing."""

import numpy as np
import pytest
from calcdet_clusters.geometry import convex_hull, polygon_distance
from calcdet_clusters.grouping import (
    DEFAULT_SPACING_MM,
    cluster_score,
    find_clusters,
    single_linkage,
    spacing_or_default,
)


def oracle_groups(xy_mm: np.ndarray, distance: float) -> list[frozenset[int]]:
    """Connected components by flood fill over every pair: slow and obviously right."""
    n, seen, groups = len(xy_mm), set(), []
    for start in range(n):
        if start in seen:
            continue
        group, stack = {start}, [start]
        while stack:
            i = stack.pop()
            for j in range(n):
                if j not in group and np.hypot(*(xy_mm[i] - xy_mm[j])) <= distance + 1e-9:
                    group.add(j)
                    stack.append(j)
        seen |= group
        groups.append(frozenset(group))
    return groups


@pytest.mark.parametrize("seed", range(6))
def test_single_linkage_equals_the_brute_force_oracle(seed):
    rng = np.random.default_rng(seed)
    xy = np.round(rng.uniform(0, 400, (int(rng.integers(1, 120)), 2)))  # integer pixels: ties at the distance occur
    spacing = (0.05, 0.1)  # (row, column): anisotropic, so x and y must be scaled apart
    xy_mm = xy * [spacing[1], spacing[0]]
    for distance in (0.5, 2.0, 3.0):
        labels = single_linkage(xy_mm, distance)
        got = {frozenset(np.flatnonzero(labels == k).tolist()) for k in range(labels.max() + 1)}
        assert got == set(oracle_groups(xy_mm, distance))
        clusters = find_clusters(xy, rng.random(len(xy)), spacing, distance, min_count=3)
        assert {frozenset(c.members.tolist()) for c in clusters} == {g for g in got if len(g) >= 3}


def test_points_exactly_at_the_distance_are_linked_and_labels_follow_first_members():
    xy = np.array([[10.0, 0.0], [0.0, 0.0], [50.0, 0.0], [20.0, 0.0]])
    assert single_linkage(xy, 10.0).tolist() == [0, 0, 1, 0]
    assert single_linkage(xy, 9.99).tolist() == [0, 1, 2, 3]
    assert single_linkage(np.zeros((0, 2)), 1.0).tolist() == []


@pytest.mark.parametrize("seed", range(4))
def test_hull_holds_every_member_and_its_vertices_are_members(seed):
    pts = np.random.default_rng(seed).normal(0, 10, (30, 2))
    hull = convex_hull(pts)
    assert np.all(polygon_distance(pts, hull) <= 1e-9)
    assert all(any(np.allclose(v, p) for p in pts) for v in hull)
    e = np.roll(hull, -1, axis=0) - hull
    f = np.roll(e, -1, axis=0)
    assert np.all(e[:, 0] * f[:, 1] - e[:, 1] * f[:, 0] > 0)  # strictly convex, one orientation


def test_hull_of_collinear_and_repeated_points():
    assert convex_hull(np.array([[0, 0], [1, 1], [2, 2], [1, 1]])).tolist() == [[0, 0], [2, 2]]
    assert convex_hull(np.array([[3, 4]] * 3)).tolist() == [[3, 4]]


def test_score_rules():
    s = np.array([0.9, 0.1, 0.5, 0.4])
    assert cluster_score(s, "max") == 0.9
    assert cluster_score(s, "top_k_mean", top_k=2) == pytest.approx(0.7)
    assert cluster_score(s, "top_k_mean", top_k=10) == pytest.approx(0.475)
    assert cluster_score(s, "count_weighted") == pytest.approx(1.9)
    with pytest.raises(ValueError, match="count_weighted needs scores >= 0"):
        cluster_score(-s, "count_weighted")
    with pytest.raises(ValueError, match="one of max, top_k_mean, count_weighted"):
        cluster_score(s, "median")


def test_distance_is_in_millimetres_and_unknown_spacing_is_70_um():
    xy = np.array([[0.0, 0.0], [10.0, 0.0], [20.0, 0.0]])
    assert spacing_or_default(None) == ((DEFAULT_SPACING_MM, DEFAULT_SPACING_MM), False)
    assert len(find_clusters(xy, None, None, distance_mm=0.7)) == 1  # 10 px * 0.07 mm
    assert find_clusters(xy, None, None, distance_mm=0.69) == []
    assert len(find_clusters(xy, None, (0.2, 0.05), distance_mm=0.5)) == 1  # columns are 0.05 mm
    with pytest.raises(ValueError, match="positive finite"):
        spacing_or_default((0.0, 0.1))
