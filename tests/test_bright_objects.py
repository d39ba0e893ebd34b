"""bright_objects (calcdet_core.api): clips found, MCs and tissue left alone, same answer as OpenCV's labelling."""

import cv2
import numpy as np
import pytest

from calcdet_core.api import bright_objects
from calcdet_core.imaging.bright import OBJECT_AREA
from calcdet_core.testing import add_disks, breast_like_mask, textured_background


def opencv(image: np.ndarray, region: np.ndarray) -> np.ndarray:
    """The same ceiling with OpenCV's 8-connected components, as the proposers computed it before."""
    values = image[region]
    if values.size == 0:
        return np.zeros(image.shape, bool)
    median, high = np.percentile(values, [50, 95])
    over = ((image > high + 2 * (high - median)) & region).view(np.uint8)
    _, labels, stats, _ = cv2.connectedComponentsWithStats(over, connectivity=8)
    large = stats[:, cv2.CC_STAT_AREA] > OBJECT_AREA
    large[0] = False
    return large[labels]


def tissue_with_mcs(seed: int, size: int = 160) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mask = breast_like_mask((size, size))
    ys, xs = np.nonzero(mask)
    pick = rng.choice(len(xs), 20, replace=False)
    disks = [(float(xs[i]), float(ys[i]), rng.uniform(1.5, 3.0), rng.uniform(0.1, 0.3)) for i in pick]
    return add_disks(textured_background((size, size), seed=seed, level=0.25, contrast=0.03), disks) * mask, mask


@pytest.mark.parametrize("seed", range(4))
def test_a_clip_is_found_and_the_mcs_are_not(seed):
    image, mask = tissue_with_mcs(seed)
    assert not bright_objects(image, mask).any()
    clip = np.zeros_like(mask)
    clip[30:45, 20:60] = True
    found = bright_objects(np.where(clip, 1.0, image), mask)
    np.testing.assert_array_equal(found, clip & mask)


def test_components_are_8_connected():
    """Two squares touching only at a corner, each below the area, are one object above it."""
    image, region = np.zeros((120, 120), np.float32), np.ones((120, 120), bool)
    image[10:20, 10:20] = image[20:30, 20:30] = 1.0  # 100 px^2 each, corner to corner
    assert 100 <= OBJECT_AREA < 200
    found = bright_objects(image, region)
    np.testing.assert_array_equal(found, image > 0)


def test_nothing_outside_the_region_and_nothing_in_an_empty_one():
    image, region = np.zeros((120, 120), np.float32), np.zeros((120, 120), bool)
    image[5:25, 5:25] = 1.0
    assert not bright_objects(image, region).any()
    region[:, 15:] = True  # the object's part inside the region is 10 x 20 px, above the area
    np.testing.assert_array_equal(bright_objects(image, region), (image > 0) & region)


@pytest.mark.parametrize("seed", range(6))
def test_equals_opencv_labelling_on_random_speckle(seed):
    """Patches of speckle at half density: 8-connected clusters far larger than their 4-connected parts."""
    rng = np.random.default_rng(seed)
    image = rng.random((200, 200)).astype(np.float32) * 0.2
    for y, x in rng.integers(0, 175, (4, 2)):
        image[y:y + 25, x:x + 25] += rng.random((25, 25)) < 0.5
    region = rng.random(image.shape) < 0.98
    found = bright_objects(image, region)
    assert found.any()
    np.testing.assert_array_equal(found, opencv(image, region))
