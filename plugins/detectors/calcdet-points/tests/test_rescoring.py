"""Context rescoring: the logistic regression, the context it reads, what it keeps on disk."""

import numpy as np
import pytest
import torch
from calcdet_points.detector import RESCORING_FILE, PointDetector
from calcdet_points.net import build_net
from calcdet_points.rescoring import Rescorer, detection_features, fit_rescorer
from calcdet_torch.state import module_arrays
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from calcdet_core.api import Detections, InvalidInputError, save_arrays

SHAPE = (400, 400)


def test_the_fit_is_scikit_learn_s_l2_logistic_regression_on_standardised_columns():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 10)) * rng.uniform(0.1, 10, 10) + rng.normal(size=10)
    y = x @ rng.normal(size=10) / 10 + rng.logistic(size=3000) > 1.0
    ours = fit_rescorer(x, y)
    theirs = LogisticRegression(C=1.0, tol=1e-12, max_iter=10000).fit(StandardScaler().fit_transform(x), y)
    np.testing.assert_allclose(ours.coef, theirs.coef_[0], atol=1e-6)
    assert ours.intercept == pytest.approx(theirs.intercept_[0], abs=1e-6)


def scene(rng, cluster_heat=0.3, lone_heat=(0.3, 0.6)):
    """Detections of one image: a cluster of 6 within 20 px (the MCs) and 30 isolated peaks (false)."""
    centre = rng.uniform(100, 300, 2)
    cluster = centre + rng.normal(0, 8, (6, 2))
    lone = rng.uniform(0, 400, (30, 2))
    xy = np.concatenate([cluster, lone])
    heat = np.concatenate([np.full(6, cluster_heat), rng.uniform(*lone_heat, 30)])
    return Detections(np.column_stack([xy, np.full(len(xy), 3.0)]), heat), np.arange(len(xy)) < 6


def test_the_context_lifts_a_clustered_peak_above_a_stronger_isolated_one():
    rng = np.random.default_rng(1)
    parts = [scene(rng) for _ in range(20)]
    rescorer = fit_rescorer(np.concatenate([detection_features(d, SHAPE) for d, _ in parts]),
                            np.concatenate([y for _, y in parts]))
    found, truth = scene(np.random.default_rng(7))
    rescored = rescorer.rescored(found, SHAPE)
    assert np.all(np.diff(rescored.score) <= 0)  # best first
    best = rescored.xyr[:6, :2]
    assert all(np.hypot(*(found.xyr[truth, :2] - p).T).min() < 1e-9 for p in best)  # the cluster ranks first
    assert found.score[truth].max() < found.score[~truth].max()  # though isolated peaks had more heat


def test_the_identity_rescorer_keeps_the_heat_and_the_order():
    found, _ = scene(np.random.default_rng(2))
    order = np.argsort(-found.score, kind="stable")
    found = Detections(found.xyr[order], found.score[order])
    same = Rescorer.identity().rescored(found, SHAPE)
    np.testing.assert_allclose(same.score, found.score, rtol=1e-9)
    np.testing.assert_array_equal(same.xyr, found.xyr)
    assert len(Rescorer.identity().rescored(Detections.empty(), SHAPE)) == 0


def test_a_model_that_scores_with_context_refuses_a_missing_or_foreign_rescorer_file(tmp_path):
    detector = PointDetector(widths=(4, 8), window=32, rescore="context")
    torch.manual_seed(0)
    detector.weights_ = module_arrays(build_net(detector.config))
    detector.rescorer_ = Rescorer.identity()
    detector.save_state(tmp_path)
    assert (tmp_path / RESCORING_FILE).is_file()
    fresh = PointDetector(widths=(4, 8), window=32, rescore="context")
    fresh.load_state(tmp_path)
    np.testing.assert_array_equal(fresh.rescorer_.coef, Rescorer.identity().coef)
    save_arrays(tmp_path / RESCORING_FILE, {"mean": np.zeros(3)})
    with pytest.raises(InvalidInputError, match=r"point_rescoring\.safetensors: not a point-heatmap context rescorer"):
        fresh.load_state(tmp_path)
    (tmp_path / RESCORING_FILE).unlink()
    with pytest.raises(InvalidInputError, match=r"point_rescoring\.safetensors: missing; .*rescore: context"):
        fresh.load_state(tmp_path)
    PointDetector(widths=(4, 8), window=32).load_state(tmp_path)  # the heat as score needs no rescorer

