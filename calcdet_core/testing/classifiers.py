"""Checks for classifiers: scores that rank a separable toy problem, reproducibly, across save and load."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from calcdet_core.contracts.components import Classifier
from calcdet_core.testing._runtime import fresh, kit_check, temporary_context


def _toy_problem(seed: int = 0, n: int = 300) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    X = rng.normal(size=(n, 6)) + y[:, None] * 1.5
    return X, y, np.arange(n) % 10


def _fit_classifier(component: Classifier) -> Classifier:
    X, y, groups = _toy_problem()
    Xv, yv, _ = _toy_problem(seed=1, n=150)
    with temporary_context() as context:
        fitted = fresh(component).fit(X, y, groups, validation=(Xv, yv), context=context)
    assert isinstance(fitted, Classifier), "fit() should return self"
    return fitted


@kit_check
def check_classifier_scores_rank(component: Classifier) -> None:
    fitted = _fit_classifier(component)
    X, y, _ = _toy_problem(seed=2, n=200)
    s = fitted.score(X)
    assert isinstance(s, np.ndarray) and s.shape == (len(X),) and s.dtype == np.float64, (
        f"score() should return (N,) float64; found {getattr(s, 'shape', None)} {getattr(s, 'dtype', None)}")
    assert np.isfinite(s).all(), "scores should be finite"
    assert s[y == 1].mean() > s[y == 0].mean(), "on a separable toy problem positives should score higher"


@kit_check
def check_classifier_deterministic(component: Classifier) -> None:
    X, _, _ = _toy_problem(seed=2)
    np.testing.assert_array_equal(_fit_classifier(component).score(X), _fit_classifier(component).score(X),
                                  err_msg="fit() then score() should be deterministic for the config's seed")


@kit_check
def check_classifier_save_load(component: Classifier) -> None:
    fitted = _fit_classifier(component)
    X, _, _ = _toy_problem(seed=4)
    with tempfile.TemporaryDirectory() as tmp:
        files = fitted.save_state(Path(tmp))
        assert files, "a trained classifier should write at least one file"
        assert all(f.suffix not in (".pkl", ".pickle", ".joblib") for f in files), "never persist with pickle"
        again = fresh(component)
        again.load_state(Path(tmp))
        np.testing.assert_allclose(again.score(X), fitted.score(X), err_msg="scores should survive save/load")


@kit_check
def check_classifier_empty_features(component: Classifier) -> None:
    fitted = _fit_classifier(component)
    out = fitted.score(np.zeros((0, 6)))
    assert out.shape == (0,), f"scoring no candidates should give an empty array; found {out.shape}"

