"""Checks for evaluators: JSON-safe metrics, with or without detections, and the results left untouched."""

from __future__ import annotations

import copy
import json

import numpy as np

from calcdet_core.contracts.components import Evaluator
from calcdet_core.contracts.data import Annotation, Candidates, ImageResult, Target
from calcdet_core.testing._runtime import fresh, kit_check


def _toy_results() -> list[ImageResult]:
    target = Annotation(targets=(Target(20.0, 30.0, 4.0),))
    hit = Candidates.from_columns([21.0, 80.0], [30.0, 80.0], [3.0, 3.0], [0.9, 0.2], "a")
    fp = Candidates.from_columns([50.0], [50.0], [3.0], [0.5], "b")
    return [ImageResult("a", hit, target), ImageResult("b", fp, Annotation()),
            ImageResult("c", Candidates.empty("c"), Annotation())]


@kit_check
def check_evaluator_json_metrics(component: Evaluator) -> None:
    metrics = fresh(component).evaluate(_toy_results())
    assert isinstance(metrics, dict), "evaluate() should return a dict"
    json.dumps(metrics, allow_nan=False)


@kit_check
def check_evaluator_no_detections(component: Evaluator) -> None:
    empty = [ImageResult(r.image_id, Candidates.empty(r.image_id), r.annotation) for r in _toy_results()]
    json.dumps(fresh(component).evaluate(empty), allow_nan=False)


@kit_check
def check_evaluator_does_not_mutate(component: Evaluator) -> None:
    results = _toy_results()
    before = copy.deepcopy([(r.detections.xyr, r.detections.score) for r in results])
    fresh(component).evaluate(results)
    for (xyr, score), r in zip(before, results, strict=True):
        assert np.array_equal(xyr, r.detections.xyr) and np.array_equal(score, r.detections.score), (
            "evaluate() should not modify its input")

