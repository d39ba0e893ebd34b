"""calcdet-context: conformance, every feature against a brute-force loop, edge cases."""

from __future__ import annotations

import numpy as np
import pytest
from calcdet_context import CandidateContext

from calcdet_core.api import CalcdetUserError, Candidates, context_features
from calcdet_core.testing import parametrize_with_checks


@parametrize_with_checks([CandidateContext(), CandidateContext(radii=[5, 12], nearest=1, log_score=False)])
def test_conformance(component, check):
    check(component)


@pytest.mark.parametrize(("radii", "share", "k"), [([14.0, 28.0, 56.0], 0.1, 3), ([3.0, 9.5], 0.3, 1)])
def test_every_feature_matches_brute_force(radii, share, k, per_patch_reference):
    rng = np.random.default_rng(len(radii))
    cluster = rng.normal((40, 60), 6, size=(25, 2))
    scattered = rng.uniform(0, 200, size=(30, 2))
    xy = np.vstack([cluster, scattered, cluster[:3]])  # three candidates exactly on others
    score = np.round(rng.normal(0, 1, len(xy)), 1)  # ties on purpose
    got = context_features(xy, score, radii, share, k, 300.0)
    want = per_patch_reference.brute_force(xy, score, radii, share, k, 300.0)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_clustered_candidate_has_more_neighbours_than_isolated_one():
    xy = np.array([[50, 50], [55, 52], [48, 58], [60, 45], [400, 400]], float)
    extractor = CandidateContext()
    out = extractor.extract(np.zeros((500, 500), np.float32), Candidates(np.c_[xy, np.full(5, 3)], np.ones(5)))
    names = extractor.feature_names()
    count = out[:, names.index("ctx_neighbours_14px")]
    assert count[0] == pytest.approx(np.log1p(3)) and count[4] == 0
    far = out[:, names.index("ctx_nearest3_distance")]
    assert far[4] > far[0]


def test_a_lone_candidate_gets_the_far_distance_and_median_neighbourhood():
    image = np.zeros((30, 40), np.float32)
    out = CandidateContext().extract(image, Candidates(np.array([[10.0, 10.0, 3.0]]), np.array([2.0])))
    assert out.tolist() == [[0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, np.log1p(50.0)]]


def test_log_score_needs_positive_scores():
    cands = Candidates(np.array([[1.0, 1.0, 2.0], [5.0, 5.0, 2.0]]), np.array([0.5, -1.0]))
    with pytest.raises(CalcdetUserError, match=r"candidate 1 scores -1.*log_score: false"):
        CandidateContext().extract(np.zeros((10, 10), np.float32), cands)
    assert np.isfinite(CandidateContext(log_score=False).extract(np.zeros((10, 10), np.float32), cands)).all()


def test_log_score_compares_ratios():
    cands = Candidates(np.array([[1.0, 1.0, 2.0], [5.0, 5.0, 2.0], [9.0, 9.0, 2.0]]), np.array([1.0, 2.0, 4.0]))
    out = CandidateContext().extract(np.zeros((12, 12), np.float32), cands)
    np.testing.assert_allclose(out[:, 1], np.log([0.5, 1.0, 2.0]))


@pytest.mark.parametrize("radii", [[14, 14], [28, 14], [0, 5]])
def test_radii_must_increase_and_be_positive(radii):
    with pytest.raises(ValueError, match="radii"):
        CandidateContext(radii=radii)
