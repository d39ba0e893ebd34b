"""calcdet-fos: conformance, agreement with a per-patch computation, flat and border patches."""

from __future__ import annotations

import numpy as np
import pytest
from calcdet_fos import FEATURES, FirstOrderStatistics

from calcdet_core.api import Candidates, entropy_uniformity, moments, quantiles
from calcdet_core.testing import parametrize_with_checks, textured_background


@parametrize_with_checks([FirstOrderStatistics(), FirstOrderStatistics(patch_size=9, histogram_bins=8)])
def test_conformance(component, check):
    check(component)


def random_candidates(h: int, w: int, n: int, seed: int = 0) -> Candidates:
    rng = np.random.default_rng(seed)
    x = np.concatenate([[0, w - 1, 2, w - 3], rng.integers(0, w, n - 4)])
    y = np.concatenate([[0, h - 1, h - 2, 1], rng.integers(0, h, n - 4)])
    return Candidates.from_columns(x, y, np.full(n, 3.0), np.zeros(n))


@pytest.mark.parametrize(("size", "bins"), [(14, 16), (7, 5), (16, 32)])
def test_every_feature_matches_per_patch_computation(size, bins, per_patch_reference):
    rng = np.random.default_rng(size)
    image = rng.random((60, 80)).astype(np.float32)  # random patches: every statistic varies
    image[20:40, 30:50] = textured_background((20, 20), seed=1)
    cands = random_candidates(60, 80, 40)
    extractor = FirstOrderStatistics(patch_size=size, histogram_bins=bins)
    got = extractor.extract(image, cands)
    want = per_patch_reference.reference(extractor, image, cands)
    for j, name in enumerate(extractor.feature_names()):
        np.testing.assert_allclose(got[:, j], want[:, j], rtol=1e-9, atol=1e-12, err_msg=name)


def test_flat_patches_have_defined_values():
    image = np.full((30, 30), 0.25, np.float32)
    out = FirstOrderStatistics().extract(image, random_candidates(30, 30, 6))
    row = dict(zip(FirstOrderStatistics().feature_names(), out[0], strict=True))
    assert np.isfinite(out).all()
    assert row["fos_entropy"] == 0 and row["fos_uniformity"] == 1
    assert row["fos_skewness"] == 0 and row["fos_kurtosis"] == 0 and row["fos_std"] == 0
    assert row["fos_mean"] == pytest.approx(0.25) and row["fos_energy"] == pytest.approx(196 * 0.0625)


def test_border_candidate_is_padded_by_reflection():
    image = np.arange(100, dtype=np.float32).reshape(10, 10) / 100
    out = FirstOrderStatistics(patch_size=4).extract(image, Candidates.from_columns([0], [0], [1], [0]))
    # Reflect padding of rows/cols -2..1 around (0, 0) gives rows 2,1,0,1 and cols 2,1,0,1.
    patch = image[np.ix_([2, 1, 0, 1], [2, 1, 0, 1])].astype(np.float64)
    assert out.shape == (1, 17)
    assert out[0, 4] == pytest.approx(patch.mean()) and out[0, 0] == pytest.approx(patch.min())


def test_names_are_documented_and_stable():
    assert FirstOrderStatistics().feature_names()[:3] == ["fos_min", "fos_max", "fos_p10"]
    assert len(FEATURES) == 17 and all(desc for _, desc in FEATURES)


def test_row_statistics_helpers_against_numpy():
    x = np.random.default_rng(3).normal(size=(5, 50))
    np.testing.assert_allclose(quantiles(x, (0.1, 0.9)), np.quantile(x, [0.1, 0.9], axis=1))
    np.testing.assert_allclose(moments(x)["std"], x.std(axis=1))
    entropy, uniformity = entropy_uniformity(x, 10)
    counts = np.histogram(x[0], bins=10)[0] / 50
    assert uniformity[0] == pytest.approx((counts**2).sum())
    assert entropy[0] == pytest.approx(-(counts[counts > 0] * np.log2(counts[counts > 0])).sum())


def test_nan_pixels_are_a_clear_error():
    image = np.full((40, 40), 0.3, np.float32)
    image[20, 20] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        FirstOrderStatistics().extract(image, Candidates.from_columns([21], [19], [3], [0]))
