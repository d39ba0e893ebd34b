"""The calcdet conformance kit runs faster-rcnn (fit, detect, save, load, pickle, resume) with small settings."""

from calcdet_faster_rcnn.detector import FasterRCNNDetector

from calcdet_core.testing import check_detector_finds_trained_disks, parametrize_with_checks

SMALL = {"fpn_channels": 32, "representation": 64, "window": 64, "train_stride": 32, "stride": 48, "epochs": 4,
         "patience": 4, "learning_rate": 1e-3, "lr_step": 100, "rpn_samples": 64, "roi_samples": 64}


WAIVED = {"check_detector_finds_trained_disks": (
    "run by test_the_kit_s_trained_disks_are_found_with_two_windows_per_step with window_batch 2; with the "
    "eight-window batches that keep the other checks fast, four epochs on the kit's five 80 px images placed 2 "
    "(seed 0) and 3 (seed 1) of 6 unseen disks within 3 px, too few optimizer steps to localise reliably")}


@parametrize_with_checks([FasterRCNNDetector(**SMALL)], expected_failed_checks=WAIVED)
def test_conformance(component, check):
    check(component)


def test_the_kit_s_trained_disks_are_found_with_two_windows_per_step():
    """The same four epochs in batches of two windows (four times the optimizer steps): 5 of 6 disks found here
    with seeds 0 and 1."""
    check_detector_finds_trained_disks(FasterRCNNDetector(**{**SMALL, "window_batch": 2}))
