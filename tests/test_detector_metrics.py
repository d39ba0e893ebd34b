"""AUROC/AUPRC and box AP/AR on hand-computed cases and edge cases."""

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, IgnoreRegion, ImageResult, Target
from calcdet_core.evaluation.boxes import box_iou, box_metrics
from calcdet_core.evaluation.classification import auprc, auroc, classification_metrics


def test_auroc_auprc_hand_computed():
    labels, scores = [1, 0, 1, 0], [0.9, 0.8, 0.4, 0.1]
    assert auroc(labels, scores) == pytest.approx(3 / 4)  # 3 of 4 positive-negative pairs ordered
    assert auprc(labels, scores) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)
    assert auroc([1, 0], [0.5, 0.5]) == 0.5 and auprc([1, 0], [0.5, 0.5]) == 0.5  # a tie is one threshold


def test_auroc_auprc_undefined_and_bad_input():
    assert auroc([1, 1], [0.2, 0.3]) is None and auroc([], []) is None
    assert auprc([0, 0], [0.2, 0.3]) is None and auprc([1, 1], [0.2, 0.3]) == 1.0
    with pytest.raises(ValueError, match="same length"):
        auroc([1, 0], [0.1])
    with pytest.raises(ValueError, match=r"0 \(negative\) or 1"):
        auroc([2, 0], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        auprc([1, 0], [np.nan, 0.2])


def test_classification_metrics_use_matching_labels_and_leave_dropped_out():
    truth = Annotation(targets=(Target(10.0, 10.0),))
    # TP 0.9, second hit on the same target (dropped), FP 0.95
    dets = Candidates.from_columns([10.0, 12.0, 90.0], [10.0, 10.0, 90.0], [3.0] * 3, [0.9, 0.5, 0.95])
    m = classification_metrics([ImageResult("a", dets, truth)])
    assert (m["samples"], m["positives"], m["prevalence"]) == (2, 1, 0.5)
    assert m["auroc"] == 0.0 and m["auprc"] == 0.5


def one_image(det_rows, targets, ignore=()):
    arr = np.array(det_rows, float).reshape(-1, 4)
    dets = Candidates.from_columns(arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3], "a")
    return [ImageResult("a", dets, Annotation(targets=tuple(Target(x, y) for x, y in targets), ignore=ignore))]


def test_box_iou_hand_computed():
    a = np.array([[0, 0, 14, 14]], float)
    b = np.array([[2.2, 0, 16.2, 14], [20, 20, 30, 30]], float)
    np.testing.assert_allclose(box_iou(a, b), [[11.8 / 16.2, 0.0]])


def test_box_ap_ar_hand_computed():
    # target box 43..57; the TP box is shifted 2.2 px: IoU 11.8 / 16.2 = 0.728, a TP at IoU 0.50..0.70 (5 of 10)
    results = one_image([(52.2, 50, 7, 0.6), (150, 150, 7, 0.9)], [(50.0, 50.0)])
    m = box_metrics(results)
    assert m["ar"] == pytest.approx(0.5)
    assert m["recall_at_iou"]["0.70"] == 1.0 and m["recall_at_iou"]["0.75"] == 0.0
    assert m["ap50"] == pytest.approx(0.5)  # the only TP comes second: precision 1/2 at every recall level


def test_box_metrics_edge_cases():
    assert box_metrics(one_image([(5, 5, 7, 0.5)], []))["ap50"] is None
    m = box_metrics(one_image([], [(50.0, 50.0)]))
    assert (m["ap50"], m["ar"]) == (0.0, 0.0)
    assert box_metrics([])["ap50"] is None
    square = np.array([[0, 0], [100, 0], [100, 100], [0, 100]], float)
    m = box_metrics(one_image([(50, 50, 7, 0.9), (150, 150, 7, 0.8)], [(50.0, 50.0), (150.0, 150.0)],
                              ignore=(IgnoreRegion(square),)))
    assert (m["targets"], m["detections"], m["ar"]) == (1, 1, 1.0)
    assert m["ap50"] == pytest.approx(1.0)  # precision is tp / (tp + fp + eps), as in pycocotools


def test_max_detections_keeps_the_best_per_image():
    results = one_image([(150, 150, 7, 0.9), (50, 50, 7, 0.1)], [(50.0, 50.0)])
    assert box_metrics(results, max_detections=1)["ar"] == 0.0
    assert box_metrics(results, max_detections=2)["ar"] == 1.0
