"""calcdet-gabor: conformance, agreement with whole-image filtering + per-patch statistics."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
from calcdet_gabor import GaborFeatures, gabor_bank

from calcdet_core.api import Candidates
from calcdet_core.testing import add_disks, parametrize_with_checks, textured_background


@parametrize_with_checks([GaborFeatures(), GaborFeatures(patch_size=9, n_orientations=4, kernel_size=11)])
def test_conformance(component, check):
    check(component)


def scene(h: int = 90, w: int = 110, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = add_disks(textured_background((h, w), seed), [(30, 40, 3, 0.3), (80, 20, 2, 0.4)])
    return np.clip(image + 0.05 * rng.random((h, w)), 0, 1).astype(np.float32)


def candidates(xs, ys) -> Candidates:
    return Candidates.from_columns(xs, ys, np.full(len(xs), 3.0), np.zeros(len(xs)))


@pytest.mark.parametrize(
    ("where", "params"),
    [
        ("everywhere", {}),  # border candidates: the crop is the whole image
        ("interior", {}),  # the crop is a small region: its edges must not leak into patches
        ("everywhere", {"patch_size": 7, "n_orientations": 4, "kernel_size": 9, "phase": math.pi / 2}),
    ],
)
def test_every_feature_matches_whole_image_filtering(where, params, per_patch_reference):
    image = scene()
    rng = np.random.default_rng(1)
    if where == "everywhere":
        xs, ys = np.r_[0, 109, 0, 109, rng.integers(0, 110, 26)], np.r_[0, 0, 89, 89, rng.integers(0, 90, 26)]
        cands = candidates(xs, ys)
    else:
        cands = candidates(rng.integers(45, 60, 15), rng.integers(40, 50, 15))
    extractor = GaborFeatures(**params)
    got = extractor.extract(image, cands)
    want = per_patch_reference.reference(extractor, image, cands)
    assert got.shape == (len(cands), 5 * len(extractor.bank()))
    for j, name in enumerate(extractor.feature_names()):
        np.testing.assert_allclose(got[:, j], want[:, j], rtol=1e-9, atol=1e-12, err_msg=name)


def test_default_bank_is_the_studys_six_kernels():
    bank = GaborFeatures().bank()
    assert [(round(k.theta_deg), round(k.wavelength, 2)) for k in bank] == [
        (0, 5.0), (0, 7.07), (60, 5.0), (60, 7.07), (120, 5.0), (120, 7.07)]
    direct = cv2.getGaborKernel((20, 20), 3.0, math.pi / 3, 5.0, 0.5, 0.0, ktype=cv2.CV_64F)
    np.testing.assert_array_equal(bank[2].kernel, direct)
    assert len(GaborFeatures().feature_names()) == 30


def test_names_are_stable():
    names = GaborFeatures().feature_names()
    assert names[:5] == ["gabor_k0_energy", "gabor_k0_mean", "gabor_k0_std", "gabor_k0_skewness", "gabor_k0_kurtosis"]
    assert names[-1] == "gabor_k5_kurtosis"


def test_flat_image_gives_flat_responses_with_defined_moments():
    image = np.full((50, 50), 0.4, np.float32)
    out = GaborFeatures().extract(image, candidates([0, 25, 49], [0, 25, 49]))
    names = GaborFeatures().feature_names()
    assert np.isfinite(out).all()
    for k in gabor_bank(3, 2, 0.2, 20, 3.0, 0.5, 0.0):
        mean = out[:, names.index(f"gabor_k{k.index}_mean")]
        np.testing.assert_allclose(mean, float(np.float32(0.4)) * k.kernel.sum(), rtol=1e-9)
        assert (out[:, names.index(f"gabor_k{k.index}_skewness")] == 0).all()
        assert (out[:, names.index(f"gabor_k{k.index}_kurtosis")] == 0).all()


def test_oriented_texture_excites_the_matching_kernel():
    xx = np.mgrid[:64, :64][1]
    stripes = (0.5 + 0.4 * np.cos(2 * np.pi * xx / 5.0)).astype(np.float32)  # carrier along x: theta 0
    out = GaborFeatures().extract(stripes, candidates([32], [32]))
    names = GaborFeatures().feature_names()
    energy = [out[0, names.index(f"gabor_k{k}_energy")] for k in range(6)]
    assert int(np.argmax(energy)) == 0, energy


def test_rejects_non_2d_image():
    with pytest.raises(ValueError, match="2-D"):
        GaborFeatures().extract(np.zeros((8, 8, 3), np.float32), candidates([1], [1]))


def test_nan_pixels_are_a_clear_error():
    image = np.full((40, 40), 0.3, np.float32)
    image[20, 20] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaborFeatures().extract(image, Candidates.from_columns([21], [19], [3], [0]))
