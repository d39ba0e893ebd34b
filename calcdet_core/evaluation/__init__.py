"""Evaluation: candidate metrics, FROC with bootstrap intervals, classifier and box-detector metrics, reports.

The maths is numpy only. Plots (matplotlib) are imported lazily, when a report is written.
Every metric starts from :func:`calcdet_core.evaluation.matching.match_detections`, the study's rule.
"""

from calcdet_core.evaluation.candidates import candidate_metrics
from calcdet_core.evaluation.report import evaluate_results

__all__ = ["candidate_metrics", "evaluate_results"]
