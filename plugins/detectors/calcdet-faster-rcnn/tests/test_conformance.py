"""The calcdet conformance kit runs faster-rcnn (fit, detect, save, load, pickle, resume) with small settings.

Batches of two windows (``window_batch``) give the four epochs on the kit's five 80 px images four times the
optimizer steps of the default eight: enough for the small network to place its best detections within a
pixel or two of the unseen disks (6 of 6 with seed 0), where eight-window batches found 3 of 6. The kit fits
each configuration once and shares that fit, so the extra steps cost about three fits, not one per check.
"""

from calcdet_faster_rcnn.detector import FasterRCNNDetector

from calcdet_core.testing import parametrize_with_checks

SMALL = {"fpn_channels": 32, "representation": 64, "window": 64, "train_stride": 32, "stride": 48, "epochs": 4,
         "patience": 4, "learning_rate": 1e-3, "lr_step": 100, "rpn_samples": 64, "roi_samples": 64,
         "window_batch": 2}


@parametrize_with_checks([FasterRCNNDetector(**SMALL)])
def test_conformance(component, check):
    check(component)
