"""Checks for feature extractors: one finite row per candidate, whatever the patch, order or persistence.

A trainable extractor is fitted (on random patches with a bright centre for the positives) before each check.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from calcdet_core.contracts.components import FeatureExtractor
from calcdet_core.contracts.data import Candidates
from calcdet_core.testing._runtime import fresh, kit_check, temporary_context
from calcdet_core.testing.images import disk_test_image


def _grid_candidates(image: np.ndarray, n: int = 12, seed: int = 0) -> Candidates:
    rng = np.random.default_rng(seed)
    h, w = image.shape
    x = np.concatenate([[0, w - 1, 1], rng.uniform(0, w - 1, n - 3)])  # border ones included
    y = np.concatenate([[0, h - 1, h // 2], rng.uniform(0, h - 1, n - 3)])
    score = rng.uniform(0.1, 1.0, n)  # positive and varied, as a proposer scores them
    return Candidates.from_columns(np.rint(x), np.rint(y), np.full(n, 3.0), score)


def fitted_extractor(component: FeatureExtractor) -> FeatureExtractor:
    """A fresh instance of ``component``, fitted first when it learns (as the checks and the benchmark use it)."""
    extractor = fresh(component)
    if extractor.trainable:
        rng = np.random.default_rng(0)
        p = extractor.patch_size
        patches = rng.random((40, p, p)).astype(np.float32)
        labels = np.tile([0, 1], 20)
        patches[labels == 1, p // 2 - 2 : p // 2 + 2, p // 2 - 2 : p // 2 + 2] += 1.0
        with temporary_context() as context:
            extractor.fit(patches, labels, np.arange(40) % 5, context=context)
    return extractor


def _extract(component: FeatureExtractor, image: np.ndarray, candidates: Candidates) -> np.ndarray:
    fitted = fitted_extractor(component)
    out = fitted.extract(image, candidates)
    names = fitted.feature_names()
    assert isinstance(out, np.ndarray), f"extract() should return a numpy array; found {type(out).__name__}"
    assert out.shape == (len(candidates), len(names)), (
        f"extract() should return (N candidates, F names) = {(len(candidates), len(names))}; found {out.shape}")
    assert out.dtype == np.float64, f"features should be float64; found {out.dtype}"
    return out


@kit_check
def check_features_names_unique(component: FeatureExtractor) -> None:
    names = fitted_extractor(component).feature_names()
    assert names and all(isinstance(n, str) and n for n in names), "feature_names() should be non-empty strings"
    assert len(set(names)) == len(names), "feature names should be unique"


@kit_check
def check_features_shape_and_finite(component: FeatureExtractor) -> None:
    image, _ = disk_test_image()
    out = _extract(component, image, _grid_candidates(image))
    assert np.isfinite(out).all(), "features should be finite, border candidates included (pad, don't drop)"


@kit_check
def check_features_flat_image_finite(component: FeatureExtractor) -> None:
    image = np.full((64, 64), 0.3, np.float32)
    out = _extract(component, image, _grid_candidates(image))
    names = fitted_extractor(component).feature_names()
    bad = [n for n, ok in zip(names, np.isfinite(out).all(0), strict=True) if not ok]
    assert not bad, f"features on a flat patch should be finite; not finite: {bad[:5]}"


@kit_check
def check_features_no_candidates(component: FeatureExtractor) -> None:
    image, _ = disk_test_image()
    _extract(component, image, Candidates.empty())


@kit_check
def check_features_deterministic(component: FeatureExtractor) -> None:
    image, _ = disk_test_image(seed=5)
    cands = _grid_candidates(image)
    assert np.array_equal(_extract(component, image, cands), _extract(component, image, cands)), (
        "extract() should be deterministic")


@kit_check
def check_features_order_independent(component: FeatureExtractor) -> None:
    image, _ = disk_test_image(seed=6)
    cands = _grid_candidates(image)
    full = _extract(component, image, cands)
    order = np.arange(len(cands))[::-1]
    part = _extract(component, image, cands.subset(order))
    np.testing.assert_allclose(part, full[order], rtol=1e-6, atol=1e-9,
                               err_msg="a candidate's features should not depend on the order of the candidates")


@kit_check
def check_features_save_load(component: FeatureExtractor) -> None:
    fitted = fitted_extractor(component)
    with tempfile.TemporaryDirectory() as tmp:
        files = fitted.save_state(Path(tmp))
        assert all(f.suffix not in (".pkl", ".pickle", ".joblib") for f in files), "never persist with pickle"
        again = fresh(component)
        again.load_state(Path(tmp))
    image, _ = disk_test_image(seed=7)
    cands = _grid_candidates(image)
    np.testing.assert_array_equal(again.extract(image, cands), fitted.extract(image, cands),
                                  err_msg="features after save/load should equal those before")

