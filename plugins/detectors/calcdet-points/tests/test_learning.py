"""point-heatmap learns: on unseen generated images its trained net finds MCs far better than the same net untrained
(the kit's learning scenes, :mod:`calcdet_core.testing.learning`; a hit lies within 2 px of an MC centre)."""

from calcdet_points.detector import PointDetector

from calcdet_core.testing import detector_learning

SEED = 2
SMALL = {"widths": (4, 8, 16), "window": 64, "windows_per_image": 8, "epochs": 4, "learning_rate": 0.01,
         "froc_images": 2, "threshold": 0.0}
MARGIN = 0.3


def test_a_trained_net_beats_the_same_net_untrained_on_unseen_images():
    learning = detector_learning(PointDetector, SMALL, seed=SEED, diameter=4.0)
    assert learning.trained >= learning.untrained + MARGIN, str(learning)
