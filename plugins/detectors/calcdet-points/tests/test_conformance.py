"""The calcdet conformance kit runs point-heatmap (fit, detect, save, load, pickle, resume, batch), small settings,
with and without the context rescoring."""

from calcdet_points.detector import PointDetector

from calcdet_core.testing import parametrize_with_checks

SMALL = {"widths": (4, 8, 16), "window": 64, "windows_per_image": 8, "epochs": 4, "learning_rate": 0.01}


@parametrize_with_checks([PointDetector(**SMALL), PointDetector(**SMALL, rescore="context")])
def test_conformance(component, check):
    check(component)
