"""Evaluation: candidate metrics, FROC with bootstrap intervals, classifier and box-detector metrics, reports.

The maths is numpy only. Plots (matplotlib) are imported lazily, when a report is written.
Every metric starts from :func:`calcdet_core.evaluation.matching.match_detections`, the study's rule.
Importing the package loads none of its modules (a plugin importing the FROC maths does not pay for
the report): ``evaluate_results`` and ``candidate_metrics`` load on first use.
"""

from importlib import import_module
from typing import Any

_ON_FIRST_USE = {"evaluate_results": "calcdet_core.evaluation.report",
                 "candidate_metrics": "calcdet_core.evaluation.candidates"}

__all__ = ["candidate_metrics", "evaluate_results"]


def __getattr__(name: str) -> Any:
    if name in _ON_FIRST_USE:
        return getattr(import_module(_ON_FIRST_USE[name]), name)
    raise AttributeError(f"module 'calcdet_core.evaluation' has no attribute {name!r}")
