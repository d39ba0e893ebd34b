"""Our metrics against independent implementations on the same inputs: MONAI, pycocotools, scikit-learn."""

import contextlib
import io

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, ImageResult, Target
from calcdet_core.evaluation.boxes import box_metrics
from calcdet_core.evaluation.classification import auprc, auroc
from calcdet_core.evaluation.froc import FrocCounts, froc_data, operating_points

monai_froc = pytest.importorskip("monai.metrics")
coco = pytest.importorskip("pycocotools.coco")
cocoeval = pytest.importorskip("pycocotools.cocoeval")
sk_metrics = pytest.importorskip("sklearn.metrics")


def disc_images(seed, n_images=16, n_normal=6, size=96):
    """Images with well separated point targets; detections on whole pixels; scores in 1/64 steps."""
    rng = np.random.default_rng(seed)
    results, masks = [], []
    yy, xx = np.mgrid[:size, :size]
    for i in range(n_images):
        targets = []
        if i >= n_normal:
            for _ in range(rng.integers(1, 4)):
                c = rng.integers(10, size - 10, 2).astype(float)
                if all(np.hypot(*(c - [t.x, t.y])) > 16 for t in targets):
                    targets.append(Target(float(c[0]), float(c[1])))
        k = int(rng.integers(0, 25))
        xy = rng.integers(0, size, (k, 2)).astype(float)
        if targets:
            centres = np.array([[t.x, t.y] for t in targets])[rng.integers(0, len(targets), k // 2)]
            xy[: k // 2] = np.clip(np.rint(centres + rng.normal(0, 5, centres.shape)), 0, size - 1)
        score = (rng.integers(0, 64, k) + 0.5) / 64  # exact in float32; ties happen
        # MONAI's rule is "the detection pixel lies in the target's label": paint each target's 14 px disc
        mask = np.zeros((size, size), np.int32)
        for j, t in enumerate(targets):
            mask[np.hypot(xx - t.x, yy - t.y) <= 7.0] = j + 1
        results.append(ImageResult(f"i{i}", Candidates.from_columns(xy[:, 0], xy[:, 1], np.ones(k), score),
                                   Annotation(targets=tuple(targets))))
        masks.append(mask)
    return results, masks


@pytest.mark.parametrize("seed", range(4))
def test_froc_points_equal_monai(seed):
    results, masks = disc_images(seed)
    fp_probs, tp_probs, num_targets = [], [], 0
    for r, mask in zip(results, masks, strict=True):
        fp, tp, n = monai_froc.compute_fp_tp_probs(r.detections.score, r.detections.y.astype(int),
                                                   r.detections.x.astype(int), mask)
        if r.is_normal:
            fp_probs.append(fp)
        tp_probs.append(tp)
        num_targets += n
    fp_probs, tp_probs = np.concatenate(fp_probs).astype(np.float64), np.concatenate(tp_probs).astype(np.float64)
    assert (tp_probs == 0).any(), "the case needs a missed target (MONAI drops its lowest threshold)"
    n_normal = sum(r.is_normal for r in results)
    fps, sens = monai_froc.compute_froc_curve_data(fp_probs, tp_probs, num_targets, n_normal)

    data = froc_data(results)
    assert data.n_targets == num_targets
    _, our_fppi, our_sens = operating_points(data)
    # MONAI lists thresholds ascending and ends with (0, 0); ours descend from (0, 0)
    np.testing.assert_allclose(our_fppi, fps[::-1], atol=1e-12)
    np.testing.assert_allclose(our_sens, sens[::-1], atol=1e-12)

    # sensitivity at FP rates that are not a multiple of 1 / n_normal (where the curve may be vertical)
    queries = (0.07, 0.55, 1.1, 2.9, 4.45)
    ours = FrocCounts(data).polylines(np.ones((1, data.n_images))).sensitivity_at(queries)[0]
    theirs = [monai_froc.compute_froc_score(fps, sens, (q,)) for q in queries]
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


def coco_eval(results, box_size, max_dets):
    images = [{"id": i + 1} for i in range(len(results))]
    annotations, detections = [], []
    for i, r in enumerate(results):
        for t in r.annotation.targets:
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": 1, "iscrowd": 0,
                                "bbox": [t.x - box_size / 2, t.y - box_size / 2, box_size, box_size],
                                "area": box_size**2})
        for (x, y, rad), s in zip(r.detections.xyr, r.detections.score, strict=True):
            detections.append({"image_id": i + 1, "category_id": 1, "score": float(s),
                               "bbox": [x - rad, y - rad, 2 * rad, 2 * rad]})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = coco.COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "mc"}]}
        gt.createIndex()
        dt = gt.loadRes(detections) if detections else coco.COCO()
        ev = cocoeval.COCOeval(gt, dt, "bbox")
        ev.params.maxDets = [max_dets]
        ev.evaluate()
        ev.accumulate()
    precision = ev.eval["precision"][0, :, 0, 0, 0]
    recall = ev.eval["recall"][:, 0, 0, 0]
    return float(precision[precision > -1].mean()), float(recall.mean())


@pytest.mark.parametrize(("seed", "max_dets"), [(0, 100), (1, 100), (2, 5), (3, 1000)])
def test_box_ap_and_ar_equal_pycocotools(seed, max_dets):
    rng = np.random.default_rng(seed)
    results = []
    for i in range(12):
        targets = tuple(Target(*rng.uniform(20, 180, 2)) for _ in range(rng.integers(0, 5)))
        k = int(rng.integers(0, 15))
        xy = rng.uniform(0, 200, (k, 2))
        if targets:
            centres = np.array([[t.x, t.y] for t in targets])[rng.integers(0, len(targets), k // 2)]
            xy[: k // 2] = centres + rng.normal(0, 2.5, centres.shape)
        radius = rng.uniform(4, 9, k)
        results.append(ImageResult(f"i{i}", Candidates.from_columns(xy[:, 0], xy[:, 1], radius, rng.random(k)),
                                   Annotation(targets=targets)))
    ours = box_metrics(results, box_size=14.0, max_detections=max_dets)
    ap, ar = coco_eval(results, 14.0, max_dets)
    assert ours["ap50"] == pytest.approx(ap, abs=1e-12)
    assert ours["ar"] == pytest.approx(ar, abs=1e-12)
    assert ours["targets"] > 0 and 0 < ours["ap50"] < 1  # the case is not degenerate


@pytest.mark.parametrize("seed", range(5))
def test_auroc_auprc_equal_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    n = 500
    labels = (rng.random(n) < 0.05 + 0.1 * seed).astype(int)
    scores = np.round(rng.normal(size=n) + labels * 1.2, 1)  # many ties
    assert auroc(labels, scores) == pytest.approx(sk_metrics.roc_auc_score(labels, scores), abs=1e-12)
    assert auprc(labels, scores) == pytest.approx(sk_metrics.average_precision_score(labels, scores), abs=1e-12)
