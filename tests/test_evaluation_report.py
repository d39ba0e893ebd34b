"""evaluate_results: metrics.json, CSVs, plots and a self-contained HTML report; evaluator conformance."""

import csv
import json
import re

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, ImageResult, Target
from calcdet_core.evaluation import evaluate_results
from calcdet_core.evaluation.evaluators import (
    BUILTIN_EVALUATORS,
    BoxEvaluator,
    CandidatesEvaluator,
    FrocEvaluator,
)
from calcdet_core.evaluation.synthetic import synthetic_results
from calcdet_core.plugins.registry import build_registry
from calcdet_core.testing import add_disks, parametrize_with_checks, textured_background


@parametrize_with_checks([cls() for cls in BUILTIN_EVALUATORS])
def test_conformance(component, check):
    check(component)


def test_builtin_evaluators_are_registered():
    registry = build_registry(autoload=False)
    names = {e.name for e in registry.entries if e.kind == "evaluators" and e.error is None}
    assert {"froc", "candidates", "classification", "box-ap"} <= names


def pictures(results):
    """Stored-grid pixels with a bright disk on every target, so overlays have something to show."""
    images = {}
    for i, r in enumerate(results):
        disks = [(t.x, t.y, 3.0, 0.3) for t in r.annotation.targets]
        images[r.image_id] = add_disks(textured_background((200, 200), seed=i), disks)
    return images


