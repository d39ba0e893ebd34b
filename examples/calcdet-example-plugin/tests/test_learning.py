"""example-fcn learns: on unseen generated images its trained net finds MCs far better than the same net untrained
(the kit's learning scenes, :mod:`calcdet_core.testing.learning`; a hit lies within 2.5 px of an MC centre)."""

from calcdet_example.fcn import FcnDetector

from calcdet_core.testing import detector_learning

SEED = 2
SMALL = {"epochs": 12, "patches_per_image": 16, "learning_rate": 0.02, "threshold": 0.001}
MARGIN = 0.3


def test_a_trained_net_beats_the_same_net_untrained_on_unseen_images():
    learning = detector_learning(FcnDetector, SMALL, seed=SEED, diameter=5.0)
    assert learning.trained >= learning.untrained + MARGIN, str(learning)
