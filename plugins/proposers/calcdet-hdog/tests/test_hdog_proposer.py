"""HDoG proposer: conformance kit, known answers, and each fast step against its direct version."""

from __future__ import annotations

import numpy as np
import pytest
from calcdet_hdog import HDoGProposer
from calcdet_hdog.blobs import local_maxima, suppress
from calcdet_hdog.hessian import hessian_at, hessian_eigenvalues, layer_eigenvalues
from calcdet_hdog.scale_space import dog_layers, kernel_size, sigma_ladder
from scipy import ndimage

from calcdet_core.testing import (
    add_disks,
    check_proposer_survives_bright_object,
    parametrize_with_checks,
    textured_background,
)


@parametrize_with_checks([HDoGProposer(), HDoGProposer(method="marasinou")])
def test_conformance(component, check):
    check(component)


def gradient_hessian(layer: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(hrr, hrc, hcc) by numpy.gradient applied twice, as the study did."""
    d_row, d_col = np.gradient(layer.astype(np.float64))
    return np.gradient(d_row, axis=0), np.gradient(d_col, axis=0), np.gradient(d_col, axis=1)


def test_closed_form_eigenvalues_equal_eigvalsh():
    rng = np.random.default_rng(0)
    a, b, c = rng.normal(size=(3, 500))
    larger, smaller = hessian_eigenvalues(a, b, c)
    reference = np.linalg.eigvalsh(np.stack([np.stack([a, b], -1), np.stack([b, c], -1)], -2))
    np.testing.assert_allclose(larger, reference[:, 1], atol=1e-12)
    np.testing.assert_allclose(smaller, reference[:, 0], atol=1e-12)


def test_layer_eigenvalues_equal_eigvalsh_per_pixel():
    layer = np.random.default_rng(1).normal(size=(23, 31)).astype(np.float32)
    hrr, hrc, hcc = gradient_hessian(layer)
    larger, smaller = layer_eigenvalues(layer)
    for y in range(layer.shape[0]):
        for x in range(layer.shape[1]):
            low, high = np.linalg.eigvalsh(np.array([[hrr[y, x], hrc[y, x]], [hrc[y, x], hcc[y, x]]]))
            assert larger[y, x] == pytest.approx(high, abs=1e-5) and smaller[y, x] == pytest.approx(low, abs=1e-5)


def test_hessian_at_points_equals_gradient_hessian():
    layer = np.random.default_rng(2).normal(size=(17, 20)).astype(np.float32)
    ys, xs = np.nonzero(np.ones(layer.shape, bool))
    for mine, reference in zip(hessian_at(layer, ys, xs), gradient_hessian(layer), strict=True):
        np.testing.assert_allclose(mine, reference[ys, xs], atol=1e-5)


def test_sigma_ladder_and_kernels_follow_the_study():
    sigmas = sigma_ladder(1.0, 3.0, 20, 1.05)
    assert len(sigmas) == 21 and sigmas[0] == 1.0 and sigmas[-1] == pytest.approx(3.0)
    by_ratio = sigma_ladder(1.18, 3.1, None, 1.05)
    assert len(by_ratio) == int(np.log(3.1 / 1.18) / np.log(1.05) + 1) + 1
    assert [kernel_size(s) for s in (1.0, 1.2, 2.0, 3.0)] == [5, 5, 9, 13]


def test_streamed_dog_layers_equal_the_full_stack():
    image = textured_background((60, 70), seed=3)
    sigmas = sigma_ladder(1.0, 3.0, 6, 1.05)
    gaussians = [ndimage.gaussian_filter(image.astype(np.float64), s, mode="mirror", radius=kernel_size(s) // 2)
                 for s in sigmas]
    for j, layer in enumerate(dog_layers(image, sigmas)):
        expected = (gaussians[j] - gaussians[j + 1]) * sigmas[j] / (sigmas[j + 1] - sigmas[j])
        np.testing.assert_allclose(layer, expected, atol=2e-5)


def test_local_maxima_equal_a_3x3x3_maximum_filter():
    rng = np.random.default_rng(4)
    stack = ndimage.gaussian_filter(rng.normal(size=(5, 30, 40)), 1).astype(np.float32)
    maxed = ndimage.maximum_filter(stack, size=3, mode="constant", cval=0)
    expected = (stack == maxed) & (stack > 0.01)
    mask, scratch = np.ones(stack.shape[1:], bool), np.empty(stack[0].size, np.int64)
    for j in range(len(stack)):
        below = stack[j - 1] if j > 0 else None
        above = stack[j + 1] if j + 1 < len(stack) else None
        rows, cols = local_maxima(below, stack[j], above, 0.01, mask, scratch)
        assert sorted(zip(rows, cols, strict=True)) == sorted(zip(*np.nonzero(expected[j]), strict=True))


def test_suppression_keeps_the_strongest_and_distant_blobs():
    xs = np.array([10.0, 12.0, 40.0, 40.0, 80.0])
    ys = np.array([10.0, 10.0, 40.0, 45.0, 80.0])
    radii = np.array([3.0, 3.0, 1.5, 1.5, 2.0])
    score = np.array([1.0, 2.0, 1.0, 0.5, 0.1])
    kept = suppress(xs, ys, radii, score, overlap=0.2, min_distance=6)
    assert sorted(kept.tolist()) == [1, 2, 4]  # 0 overlaps the stronger 1; 3 is 5 px from the stronger 2
    assert sorted(suppress(xs, ys, radii, score, overlap=1.0, min_distance=0).tolist()) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("method", ["eigenval", "marasinou"])
@pytest.mark.parametrize("radius", [2.0, 3.0, 4.0])
def test_bright_disk_found_at_centre_with_its_radius(method, radius):
    centre = (61.3, 52.6)
    image = add_disks(textured_background((110, 130), seed=2), [(*centre, radius, 0.3)])
    out = HDoGProposer(method=method).propose(image)
    best = int(np.argmax(out.score))
    assert np.hypot(out.x[best] - centre[0], out.y[best] - centre[1]) <= 1.0
    assert abs(out.radius[best] - radius) <= 1.0


def test_flat_and_empty_inputs_give_nothing():
    proposer = HDoGProposer()
    assert len(proposer.propose(np.full((80, 90), 0.5, np.float32))) == 0
    assert len(proposer.propose(np.zeros((80, 90), np.float32))) == 0
    image = add_disks(textured_background((80, 90)), [(40, 40, 3, 0.3)])
    assert len(proposer.propose(image, np.zeros(image.shape, bool))) == 0


def test_coordinates_are_in_the_given_grid_and_inside_the_mask():
    image = add_disks(textured_background((150, 200), seed=1), [(160.0, 110.0, 3, 0.3), (30.0, 30.0, 3, 0.3)])
    mask = np.zeros(image.shape, bool)
    mask[70:, 100:] = True
    out = HDoGProposer().propose(image, mask)
    best = int(np.argmax(out.score))
    assert np.hypot(out.x[best] - 160.0, out.y[best] - 110.0) <= 1.0
    assert mask[np.rint(out.y).astype(int), np.rint(out.x).astype(int)].all()


def test_border_erosion_drops_blobs_near_the_breast_border():
    image = textured_background((120, 160), seed=3)
    image[:, 120:] = 0
    image = add_disks(image, [(112.0, 60.0, 2.5, 0.3)])
    near = lambda out: np.any(np.hypot(out.x - 112.0, out.y - 60.0) <= 2)  # noqa: E731
    assert near(HDoGProposer().propose(image)) and not near(HDoGProposer(border_erosion=15).propose(image))


def test_scales_must_increase():
    with pytest.raises(ValueError, match="max_sigma"):
        HDoGProposer(min_sigma=3, max_sigma=2)


@pytest.mark.parametrize(("image", "message"), [
    (np.full((64, 64), 1000, np.uint16), "float image"),
    (np.full((64, 64), np.nan, np.float32), "NaN"),
    (np.zeros((64, 20), np.float32), "at least 32x32"),
    (np.zeros((64, 64, 3), np.float32), "2-D"),
])
def test_bad_images_are_refused_with_a_message(image, message):
    with pytest.raises(ValueError, match=message):
        HDoGProposer().propose(image)


@pytest.mark.parametrize("params", [{"hessian_divider": 50.0}, {}, {"method": "marasinou"}])
def test_a_clip_far_brighter_than_the_tissue_keeps_the_mcs_found(params):
    check_proposer_survives_bright_object(HDoGProposer(**params), min_clean=0.9)