def test_report_files_metrics_and_self_contained_html(tmp_path):
    results = synthetic_results(n_images=24, n_normal=10, detections_per_image=15, seed=1)
    images = pictures(results)
    metrics = evaluate_results(results, tmp_path, seed=3, load_image=images.get)

    written = json.loads((tmp_path / "metrics.json").read_text())
    assert written == metrics
    assert (written["images"], written["normal_images"]) == (24, 10)
    assert written["targets"] == sum(len(r.annotation.targets) for r in results)
    froc = written["froc"]
    lo, hi = froc["auc_ci95"]
    assert 0 <= lo <= froc["auc"] <= hi <= 1
    assert list(froc["sensitivity_at"]) == ["0.5", "1", "2", "5", "10", "25", "50"]
    assert froc["bootstrap"]["seed"] == 3 and froc["bootstrap"]["resamples"] == 1000
    assert {"candidates", "classification"} <= set(written) and "box-ap" not in written

    with (tmp_path / "froc.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert float(rows[0]["fppi"]) == 0 and float(rows[-1]["fppi"]) == 50
    at_50 = float(rows[-1]["sensitivity"])
    assert at_50 == pytest.approx(froc["sensitivity_at"]["50"])
    assert all(float(r["ci95_low"]) <= float(r["ci95_high"]) for r in rows)

    page = (tmp_path / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2  # FROC and overlays, embedded
    assert not re.search(r"src=['\"](?!data:)", page), "the report must not link external files"
    assert f"{froc['auc']:.4f}" in page
    for name in ("froc.png", "froc_points.csv", "candidates.csv", "overlays.png"):
        assert (tmp_path / name).stat().st_size > 0


def test_report_without_pixels_or_normal_images(tmp_path):
    results = [ImageResult("a", Candidates.from_columns([10.0], [10.0], [3.0], [0.5], "a"),
                           Annotation(targets=(Target(10.0, 10.0),)))]
    metrics = evaluate_results(results, tmp_path, evaluators=[CandidatesEvaluator()])
    assert metrics["froc"]["auc"] is None and metrics["froc"]["auc_ci95"] == [None, None]
    assert metrics["candidates"]["sensitivity"] == 1.0
    page = (tmp_path / "report.html").read_text()
    assert "n/a" in page and page.count("data:image/png;base64,") == 1
    assert not (tmp_path / "overlays.png").exists()


def test_given_evaluators_and_their_parameters_are_used(tmp_path):
    results = synthetic_results(n_images=10, n_normal=4, seed=2)
    metrics = evaluate_results(results, tmp_path, evaluators=[FrocEvaluator(bootstrap_resamples=20, seed=5),
                                                              BoxEvaluator(max_detections=3)])
    assert metrics["froc"]["bootstrap"]["resamples"] == 20 and metrics["box-ap"]["max_detections"] == 3
    assert "candidates" not in metrics
    with pytest.raises(ValueError, match="once"):
        evaluate_results(results, tmp_path, evaluators=[FrocEvaluator(), FrocEvaluator()])


def test_overlays_draw_what_the_operating_point_keeps(tmp_path):
    # one normal image with a weak FP, one image with a strong TP and a missed target
    results = [
        ImageResult("n", Candidates.from_columns([50.0], [50.0], [3.0], [0.2], "n"), Annotation()),
        ImageResult("a", Candidates.from_columns([40.0], [40.0], [3.0], [0.9], "a"),
                    Annotation(targets=(Target(40.0, 40.0), Target(150.0, 150.0)))),
    ]
    from calcdet_core.evaluation.froc import froc_data
    from calcdet_core.evaluation.overlays import write_overlays

    images = {r.image_id: np.zeros((200, 200), np.float32) for r in results}
    path, threshold = write_overlays(results, froc_data(results), images.get, tmp_path / "o.png", fppi=0.5)
    assert threshold == 0.9  # the FP at 0.2 would make 1 FP per normal image
    assert path is not None and path.stat().st_size > 0
    path, threshold = write_overlays(results, froc_data(results), lambda _: None, tmp_path / "none.png")
    assert path is None and threshold == 0.2


def counting(monkeypatch, module, name, calls):
    """Replace ``module.name`` by a wrapper that counts its calls and calls through."""
    real = getattr(module, name)

    def wrapper(*args, **kwargs):
        calls[name] = calls.get(name, 0) + 1
        return real(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def test_a_report_computes_the_froc_and_its_bootstrap_once(tmp_path, monkeypatch):
    import sys

    results = synthetic_results(n_images=12, n_normal=5, detections_per_image=10, seed=4)
    images = pictures(results)
    calls: dict[str, int] = {}
    for module in [m for name, m in sys.modules.items() if name.startswith("calcdet_core.evaluation")]:
        for name in ("froc_data", "froc_point_estimate", "bootstrap_froc", "operating_points"):
            if hasattr(module, name):
                counting(monkeypatch, module, name, calls)
    evaluate_results(results, tmp_path, seed=2, load_image=images.get)
    # operating points: once for froc_points.csv, once for the overlays' threshold
    assert calls == {"froc_data": 1, "froc_point_estimate": 1, "bootstrap_froc": 1, "operating_points": 2}


def test_report_figures_are_those_of_the_evaluators_and_the_froc_functions(tmp_path):
    from calcdet_core.evaluation.bootstrap import bootstrap_froc
    from calcdet_core.evaluation.froc import CURVE_GRID, froc_data, froc_point_estimate
    from calcdet_core.evaluation.report import json_ready

    results = synthetic_results(n_images=16, n_normal=6, detections_per_image=12, seed=6)
    evaluators = [FrocEvaluator(bootstrap_resamples=200, seed=7, max_fppi=10), CandidatesEvaluator()]
    metrics = evaluate_results(results, tmp_path, evaluators=evaluators)
    assert metrics["froc"] == json_ready(FrocEvaluator(bootstrap_resamples=200, seed=7, max_fppi=10).evaluate(results))
    assert metrics["candidates"] == json_ready(CandidatesEvaluator().evaluate(results))

    data = froc_data(results)
    estimate = froc_point_estimate(data, max_fppi=10)
    boot = bootstrap_froc(data, 200, 7, max_fppi=10)
    assert metrics["froc"]["auc"] == estimate["auc"]
    assert metrics["froc"]["auc_ci95"] == boot.summary()["auc"]["ci"]
    with (tmp_path / "froc.csv").open() as f:
        rows = list(csv.DictReader(f))
    curve = estimate["lines"].sensitivity_at(CURVE_GRID)[0]
    mean, _, lo, hi = boot.band()
    assert [float(r["sensitivity"]) for r in rows] == curve.tolist()
    assert [float(r["bootstrap_mean"]) for r in rows] == mean.tolist()
    assert [float(r["ci95_low"]) for r in rows] == lo.tolist()
    assert [float(r["ci95_high"]) for r in rows] == hi.tolist()


def test_a_simple_evaluator_implements_metrics_only(tmp_path):
    from calcdet_core.contracts.components import Evaluator

    class Count(Evaluator):
        name = "count"

        def metrics(self, computed):
            return {"detections": int(sum(len(r.detections) for r in computed))}

    results = synthetic_results(n_images=4, n_normal=2, detections_per_image=3, seed=1)
    expected = {"detections": sum(len(r.detections) for r in results)}
    assert expected["detections"] > 0 and Count().evaluate(results) == expected
    metrics = evaluate_results(results, tmp_path, evaluators=[Count()])
    assert metrics["count"] == expected and "froc" in metrics
