"""The calcdet conformance kit runs faster-rcnn (fit, detect, save, load, pickle, resume) with small settings."""

from calcdet_faster_rcnn.detector import FasterRCNNDetector

from calcdet_core.testing import parametrize_with_checks

SMALL = {"fpn_channels": 32, "representation": 64, "window": 64, "train_stride": 32, "stride": 48, "epochs": 4,
         "patience": 4, "learning_rate": 1e-3, "lr_step": 100, "rpn_samples": 64, "roi_samples": 64}


WAIVED = {"check_detector_finds_trained_disks": (
    "a Faster R-CNN from random weights, four epochs on the kit's five 80 px images (what keeps the kit at seconds), "
    "places 2 to 4 of 6 unseen disks within 3 px depending on the run: the loss falls (test_faster_rcnn.py) but "
    "localisation needs more data and epochs than the kit gives")}


@parametrize_with_checks([FasterRCNNDetector(**SMALL)], expected_failed_checks=WAIVED)
def test_conformance(component, check):
    check(component)
