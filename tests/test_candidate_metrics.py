"""Candidate metrics on hand-computed cases."""

import json

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, IgnoreRegion, ImageResult, Target
from calcdet_core.evaluation import candidate_metrics


def cands(image_id, *xy):
    arr = np.array(xy, float).reshape(-1, 2)
    return Candidates.from_columns(arr[:, 0], arr[:, 1], np.full(len(arr), 3.0), np.zeros(len(arr)), image_id)


def test_hand_computed_pool():
    two = Annotation(targets=(Target(10.0, 10.0), Target(100.0, 100.0)))
    results = [
        # three candidates on target 0 count once; target 1 missed; two FPs
        ImageResult("a", cands("a", (10, 10), (12, 10), (10, 13), (50, 50), (60, 60)), two, seconds=2.0),
        # both targets reached, one FP: FPpTPpI = 0.5
        ImageResult("b", cands("b", (10, 10), (101, 99), (200, 200)), two, seconds=4.0),
        # a normal image with four FPs, time unknown
        ImageResult("c", cands("c", (1, 1), (20, 20), (40, 40), (80, 80)), Annotation()),
    ]
    m = candidate_metrics(results)
    json.dumps(m, allow_nan=False)
    assert (m["images"], m["targets"], m["detected"], m["candidates"], m["fp"]) == (3, 4, 3, 12, 7)
    assert m["sensitivity"] == pytest.approx(0.75)
    assert m["mean_image_sensitivity"] == pytest.approx((0.5 + 1.0) / 2)
    assert m["fp_per_image"] == pytest.approx(7 / 3)
    assert [r["fp_per_tp"] for r in m["per_image"]] == [2.0, 0.5, None]
    assert m["fp_per_tp_per_image"] == pytest.approx(1.25)
    assert m["fp_per_tp_per_image_median"] == pytest.approx(1.25)
    assert m["seconds_per_image"] == pytest.approx(3.0)
    assert m["per_image"][2]["sensitivity"] is None and m["per_image"][2]["seconds"] is None


def test_ignore_regions_forgive_candidates_but_keep_annotated_targets():
    square = np.array([[0, 0], [30, 0], [30, 30], [0, 30]], float)
    truth = Annotation(targets=(Target(10.0, 10.0), Target(100.0, 100.0)), ignore=(IgnoreRegion(square),))
    # (25, 25) touches nothing inside the region: neither TP nor FP; the target at (10, 10) is missed.
    m = candidate_metrics([ImageResult("a", cands("a", (25, 25), (100, 103)), truth)])
    assert (m["targets"], m["detected"], m["fp"]) == (2, 1, 0)


def test_empty_inputs():
    m = candidate_metrics([])
    assert m["images"] == 0 and m["sensitivity"] is None and m["fp_per_image"] is None
    m = candidate_metrics([ImageResult("a", Candidates.empty("a"), Annotation(targets=(Target(1.0, 1.0),)))])
    assert m["sensitivity"] == 0.0 and m["fp_per_tp_per_image"] is None and m["images_without_detected_target"] == 1
