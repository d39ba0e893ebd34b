"""erode_mask (calcdet_core.api) against OpenCV's erosion, which the proposers used before it."""

import cv2
import numpy as np
import pytest

from calcdet_core.api import erode_mask

BORDERS = {False: {}, True: {"borderType": cv2.BORDER_CONSTANT, "borderValue": 0}}
"""erode_image_edges -> the cv2.erode border that means the same (default: beyond the image is mask)."""


def opencv(mask: np.ndarray, size: int, iterations: int, erode_image_edges: bool) -> np.ndarray:
    if iterations == 0:
        return mask.copy()
    square = np.ones((size, size), np.uint8)
    return cv2.erode(mask.astype(np.uint8), square, iterations=iterations, **BORDERS[erode_image_edges]) > 0


@pytest.mark.parametrize("erode_image_edges", [False, True])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 8, 11, 41])
@pytest.mark.parametrize("iterations", [0, 1, 2, 3])
def test_equals_opencv_on_random_masks(size, iterations, erode_image_edges):
    rng = np.random.default_rng(100 * size + iterations)
    for _ in range(6):
        height, width = rng.integers(1, 60, 2)
        mask = rng.random((height, width)) < rng.uniform(0.5, 0.99)
        np.testing.assert_array_equal(erode_mask(mask, size, iterations, erode_image_edges=erode_image_edges),
                                      opencv(mask, size, iterations, erode_image_edges))


@pytest.mark.parametrize("erode_image_edges", [False, True])
@pytest.mark.parametrize(("size", "iterations"), [(5, 20), (81, 1), (41, 1), (6, 7)])
def test_equals_opencv_on_a_breast_that_touches_the_image_edge(size, iterations, erode_image_edges):
    mask = np.zeros((300, 220), np.uint8)
    cv2.ellipse(mask, (0, 150), (180, 140), 0, 0, 360, 1, -1)  # chest wall on the left edge
    mask[40:60, 60:70] = 0  # a hole, and a thin spur that any erosion removes
    mask[150, 180:215] = 1
    got = erode_mask(mask > 0, size, iterations, erode_image_edges=erode_image_edges)
    np.testing.assert_array_equal(got, opencv(mask, size, iterations, erode_image_edges))
    assert got[150, 0] != erode_image_edges, "the chest-wall edge is kept unless image edges erode"
    assert not got[150, 180:215].any(), "the spur is eroded away"


def test_kernel_larger_than_the_image():
    mask = np.ones((7, 5), bool)
    assert erode_mask(mask, 31).all(), "a full mask stays full when beyond the image counts as mask"
    assert not erode_mask(mask, 31, erode_image_edges=True).any()
    mask[3, 2] = False
    assert not erode_mask(mask, 31).any()


def test_input_is_not_changed_and_any_nonzero_counts_as_mask():
    mask = np.zeros((20, 20), np.uint8)
    mask[2:18, 2:18] = 7
    before = mask.copy()
    eroded = erode_mask(mask, 3, 2)
    np.testing.assert_array_equal(mask, before)
    assert eroded.dtype == bool and eroded.flags.c_contiguous
    np.testing.assert_array_equal(eroded, opencv(mask > 0, 3, 2, False))
    same = erode_mask(mask > 0, 1)
    assert same is not mask and np.array_equal(same, mask > 0), "size 1 is a copy, not the input"


@pytest.mark.parametrize(("shape", "size", "iterations"), [((4, 4, 3), 3, 1), ((4, 4), 0, 1), ((4, 4), 3, -1)])
def test_bad_arguments_are_programming_errors(shape, size, iterations):
    with pytest.raises(ValueError, match=r"mask must be 2-D|size must be"):
        erode_mask(np.ones(shape, bool), size, iterations)
