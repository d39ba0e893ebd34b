"""Cluster matching on hand-made cases and the cluster FROC against a hand-computed one."""

import json

import numpy as np
import pytest
from calcdet_clusters.evaluator import ClusterFrocEvaluator
from calcdet_clusters.grouping import find_clusters
from calcdet_clusters.matching import DROPPED, FP, TP, match_clusters

from calcdet_core.api import Annotation, Detections, ImageResult, Target
from calcdet_core.testing import parametrize_with_checks

TRIANGLE = np.array([[50.0, 50.0], [55.0, 50.0], [50.0, 55.0]])


def clusters(xy, scores=None):
    xy = np.asarray(xy, float)
    return find_clusters(xy, scores, (0.1, 0.1), distance_mm=1.0), xy


def test_a_hull_holding_one_mc_finds_the_truth_cluster_and_a_grazing_one_does_not():
    truth, truth_xy = clusters(TRIANGLE)
    # a big detected triangle whose hull holds MC (50, 50) only (x + y <= 101)
    holds, holds_xy = clusters([[45.0, 45.0], [45.0, 56.0], [56.0, 45.0], [45.0, 48.0], [48.0, 45.0]])
    assert match_clusters(holds, holds_xy, truth, truth_xy, tolerance_px=0).status.tolist() == [TP]
    # a detected cluster 9 px right of the truth hull: no MC within 0 px, but within 9 px
    beside, beside_xy = clusters([[64.0, 50.0], [64.0, 56.0], [70.0, 53.0]])
    assert match_clusters(beside, beside_xy, truth, truth_xy, tolerance_px=7).status.tolist() == [FP]
    m = match_clusters(beside, beside_xy, truth, truth_xy, tolerance_px=9)
    assert m.status.tolist() == [TP] and m.hit_score.tolist() == [1.0]


def test_each_truth_cluster_once_at_the_highest_score_and_the_others_neither():
    truth, truth_xy = clusters(TRIANGLE)
    # three detected clusters (6 px links)
    xy = np.r_[TRIANGLE + 1, TRIANGLE + np.array([0, 12]), TRIANGLE + np.array([0, 25])]
    detected = find_clusters(xy, np.repeat([0.2, 0.9, 0.1], 3), (0.1, 0.1), distance_mm=0.6)
    assert [c.score for c in detected] == [0.9, 0.2, 0.1]
    m = match_clusters(detected, xy, truth, truth_xy, tolerance_px=7)
    # 0.9's hull is 7 px below MC (50, 55): TP; 0.2 on the truth: taken; 0.1 is 20 px below: FP
    assert m.status.tolist() == [TP, DROPPED, FP] and m.hit_score.tolist() == [0.9]


def test_isolated_mcs_and_ignore_regions_make_a_detected_cluster_neither():
    truth_xy = np.array([[50.0, 50.0]])  # one MC: no truth cluster
    truth = find_clusters(truth_xy, None, (0.1, 0.1), 1.0)
    detected, det_xy = clusters(TRIANGLE)
    assert truth == [] and match_clusters(detected, det_xy, truth, truth_xy).status.tolist() == [DROPPED]
    outline = np.array([[40.0, 40.0], [60.0, 40.0], [60.0, 60.0], [40.0, 60.0]])
    assert match_clusters(detected, det_xy, [], np.zeros((0, 2)), [outline]).status.tolist() == [DROPPED]
    assert match_clusters(detected, det_xy, [], np.zeros((0, 2)), [outline + 100]).status.tolist() == [FP]


def det(xy, scores, image_id):
    xy = np.asarray(xy, float).reshape(-1, 2)
    return Detections.from_columns(xy[:, 0], xy[:, 1], np.full(len(xy), 3.0), np.asarray(scores, float), image_id)


def truth(xy):
    return Annotation(targets=tuple(Target(float(x), float(y)) for x, y in xy))


def hand_case():
    """A: truth cluster found at 0.8, FP cluster 0.7; B normal: FP cluster 0.6; C: truth cluster found at 0.5."""
    far = TRIANGLE + 100
    return [ImageResult("A", det(np.r_[TRIANGLE + 1, far], [0.8, 0.3, 0.2, 0.7, 0.7, 0.7], "A"), truth(TRIANGLE)),
            ImageResult("B", det(far, [0.6, 0.1, 0.1], "B"), Annotation()),
            ImageResult("C", det(TRIANGLE - 1, [0.5, 0.5, 0.4], "C"), truth(TRIANGLE))]


