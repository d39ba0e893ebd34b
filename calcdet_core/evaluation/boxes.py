"""Box-detector metrics: AP at IoU 0.5 and AR over IoU 0.5:0.95, the COCO way (the study's Table 5).

Boxes: a detection that carries a box (a box detector's :class:`~calcdet_core.contracts.data.Detections`
with ``boxes``: x0, y0, x1, y1) is scored with that box; one without is the square
``[x - r, y - r, x + r, y + r]`` of its radius ``r``. The metrics say which under
``detection_boxes``: ``predicted``, ``squares`` or ``mixed`` (some images each way). A target
is the ``box_size`` (14 px) square centred on it, as the study built its ground truth.
Detections centred in an ignore region and targets inside one are left out.
Per image, detections are taken by descending score (at most ``max_detections``, COCO's
100), each matched to the free target it overlaps most (IoU >= threshold); AP is the mean
of the interpolated precision at the 101 recall levels 0, 0.01, ..., 1 and AR the mean
over the ten IoU thresholds of the recall reached. This follows pycocotools'
``COCOeval`` for one category and one area range, and the tests check it against it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from calcdet_core.contracts.data import Candidates, Detections, ImageResult
from calcdet_core.evaluation.matching import inside_any

IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_LEVELS = np.linspace(0.0, 1.0, 101)
STUDY_BOX_PX = 14.0


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, M) IoU of x1, y1, x2, y2 boxes (areas as w * h, like pycocotools)."""
    x1 = np.maximum(a[:, None, 0], b[None, :, 0])
    y1 = np.maximum(a[:, None, 1], b[None, :, 1])
    x2 = np.minimum(a[:, None, 2], b[None, :, 2])
    y2 = np.minimum(a[:, None, 3], b[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def detection_boxes(detections: Candidates) -> np.ndarray:
    """(N, 4) x0, y0, x1, y1: the predicted boxes when the detections carry them, else radius squares."""
    if isinstance(detections, Detections) and detections.boxes is not None:
        return detections.boxes
    xyr = detections.xyr
    return np.column_stack([xyr[:, 0] - xyr[:, 2], xyr[:, 1] - xyr[:, 2], xyr[:, 0] + xyr[:, 2], xyr[:, 1] + xyr[:, 2]])


def _image_boxes(result: ImageResult, box_size: float, max_detections: int | None
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Kept detection boxes (score order) with scores, and kept target boxes."""
    annotation, dets = result.annotation, result.detections
    polygons = [np.asarray(r.contour, dtype=np.float64).reshape(-1, 2) for r in annotation.ignore]
    keep = ~inside_any(dets.xyr[:, :2], polygons)
    boxes, score = detection_boxes(dets)[keep], dets.score[keep]
    order = np.argsort(-score, kind="mergesort")[:max_detections]
    det_boxes, score = boxes[order], score[order]
    centres = np.array([[t.x, t.y] for t in annotation.targets], dtype=np.float64).reshape(-1, 2)
    centres = centres[~inside_any(centres, polygons)]
    half = box_size / 2
    gt_boxes = np.column_stack([centres - half, centres + half])
    return det_boxes.reshape(-1, 4), score, gt_boxes.reshape(-1, 4)


def _match_image(det_boxes: np.ndarray, gt_boxes: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(T, D) whether each detection (score order) is a TP at each IoU threshold (greedy, COCO)."""
    matched = np.zeros((len(thresholds), len(det_boxes)), bool)
    if len(det_boxes) == 0 or len(gt_boxes) == 0:
        return matched
    ious = box_iou(det_boxes, gt_boxes)
    taken = np.zeros((len(thresholds), len(gt_boxes)), bool)
    rows = np.arange(len(thresholds))
    for d in np.flatnonzero(ious.max(axis=1) >= thresholds.min()):  # the others miss at every threshold
        options = np.where((ious[d][None, :] >= thresholds[:, None]) & ~taken, ious[d][None, :], -1.0)
        # the highest IoU wins; among equal IoUs the last target, as in pycocotools
        best = options.shape[1] - 1 - np.argmax(options[:, ::-1], axis=1)
        ok = options[rows, best] >= 0
        taken[rows[ok], best[ok]] = True
        matched[ok, d] = True
    return matched


def box_metrics(results: Sequence[ImageResult], box_size: float = STUDY_BOX_PX,
                max_detections: int | None = 100) -> dict[str, Any]:
    """``ap50`` (AP at IoU 0.5), ``ar`` (mean recall over IoU 0.5:0.95) and ``recall_at_iou`` (JSON-ready)."""
    scores, tps = [np.zeros(0)], [np.zeros((len(IOU_THRESHOLDS), 0), bool)]
    n_targets = 0
    kinds = {"predicted" if isinstance(r.detections, Detections) and r.detections.boxes is not None else "squares"
             for r in results if len(r.detections)}
    for result in results:
        det_boxes, score, gt_boxes = _image_boxes(result, box_size, max_detections)
        scores.append(score)
        tps.append(_match_image(det_boxes, gt_boxes, IOU_THRESHOLDS))
        n_targets += len(gt_boxes)
    score = np.concatenate(scores)
    tp = np.concatenate(tps, axis=1)[:, np.argsort(-score, kind="mergesort")]
    out: dict[str, Any] = {"targets": n_targets, "detections": len(score), "box_size_px": box_size,
                           "max_detections": max_detections,
                           "detection_boxes": kinds.pop() if len(kinds) == 1 else "mixed" if kinds else "squares"}
    if n_targets == 0:
        return out | {"ap50": None, "ar": None, "recall_at_iou": None}
    tp_sum = np.cumsum(tp, axis=1, dtype=np.float64)
    fp_sum = np.cumsum(~tp, axis=1, dtype=np.float64)
    recall = tp_sum / n_targets
    precision = tp_sum / (tp_sum + fp_sum + np.spacing(1))
    final_recall = recall[:, -1] if len(score) else np.zeros(len(IOU_THRESHOLDS))
    out["recall_at_iou"] = {f"{t:.2f}": float(r) for t, r in zip(IOU_THRESHOLDS, final_recall, strict=True)}
    out["ar"] = float(final_recall.mean())
    out["ap50"] = _interpolated_ap(recall[0], precision[0])
    return out


def _interpolated_ap(recall: np.ndarray, precision: np.ndarray) -> float:
    """Mean over the 101 recall levels of the best precision at that recall or beyond."""
    if len(recall) == 0:
        return 0.0
    envelope = np.maximum.accumulate(precision[::-1])[::-1]
    index = np.searchsorted(recall, RECALL_LEVELS, side="left")
    values = np.where(index < len(recall), envelope[np.minimum(index, len(recall) - 1)], 0.0)
    return float(values.mean())
