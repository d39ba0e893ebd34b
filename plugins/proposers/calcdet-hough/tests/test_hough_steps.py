import cv2
import numpy as np
import pytest
from calcdet_hough.circles import circle_support, keep_separated
from calcdet_hough.enhance import dehaze, rolling_ball_background, sobel_gaussian_sobel
from calcdet_hough.proposer import HoughConfig
from calcdet_hough.stages import (
    _lifted_window,
    _patch_origin,
    binary_above,
    linear_quantile,
    quantile_with_zeros,
    union_binary,
)
from skimage import restoration

from calcdet_core.api import erode_mask
from calcdet_core.testing import add_disks, textured_background


def test_rolling_ball_removes_a_ramp_and_keeps_a_small_disk():
    yy, xx = np.mgrid[:120, :160]
    ramp = (0.2 + 0.5 * xx / 160 + 0.1 * yy / 120).astype(np.float32)
    image = add_disks(ramp, [(80.0, 60.0, 3.0, 0.3)])
    flat = image - rolling_ball_background(image, 50.0)
    assert np.abs(flat[np.hypot(xx - 80, yy - 60) > 12]).max() < 0.01, "the smooth ramp should be removed"
    assert flat[60, 80] > 0.15, "the small bright disk should keep most of its contrast"


def test_rolling_ball_matches_scikit_image():
    image = add_disks(textured_background((96, 96), seed=1, contrast=0.1), [(40.0, 50.0, 3.0, 0.3)])
    ours = rolling_ball_background(image, 50.0)
    theirs = restoration.rolling_ball(image, radius=50)
    assert np.abs(ours - theirs).max() < 5e-3


def test_dehazing_keeps_shape_range_and_contrast():
    image = add_disks(textured_background((100, 120), seed=2), [(60.0, 50.0, 4.0, 0.3)])
    out = dehaze(image, 0.9, 11, 40, 1e-5)
    assert out.shape == image.shape and out.dtype == np.float32 and np.isfinite(out).all()
    assert out.min() >= -0.05 and out.max() <= 1.05
    assert out[50, 60] - np.median(out) > image[50, 60] - np.median(image) - 0.05, "the disk should stay contrasted"


def test_sobel_gaussian_sobel_rings_a_disk():
    image = add_disks(np.full((80, 80), 0.3, np.float32), [(40.0, 40.0, 4.0, 0.4)])
    edges = sobel_gaussian_sobel(image, 2.0)
    assert edges[40, 40] < edges.max() / 4, "the disk centre is flat: little edge energy there"
    ring = edges[40, 40:56]
    assert 2 <= int(np.argmax(ring)) <= 10, "the strongest response lies on a ring around the disk"


def test_default_border_band_equals_the_studys_twenty_5x5_erosions():
    mask = np.zeros((150, 150), bool)
    cv2.circle(mask.view(np.uint8), (60, 80), 55, 1, -1)
    repeated = cv2.erode(mask.astype(np.uint8), np.ones((5, 5), np.uint8), iterations=20).astype(bool)
    c = HoughConfig()
    np.testing.assert_array_equal(erode_mask(mask, c.erosion_size, c.erosion_iterations), repeated)


@pytest.mark.parametrize("zeros", [0, 7, 5000])
def test_quantile_with_zeros_equals_numpy(zeros):
    values = np.random.default_rng(zeros).random(999).astype(np.float32)
    values[:100] = 0
    expected = np.quantile(np.concatenate([values, np.zeros(zeros, np.float32)]), 0.97)
    assert quantile_with_zeros(values, zeros, 0.97) == pytest.approx(expected, rel=1e-6)


def test_binary_above_keeps_only_values_above_the_floor():
    values = np.array([[0.0, 0.5, 0.6, 1.0]], np.float32)
    np.testing.assert_array_equal(binary_above(values, 0.5), [[0, 0, 255, 255]])
    assert not binary_above(np.full((3, 3), 0.5, np.float32), 0.5).any()


def test_circle_support_counts_the_circle_boundary():
    binary = np.zeros((60, 60), np.uint8)
    cv2.circle(binary, (30, 30), 8, 255, -1)
    support = circle_support(binary, np.array([[30.0, 30.0, 8.0], [10.0, 10.0, 5.0]]), 300.0)
    assert support[0] >= 0.8 * 2 * np.pi * 8 and support[1] == 0


def test_keep_separated_keeps_the_better_supported():
    xyr = np.array([[0.0, 0.0, 2.0], [3.0, 0.0, 2.0], [20.0, 0.0, 2.0]])
    np.testing.assert_array_equal(keep_separated(xyr, np.array([1.0, 5.0, 2.0]), 6.0), [1, 2])


def test_union_binary_is_the_or_of_the_per_seed_window_binaries():
    rng = np.random.default_rng(3)
    kept = np.where(rng.random((260, 300)) > 0.9, rng.random((260, 300)), 0).astype(np.float32)
    seeds = np.array([[60.0, 70.0, 3.0], [150.5, 120.2, 5.0], [280.0, 240.0, 2.0]])
    expected = np.zeros(kept.shape, np.uint8)
    for x, y, r in seeds:
        x1, y1 = _patch_origin(int(x), 100, 300), _patch_origin(int(y), 100, 260)
        patch, positive = _lifted_window(kept, x1, y1, 100, np.array([[int(x), int(y)]]), np.array([int(r)]))
        window = expected[y1 : y1 + 100, x1 : x1 + 100]
        np.bitwise_or(window, binary_above(patch, float(np.quantile(positive, 0.95))), out=window)
    union = union_binary(kept, seeds, 0.95, 100)
    assert expected.any()
    assert np.count_nonzero(union != expected) <= 2, "equal up to float rounding at the 8-bit boundary"


@pytest.mark.parametrize("n", [1, 2, 57, 1000])
def test_linear_quantile_equals_numpy(n):
    values = np.random.default_rng(n).random(n).astype(np.float32)
    assert linear_quantile(values, 0.95) == pytest.approx(float(np.quantile(values, 0.95)), rel=1e-6)
