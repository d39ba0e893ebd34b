"""calcdet-wavelet: conformance, agreement with per-patch pywt / scipy / scikit-image computations."""

from __future__ import annotations

import numpy as np
import pytest
from calcdet_wavelet import WaveletFeatures, decompose
from calcdet_wavelet import glcm as vglcm
from pydantic import ValidationError
from skimage.feature import graycomatrix, graycoprops

from calcdet_core.api import Candidates
from calcdet_core.testing import parametrize_with_checks, textured_background


@parametrize_with_checks([WaveletFeatures(), WaveletFeatures(patch_size=9, glcm_levels=4, glcm_angles=(0, 135))])
def test_conformance(component, check):
    check(component)


def random_candidates(h: int, w: int, n: int, seed: int = 0) -> Candidates:
    rng = np.random.default_rng(seed)
    x = np.concatenate([[0, w - 1, 1, w - 2], rng.integers(0, w, n - 4)])
    y = np.concatenate([[0, h - 1, h - 1, 0], rng.integers(0, h, n - 4)])
    return Candidates.from_columns(x, y, np.full(n, 3.0), np.zeros(n))


@pytest.mark.parametrize(
    "params",
    [{}, {"patch_size": 9, "histogram_bins": 5, "glcm_levels": 16}, {"glcm_distance": 1, "glcm_angles": (0, 135)}],
)
def test_every_feature_matches_per_patch_computation(params, per_patch_reference):
    rng = np.random.default_rng(len(params))
    image = rng.random((50, 70)).astype(np.float32)
    image[10:40, 20:50] = textured_background((30, 30), seed=2)
    image[0:15, 55:70] = 0.5  # flat region: sub-bands with no spread, flat GLCMs
    cands = random_candidates(50, 70, 40)
    cands = Candidates.from_columns(np.r_[cands.x, 62], np.r_[cands.y, 7], np.full(41, 3.0), np.zeros(41))
    extractor = WaveletFeatures(**params)
    got = extractor.extract(image, cands)
    want = per_patch_reference.reference(extractor, image, cands)
    for j, name in enumerate(extractor.feature_names()):
        np.testing.assert_allclose(got[:, j], want[:, j], rtol=1e-9, atol=1e-12, err_msg=name)


def test_glcm_matches_scikit_image_on_random_quantised_images():
    rng = np.random.default_rng(7)
    q = rng.integers(0, 8, size=(25, 7, 7))
    q[0] = 3  # constant image: correlation defined as 1
    for angle in (0, 45, 90, 135):
        step = vglcm.offset(2, angle)
        got = vglcm.properties(vglcm.cooccurrence(q, 8, step))
        for k in range(len(q)):
            p = graycomatrix(q[k].astype(np.uint8), [2], [np.deg2rad(angle)], levels=8, normed=True)
            want = [graycoprops(p, name)[0, 0] for name in vglcm.PROPERTIES]
            np.testing.assert_allclose(got[k], want, rtol=1e-12, atol=1e-12, err_msg=f"angle {angle}, image {k}")


def test_decomposition_is_pywt_per_patch():
    patches = np.random.default_rng(1).random((3, 14, 14))
    bands = decompose(patches)
    assert bands["LH1"].shape == (3, 7, 7) and bands["HH2"].shape == (3, 4, 4)
    import pywt

    ll1, (lh1, _, _) = pywt.dwt2(patches[2], "haar")
    np.testing.assert_allclose(bands["LH1"][2], lh1)
    np.testing.assert_allclose(bands["LL2"][2], pywt.dwt2(ll1, "haar")[0])


def test_names_count_and_form():
    names = WaveletFeatures().feature_names()
    assert len(names) == 92 and len(set(names)) == 92
    assert names[0] == "wavelet_LL1_mean" and "wavelet_HH2_entropy" in names
    assert names[56] == "glcm_LH1_0_correlation" and "glcm_LH1_45_contrast" in names
    assert names[-1] == "glcm_HH1_90_dissimilarity"


def test_flat_image_gives_defined_values():
    out = WaveletFeatures().extract(np.full((40, 40), 0.3, np.float32), random_candidates(40, 40, 5))
    row = dict(zip(WaveletFeatures().feature_names(), out[0], strict=True))
    assert np.isfinite(out).all()
    assert row["wavelet_LH1_entropy"] == 0 and row["wavelet_LH1_uniformity"] == 1
    assert row["wavelet_LL1_kurtosis"] == 0 and row["glcm_HH1_45_correlation"] == 1
    assert row["glcm_HL1_0_contrast"] == 0 and row["glcm_HL1_0_homogeneity"] == 1


def test_too_small_patch_for_the_glcm_step_is_a_clear_error():
    with pytest.raises(ValidationError, match="too small for a GLCM step"):
        WaveletFeatures(patch_size=4, glcm_distance=2)


def test_nan_pixels_are_a_clear_error():
    image = np.full((40, 40), 0.3, np.float32)
    image[20, 20] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        WaveletFeatures().extract(image, Candidates.from_columns([21], [19], [3], [0]))
