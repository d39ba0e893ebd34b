"""The strict crediting rule (one target per detection, the nearest) beside the study's, which stays the default."""

import csv
import json

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, ImageResult, Target
from calcdet_core.evaluation import evaluate_results
from calcdet_core.evaluation.compare import compare_runs
from calcdet_core.evaluation.evaluators import FrocEvaluator
from calcdet_core.evaluation.froc import froc_data, froc_point_estimate
from calcdet_core.evaluation.matching import DROPPED, FP, TP, match_detections
from calcdet_core.evaluation.synthetic import synthetic_results


def dets(*rows: tuple[float, float, float], image_id: str = "img") -> Candidates:
    arr = np.array(rows, dtype=float).reshape(-1, 3)
    return Candidates.from_columns(arr[:, 0], arr[:, 1], np.full(len(arr), 3.0), arr[:, 2], image_id)


DENSE = Annotation(targets=(Target(50.0, 50.0), Target(54.0, 50.0), Target(50.0, 55.0)))
"""Three MCs within one 14 px disc: a dense cluster."""


def test_one_detection_in_a_dense_cluster_finds_all_under_the_study_rule_and_one_under_strict():
    one = dets((51.0, 50.0, 0.9))
    study = match_detections(one, DENSE)
    strict = match_detections(one, DENSE, crediting="strict")
    assert study.hit.tolist() == [True, True, True] and study.status.tolist() == [TP]
    assert strict.hit.tolist() == [True, False, False] and strict.status.tolist() == [TP]
    assert strict.target_of.tolist() == study.target_of.tolist() == [0]  # the nearest, either way


def test_strict_detection_whose_nearest_target_is_taken_is_neither_tp_nor_fp():
    two = dets((50.5, 50.0, 0.9), (51.0, 50.0, 0.4), (53.5, 50.0, 0.3), (90.0, 90.0, 0.8))
    m = match_detections(two, DENSE, crediting="strict")
    assert m.status.tolist() == [TP, DROPPED, TP, FP]
    assert m.hit.tolist() == [True, True, False] and m.hit_score[:2].tolist() == [0.9, 0.3]


def test_an_unknown_rule_is_refused():
    with pytest.raises(ValueError, match="crediting must be one of study, strict"):
        match_detections(dets((1.0, 1.0, 1.0)), DENSE, crediting="loose")


def dense_results() -> list[ImageResult]:
    return [ImageResult("cluster", dets((51.0, 50.0, 0.9), (80.0, 80.0, 0.5), image_id="cluster"), DENSE),
            ImageResult("normal", dets((10.0, 10.0, 0.7), image_id="normal"), Annotation())]


def test_froc_of_the_two_rules_by_hand():
    # study: 3/3 found at 0.9, the normal image's FP at 0.7 -> sensitivity 1 from FPPI 0
    assert froc_point_estimate(froc_data(dense_results()))["auc"] == pytest.approx(1.0)
    # strict: 1/3 found at 0.9 -> flat 1/3
    assert froc_point_estimate(froc_data(dense_results(), crediting="strict"))["auc"] == pytest.approx(1 / 3)


def test_study_figures_do_not_move_and_strict_is_never_above():
    results = synthetic_results(40, 10, 30, seed=3)
    study = froc_point_estimate(froc_data(results))
    assert study["auc"] == pytest.approx(0.6617012987012987, abs=1e-15)  # the figure before the strict rule existed
    assert study["sensitivity_at"]["10"] == pytest.approx(0.5021645021645021, abs=1e-15)
    explicit = froc_point_estimate(froc_data(results, crediting="study"))
    assert explicit["auc"] == study["auc"] and explicit["sensitivity_at"] == study["sensitivity_at"]
    strict = froc_point_estimate(froc_data(results, crediting="strict"))
    assert strict["auc"] < study["auc"]
    assert all(strict["sensitivity_at"][k] <= v for k, v in study["sensitivity_at"].items())


def test_sparse_targets_give_the_same_figures_under_both_rules():
    results = [ImageResult("a", dets((20.0, 20.0, 0.9), (70.0, 71.0, 0.3), (5.0, 90.0, 0.6), image_id="a"),
                           Annotation(targets=(Target(21.0, 20.0), Target(70.0, 70.0)))),
               ImageResult("n", dets((40.0, 40.0, 0.5), image_id="n"), Annotation())]
    assert froc_point_estimate(froc_data(results))["auc"] == froc_point_estimate(
        froc_data(results, crediting="strict"))["auc"]


def test_metrics_report_and_compare_name_the_rule(tmp_path):
    for rule in ("study", "strict"):
        metrics = evaluate_results(dense_results(), tmp_path / rule,
                                   [FrocEvaluator(crediting=rule, bootstrap_resamples=20)])
        assert metrics["froc"]["crediting"] == rule
        assert f"{rule} (a detection finds" in (tmp_path / rule / "report.html").read_text()
    assert FrocEvaluator().config.crediting == "study"
    summary = compare_runs([tmp_path / "study", tmp_path / "strict"], tmp_path / "c")
    assert [(r["crediting"], r["auc"]) for r in summary["runs"]] == [("study", 1.0), ("strict", pytest.approx(1 / 3))]
    with (tmp_path / "c" / "compare.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert [r["crediting"] for r in rows] == ["study", "strict"]
    # a run written before the rule existed has no "crediting": it was the study's
    old = json.loads((tmp_path / "study" / "metrics.json").read_text())
    del old["froc"]["crediting"]
    (tmp_path / "study" / "metrics.json").write_text(json.dumps(old))
    assert compare_runs([tmp_path / "study"], tmp_path / "c2")["runs"][0]["crediting"] == "study"
