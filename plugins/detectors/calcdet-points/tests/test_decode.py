"""Heat maps to detections: sub-pixel centres, NMS at the study's 14 px, the mask, the cap; targets and windows."""

import numpy as np
import pytest
from calcdet_points.decode import DecodeSpec, decode
from calcdet_points.detector import PointDetector
from calcdet_points.heatmap import WindowSpec, centre_heatmap, image_windows

from calcdet_core.api import STUDY_DIAMETER_PX
from calcdet_core.testing import detector_test_image


def gaussians(shape, peaks, sigma=1.5):
    """A smooth heat map: the largest of Gaussians (x, y, height) of ``sigma`` px, as a trained net paints them."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return np.max([h * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma**2)) for x, y, h in peaks], axis=0)


def test_decode_finds_sub_pixel_centres():
    peaks = [(20.3, 30.7, 0.9), (50.62, 12.15, 0.7), (70.0, 60.45, 0.5)]
    found = decode(gaussians((80, 100), peaks), None, DecodeSpec())
    assert len(found) == 3
    np.testing.assert_allclose(found.score, [0.9, 0.7, 0.5], atol=0.1)  # best first
    np.testing.assert_allclose(found.xyr[:, :2], [(x, y) for x, y, _ in peaks], atol=0.08)
    assert not np.allclose(found.xyr[:, :2], np.rint(found.xyr[:, :2]))  # not the integer pixels


def test_nms_keeps_the_best_of_peaks_closer_than_14_px():
    assert PointDetector().config.min_distance == STUDY_DIAMETER_PX == 14
    close = decode(gaussians((60, 80), [(20, 30, 0.9), (30, 30, 0.6)]), None, DecodeSpec())
    np.testing.assert_allclose(close.xyr[:, :2], [(20, 30)], atol=0.01)
    apart = decode(gaussians((60, 80), [(20, 30, 0.9), (35, 30, 0.6)]), None, DecodeSpec())
    assert len(apart) == 2


def test_threshold_mask_and_cap():
    heat = gaussians((60, 120), [(20, 30, 0.9), (60, 30, 0.03), (100, 30, 0.5)])
    assert len(decode(heat, None, DecodeSpec(threshold=0.05))) == 2
    mask = np.zeros(heat.shape, bool)
    mask[:, :50] = True
    np.testing.assert_allclose(decode(heat, mask, DecodeSpec()).xyr[:, 0], [20], atol=0.01)
    assert len(decode(heat, None, DecodeSpec(max_detections=1))) == 1
    assert len(decode(np.zeros((30, 30), np.float32), None, DecodeSpec())) == 0


def test_target_heatmap_is_one_at_each_centre_pixel_and_gaussian_around():
    heat = centre_heatmap((40, 50), np.array([[10.4, 20.6], [45.0, 5.0], [60.0, 5.0]]), sigma=1.5)
    assert heat[21, 10] == 1 and heat[5, 45] == 1 and (heat == 1).sum() == 2  # (60, 5) lies outside
    assert heat[21, 12] == pytest.approx(np.exp(-(1.6**2 + 0.4**2) / 4.5), rel=1e-5)
    assert heat[21, 20] == 0  # beyond 3 sigma


@pytest.mark.parametrize("augment", [False, True])
def test_windows_carry_their_targets_with_the_pixels(augment):
    image = detector_test_image(3, n_disks=3)
    spec = WindowSpec(window=32, per_image=12, positive_share=0.75, sigma=1.0)
    windows, heats = image_windows(image, spec, np.random.default_rng(0), augment)
    assert windows.shape == heats.shape == (12, 32, 32)
    centres = (heats == 1)
    assert centres[:9].any(axis=(1, 2)).all()  # the positive share holds a target each
    assert (windows[centres] > np.median(windows) + 1).all()  # a centre pixel is a bright disk's (breast z-scores)


def test_shuffled_batches_hand_over_every_window_once_in_batches_of_the_size():
    from calcdet_points.train import shuffled_batches

    sizes = [3, 5, 4, 7, 2]
    parts = [(np.full((n, 2, 2), k, np.float32), np.full((n, 2, 2), k, np.float32)) for k, n in enumerate(sizes)]
    batches = list(shuffled_batches(iter(parts), 4, np.random.default_rng(0)))
    assert [len(x) for x, _ in batches] == [4, 4, 4, 4, 4, 1]  # 21 windows
    seen = np.concatenate([x[:, 0, 0] for x, _ in batches])
    np.testing.assert_array_equal(np.sort(seen), np.repeat(np.arange(5), sizes))
    assert all((x == y).all() for x, y in batches)  # each window stays with its heat map
