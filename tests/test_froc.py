"""FROC on hand-computed cases and edge cases."""

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, IgnoreRegion, ImageResult, Target
from calcdet_core.evaluation.froc import FrocCounts, froc_data, froc_point_estimate, operating_points
from calcdet_core.evaluation.synthetic import synthetic_results as random_results


def dets(image_id, *rows):
    """Detections from (x, y, score) rows."""
    arr = np.array(rows, float).reshape(-1, 3)
    return Candidates.from_columns(arr[:, 0], arr[:, 1], np.full(len(arr), 3.0), arr[:, 2], image_id)


def tumour(*xy):
    return Annotation(targets=tuple(Target(float(x), float(y)) for x, y in xy))


def sloped_case():
    """One normal image with FPs at 0.9 and 0.5; two targets reached at 0.5 and 0.2.

    Operating points: (0, 0), (1, 0) at 0.9, (2, 0.5) at 0.5 (FP and TP tie), (2, 1) at 0.2.
    Area over [0, 50]: 0.25 under the slope, 48 after it; AUC = 48.25 / 50.
    """
    return [
        ImageResult("n1", dets("n1", (10, 10, 0.9), (50, 50, 0.5)), Annotation()),
        ImageResult("a", dets("a", (10, 10, 0.5), (100, 101, 0.2), (300, 300, 0.99)), tumour((10, 10), (100, 100))),
    ]


def test_operating_points_hand_computed():
    thresholds, fppi, sens = operating_points(froc_data(sloped_case()))
    assert thresholds.tolist() == [np.inf, 0.9, 0.5, 0.2]  # the FP at 0.99 is on an image with MCs: not counted
    assert fppi.tolist() == [0, 1, 2, 2]
    assert sens.tolist() == [0, 0, 0.5, 1]


def test_auc_and_sensitivity_at_hand_computed():
    est = froc_point_estimate(froc_data(sloped_case()), fppi_at=(0.5, 1, 1.5, 2, 50))
    assert est["auc"] == pytest.approx(48.25 / 50)
    assert est["sensitivity_at"] == pytest.approx({"0.5": 0, "1": 0, "1.5": 0.25, "2": 1.0, "50": 1.0})
    lines = FrocCounts(froc_data(sloped_case())).polylines(np.ones((1, 2)))
    assert lines.auc(1.5)[0] == pytest.approx(0.5 * 0.25 / 2 / 1.5)


def test_fps_are_divided_by_normal_images_only():
    results = [
        ImageResult("a", dets("a", (10, 10, 0.9)), tumour((10, 10), (100, 100))),
        ImageResult("n1", dets("n1", (1, 1, 0.7), (5, 5, 0.3)), Annotation()),
        ImageResult("n2", dets("n2", (1, 1, 0.5)), Annotation()),
    ]
    _, fppi, sens = operating_points(froc_data(results))
    assert fppi.tolist() == [0, 0, 0.5, 1.0, 1.5] and sens.tolist() == [0, 0.5, 0.5, 0.5, 0.5]
    assert froc_point_estimate(froc_data(results))["auc"] == pytest.approx(0.5)


def test_more_than_fifty_fppi_is_cut():
    n = 120  # one normal image with 120 FPs above the only TP: the TP comes at 120 FPPI
    fps = [(i * 5.0, 500.0, 0.9) for i in range(n)]
    results = [ImageResult("n", dets("n", *fps), Annotation()),
               ImageResult("a", dets("a", (10, 10, 0.1)), tumour((10, 10)))]
    est = froc_point_estimate(froc_data(results))
    assert est["auc"] == 0.0 and est["sensitivity_at"]["50"] == 0.0


def test_edge_cases_no_detections_no_normal_no_targets():
    nothing = [ImageResult("n", Candidates.empty("n"), Annotation()),
               ImageResult("a", Candidates.empty("a"), tumour((10, 10)))]
    est = froc_point_estimate(froc_data(nothing))
    assert est["auc"] == 0.0 and set(est["sensitivity_at"].values()) == {0.0}
    no_normal = [ImageResult("a", dets("a", (10, 10, 0.5)), tumour((10, 10)))]
    est = froc_point_estimate(froc_data(no_normal))
    assert est["auc"] is None and set(est["sensitivity_at"].values()) == {None}
    no_target = [ImageResult("n", dets("n", (10, 10, 0.5)), Annotation())]
    assert froc_point_estimate(froc_data(no_target))["auc"] is None
    assert froc_point_estimate(froc_data([]))["auc"] is None


def test_perfect_detector_has_auc_one():
    results = [ImageResult("n", Candidates.empty("n"), Annotation()),
               ImageResult("a", dets("a", (10, 10, 0.5), (40, 40, 0.4)), tumour((10, 10), (40, 41)))]
    assert froc_point_estimate(froc_data(results))["auc"] == pytest.approx(1.0)


def test_detections_in_ignore_regions_and_tied_scores():
    square = np.array([[0, 0], [30, 0], [30, 30], [0, 30]], float)
    results = [
        # normal image: an FP inside its ignore region does not count
        ImageResult("n", dets("n", (10, 10, 0.9), (100, 100, 0.5)), Annotation(ignore=(IgnoreRegion(square),))),
        # tied scores on one target count it once
        ImageResult("a", dets("a", (50, 50, 0.5), (51, 50, 0.5)), tumour((50, 50))),
    ]
    thresholds, fppi, sens = operating_points(froc_data(results))
    assert thresholds.tolist() == [np.inf, 0.5] and fppi.tolist() == [0, 1] and sens.tolist() == [0, 1]
    inside = [ImageResult("b", Candidates.empty("b"), Annotation(targets=(Target(5.0, 5.0),),
                                                                 ignore=(IgnoreRegion(square),)))]
    assert froc_data(results + inside).n_targets == 2  # an annotated MC counts even inside an ignore region
    assert froc_point_estimate(froc_data(results))["auc"] == pytest.approx((0.5 + 49) / 50)


def test_duplicate_image_ids_are_refused():
    with pytest.raises(ValueError, match="repeated: x"):
        froc_data([ImageResult("x", Candidates.empty(), Annotation())] * 2)


@pytest.mark.parametrize("seed", range(4))
def test_weighted_counts_equal_explicitly_duplicated_images(seed):
    """A bootstrap weight of w must give the FROC of the data set holding that image w times."""
    results = random_results(seed=seed)
    rng = np.random.default_rng(100 + seed)
    weights = rng.integers(0, 4, len(results))
    copies = [ImageResult(f"{r.image_id}#{c}", r.detections, r.annotation)
              for r, w in zip(results, weights, strict=True) for c in range(w)]
    expected = froc_point_estimate(froc_data(copies), fppi_at=(0.3, 1, 2.5, 7, 50), max_fppi=10)
    lines = FrocCounts(froc_data(results)).polylines(weights[None, :])
    assert lines.auc(10)[0] == pytest.approx(expected["auc"], abs=1e-12)
    np.testing.assert_allclose(lines.sensitivity_at((0.3, 1, 2.5, 7, 50))[0],
                               list(expected["sensitivity_at"].values()), atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_polyline_agrees_with_operating_points(seed):
    """The compact polyline passes through every exact operating point."""
    data = froc_data(random_results(seed=seed))
    _, fppi, sens = operating_points(data)
    lines = FrocCounts(data).polylines(np.ones((1, data.n_images)))
    # at an FPPI where the curve is not vertical, the interpolated sensitivity equals the highest point there
    for x in np.unique(fppi):
        assert lines.sensitivity_at([x])[0, 0] == pytest.approx(sens[fppi == x].max())