def test_cluster_froc_against_the_hand_computed_case(tmp_path):
    evaluator = ClusterFrocEvaluator(pixel_spacing_mm=(0.1, 0.1), distance_mm=1.0, bootstrap_resamples=50)
    m = evaluator.metrics(evaluator.compute(hand_case()))
    assert (m["truth_clusters"], m["truth_clusters_found"], m["detected_clusters"]) == (2, 2, 4)
    assert (m["fp_clusters"], m["fp_clusters_on_normal_images"], m["normal_images"]) == (2, 1, 1)
    # per normal image: 0.8 -> (0, 1/2); 0.6 -> (1, 1/2); 0.5 -> (1, 1): area 0.5 + 1 over [0, 2]
    assert m["auc_per_normal_image"] == pytest.approx(0.75)
    assert m["sensitivity_at_per_normal_image"] == {"0.25": 0.5, "0.5": 0.5, "1": 1.0, "2": 1.0}
    # per image: 0.8 -> (0, 1/2); 0.7 -> (1/3, 1/2); 0.6 -> (2/3, 1/2); 0.5 -> (2/3, 1): area 1/3 + 4/3 over [0, 2]
    assert m["auc_per_image"] == pytest.approx(5 / 6)
    assert m["sensitivity_at_per_image"]["1"] == 1.0 and m["sensitivity_at_per_image"]["0.5"] == 0.5
    assert m["pixel_spacing"] == "given" and m["bootstrap"]["resamples"] == 50
    lo, hi = m["auc_per_normal_image_ci95"]
    assert lo is None or lo <= hi


def test_report_files_with_the_spacing_unknown(tmp_path):
    # 10 px apart is 0.7 mm at the assumed 70 um: linked at 1 mm
    evaluator = ClusterFrocEvaluator(distance_mm=1.0, bootstrap_resamples=20)
    computed = evaluator.compute(hand_case())
    cluster = evaluator.metrics(computed)
    assert json.loads(json.dumps(cluster, allow_nan=False)) == cluster, "JSON-ready"
    assert cluster["pixel_spacing"] == "unknown: 70 um assumed"
    assert cluster["pixel_spacing_mm"] == [[0.07, 0.07]] and cluster["auc_per_normal_image"] == pytest.approx(0.75)
    files = evaluator.write_report(cluster, computed, tmp_path)
    assert [f.name for f in files] == ["cluster_froc.csv", "clusters.csv", "cluster_froc.png"]
    assert all(f.stat().st_size > 0 for f in files)
    rows = (tmp_path / "clusters.csv").read_text().splitlines()
    assert rows[0] == "image_id,cluster,count,score,status,hull_xy" and len(rows) == 5


def test_registered_through_the_entry_point():
    from importlib.metadata import entry_points

    from calcdet_clusters.plugin import calcdet_register_evaluators

    (entry,) = [e for e in entry_points(group="calcdet") if e.name == "clusters"]
    assert entry.value == "calcdet_clusters.plugin" and calcdet_register_evaluators() == [ClusterFrocEvaluator]


@parametrize_with_checks([ClusterFrocEvaluator(bootstrap_resamples=10)])
def test_conformance(component, check):
    check(component)


