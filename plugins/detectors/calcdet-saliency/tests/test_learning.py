"""resnet-saliency learns: on unseen generated images its trained net finds MCs far better than the same net untrained
(the kit's learning scenes, :mod:`calcdet_core.testing.learning`; with the study's matching)."""

from calcdet_saliency.detector import SaliencyDetector

from calcdet_core.testing import detector_learning

SEED = 2
SMALL = {"width": 8, "hidden": 16, "epochs": 12, "patience": 12, "lr_step": 100, "learning_rate": 0.01,
         "negative_ratio": 10, "patch_batch": 32, "threshold": 0.001}
MARGIN = 0.3


def test_a_trained_net_beats_the_same_net_untrained_on_unseen_images():
    learning = detector_learning(SaliencyDetector, SMALL, seed=SEED)
    assert learning.trained >= learning.untrained + MARGIN, str(learning)
