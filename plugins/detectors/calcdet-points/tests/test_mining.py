"""Hard negatives: the false detections mined from the net being trained, and the windows placed on them."""

import numpy as np
import pytest
from calcdet_points.heatmap import WindowSpec, window_corners
from calcdet_points.mining import false_peaks

from calcdet_core.api import Annotation, Detections, IgnoreRegion, Target, TrainingImage


def image(targets=(), ignore=()):
    pixels = np.zeros((300, 300), np.float32)
    mask = np.ones_like(pixels, bool)
    return TrainingImage("img", "p", pixels, mask, Annotation(tuple(targets), tuple(ignore)))


def test_false_peaks_are_the_best_detections_that_the_froc_counts_as_false():
    square = np.array([[200, 200], [240, 200], [240, 240], [200, 240]], float)
    annotation = Annotation((Target(50, 50),), (IgnoreRegion(square),))
    found = Detections(np.array([[55, 50, 3],     # 5 px from the MC: a true positive
                                 [220, 220, 3],   # inside the ignore region: neither
                                 [100, 100, 3], [150, 100, 3], [100, 150, 3]], float),
                       np.array([0.9, 0.8, 0.3, 0.7, 0.5]))
    np.testing.assert_array_equal(false_peaks(found, annotation), [[150, 100], [100, 150], [100, 100]])
    np.testing.assert_array_equal(false_peaks(found, annotation, limit=1), [[150, 100]])
    assert false_peaks(Detections.empty(), annotation).shape == (0, 2)


def test_hard_windows_hold_a_mined_centre_and_the_rest_are_drawn_as_before():
    hard = np.array([[40.0, 260.0], [260.0, 40.0]])
    spec = WindowSpec(window=64, per_image=8, positive_share=0.5, hard_share=0.5, hard={"img": hard})
    corners = window_corners(image([Target(150, 150)]), spec, np.random.default_rng(0))
    assert len(corners) == 8
    holds = [[bool(np.all((c <= p) & (p < c + 64))) for p in hard] for c in corners]
    assert sum(any(h) for h in holds[4:6]) == 2  # 2 of the 4 windows without a chosen target hold a mined centre
    plain = WindowSpec(window=64, per_image=8, positive_share=0.5)
    for other in (WindowSpec(window=64, per_image=8, positive_share=0.5, hard_share=0.5),  # nothing mined yet
                  WindowSpec(window=64, per_image=8, positive_share=0.5, hard={"img": hard})):  # share 0
        np.testing.assert_array_equal(window_corners(image([Target(150, 150)]), other, np.random.default_rng(3)),
                                      window_corners(image([Target(150, 150)]), plain, np.random.default_rng(3)))


@pytest.mark.parametrize("share", [0.25, 1.0])
def test_a_normal_image_gets_its_share_of_hard_windows(share):
    hard = np.array([[40.0, 260.0]])
    spec = WindowSpec(window=64, per_image=8, positive_share=0.75, hard_share=share, hard={"img": hard})
    corners = window_corners(image(), spec, np.random.default_rng(1))
    inside = [(c[0] <= 40 < c[0] + 64) and (c[1] <= 260 < c[1] + 64) for c in corners]
    assert sum(inside[: round(8 * share)]) == round(8 * share)