def test_calcdet_compare_lists_the_cluster_aucs(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    metrics = {"froc": {"auc": 0.5, "auc_ci95": [0.4, 0.6], "sensitivity_at": {"1": 0.5}, "max_fppi": 50,
                        "crediting": "strict"},
               "cluster-froc": {"auc_per_normal_image": 0.75, "auc_per_image": 0.8, "auc_per_image_ci95": [0, 1]}}
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.json").write_text(json.dumps(metrics))
    (run / "froc.csv").write_text("fppi,sensitivity,ci95_low,ci95_high\n0,0,,\n50,0.5,,\n")
    calcdet = Path(sys.executable).parent / "calcdet"
    done = subprocess.run([calcdet, "compare", run, "--out", tmp_path / "c"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "strict" in done.stdout
    summary = json.loads((tmp_path / "c" / "compare.json").read_text())["runs"][0]
    assert summary["other_auc"] == {"cluster-froc.auc_per_normal_image": 0.75, "cluster-froc.auc_per_image": 0.8}
    assert "cluster-froc.auc_per_image" in (tmp_path / "c" / "compare.csv").read_text()


def with_spacing(results, spacings):
    from dataclasses import replace

    return [replace(r, spacing_mm=s) for r, s in zip(results, spacings, strict=True)]


def test_each_image_is_clustered_at_its_own_spacing_and_the_config_overrides_it():
    evaluator = ClusterFrocEvaluator(distance_mm=1.0, bootstrap_resamples=0)
    own = evaluator.metrics(evaluator.compute(with_spacing(hand_case(), [(0.1, 0.1)] * 3)))
    assert own["pixel_spacing"] == "from the images" and own["pixel_spacing_mm"] == [[0.1, 0.1]]
    assert (own["truth_clusters"], own["detected_clusters"]) == (2, 4)
    # C at 0.5 mm: its MCs (5 px apart) are 2.5 mm apart, no cluster there; A and B unchanged
    coarse = with_spacing(hand_case(), [(0.1, 0.1), (0.1, 0.1), (0.5, 0.5)])
    m = evaluator.metrics(evaluator.compute(coarse))
    assert (m["truth_clusters"], m["detected_clusters"]) == (1, 3)
    assert m["pixel_spacing_mm"] == [[0.1, 0.1], [0.5, 0.5]]
    overridden = ClusterFrocEvaluator(distance_mm=1.0, bootstrap_resamples=0, pixel_spacing_mm=(0.1, 0.1))
    m = overridden.metrics(overridden.compute(coarse))
    assert (m["truth_clusters"], m["detected_clusters"], m["pixel_spacing"]) == (2, 4, "given")
    # B without a spacing: 70 um assumed for it alone (10 px = 0.7 mm still links at 1 mm), and said so
    mixed = evaluator.metrics(evaluator.compute(with_spacing(hand_case(), [(0.1, 0.1), None, (0.5, 0.5)])))
    assert mixed["pixel_spacing"] == "from the images; unknown for 1 of 3: 70 um assumed for those"
    assert mixed["detected_clusters"] == 3 and mixed["pixel_spacing_mm"] == [[0.07, 0.07], [0.1, 0.1], [0.5, 0.5]]


def test_score_reads_each_images_dicom_spacing_and_the_report_shows_the_cluster_figure(tmp_path):
    import base64
    import subprocess
    import sys
    from pathlib import Path

    import pydicom

    calcdet = Path(sys.executable).parent / "calcdet"
    release = tmp_path / "release"
    done = subprocess.run([calcdet, "phantom", release, "--images", "4", "--height", "256", "--width", "192"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, second = sorted((release / "AllDICOMs").glob("*.dcm"))[:2]
    ds = pydicom.dcmread(first)  # 0.1 mm, stated as PixelSpacing
    del ds.ImagerPixelSpacing
    ds.PixelSpacing = ["0.1", "0.1"]
    ds.save_as(first)
    ds = pydicom.dcmread(second)  # no spacing at all
    del ds.ImagerPixelSpacing
    ds.save_as(second)
    detections = tmp_path / "d.csv"
    detections.write_text("image_id,x,y,radius,score\n")
    out = tmp_path / "scored"
    done = subprocess.run([calcdet, "score", detections, "--dataset", "inbreast", "--root", release, "--out", out,
                           "-e", "froc", "-e", "cluster-froc"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    cluster = json.loads((out / "metrics.json").read_text())["cluster-froc"]
    assert cluster["pixel_spacing"] == "from the images; unknown for 1 of 4: 70 um assumed for those"
    assert cluster["pixel_spacing_mm"] == [[0.07, 0.07], [0.1, 0.1]]
    page = (out / "report.html").read_text()
    figure = base64.b64encode((out / "cluster_froc.png").read_bytes()).decode("ascii")
    assert f"alt='cluster-froc figure cluster_froc.png' src='data:image/png;base64,{figure}'" in page
    assert page.index("<h2>cluster-froc</h2>") < page.index(figure)
    froc = base64.b64encode((out / "froc.png").read_bytes()).decode("ascii")
    assert page.count(froc) == 1, "the FROC plot leads the report once, not again under its metrics"


def test_clusters_are_formed_at_an_operating_point_not_from_every_candidate():
    def run(**params):
        evaluator = ClusterFrocEvaluator(pixel_spacing_mm=(0.1, 0.1), distance_mm=1.0, bootstrap_resamples=0, **params)
        return evaluator.metrics(evaluator.compute(hand_case()))

    # the default (10 per normal image) keeps all of the hand case: B holds 3
    m = run()
    assert (m["detection_threshold"], m["detections_clustered"], m["detected_clusters"]) == (None, 12, 4)
    assert m["clustered"] == "all detections (at most 10 per normal image already)"
    # 1 per normal image: B keeps its 0.6 alone (above 0.1), so B's FP cluster is gone; A and C keep theirs
    m = run(detections_per_normal_image=1.0)
    assert m["detection_threshold"] == np.nextafter(0.1, 1) and m["detections_clustered"] == 10
    assert (m["detected_clusters"], m["fp_clusters"], m["fp_clusters_on_normal_images"]) == (3, 1, 0)
    assert m["truth_clusters_found"] == 2 and m["auc_per_normal_image"] == pytest.approx(1.0)
    # min_score wins: A keeps 0.8 and its far 0.7s (an FP cluster), B its 0.6, C its two 0.5s (no cluster)
    m = run(min_score=0.45, detections_per_normal_image=1.0)
    assert (m["detection_threshold"], m["detections_clustered"], m["detected_clusters"]) == (0.45, 7, 1)
    assert (m["truth_clusters_found"], m["fp_clusters"], m["clustered"]) == (
        0, 1, "detections scoring at least min_score 0.45")
    m = run(detections_per_normal_image=None)
    assert (m["clustered"], m["detections_clustered"]) == ("all detections", 12)
