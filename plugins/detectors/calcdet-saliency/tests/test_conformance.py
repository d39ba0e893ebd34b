"""The calcdet conformance kit runs resnet-saliency (fit, detect, save, load, pickle, resume) with small settings."""

from calcdet_saliency.detector import SaliencyDetector

from calcdet_core.testing import parametrize_with_checks

SMALL = {"width": 4, "hidden": 16, "epochs": 6, "learning_rate": 0.01, "negative_ratio": 4, "patch_batch": 32}


@parametrize_with_checks([SaliencyDetector(**SMALL)])
def test_conformance(component, check):
    check(component)
