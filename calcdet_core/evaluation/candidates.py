"""Candidate-proposer metrics: how many targets the candidates reach, and at what cost.

The study's section 2.1 measures proposers by per-image sensitivity, FP per TP per image
(FPpTPpI, eq. 8) and seconds per image. Several candidates on one target count once
(the target is reached or not); candidates on an already reached target and candidates in
ignore regions are neither TP nor FP. Scores play no part: every candidate counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.matching import STUDY_DIAMETER_PX, match_detections


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def candidate_metrics(results: Sequence[ImageResult], diameter: float = STUDY_DIAMETER_PX) -> dict[str, Any]:
    """Per-image and pooled sensitivity, FP per image, FPpTPpI and seconds per image (JSON-ready).

    Per image: ``targets`` (outside ignore regions), ``detected`` (targets reached),
    ``candidates``, ``fp``, ``sensitivity`` (None without targets), ``fp_per_tp``
    (FP / detected; None when nothing was detected) and ``seconds`` (None if unknown).
    Pooled: ``sensitivity`` over all targets, ``mean_image_sensitivity`` over images with
    targets, ``fp_per_image`` over all images, ``fp_per_tp_per_image`` (mean and median of
    the per-image ratios, over images where something was detected) and
    ``seconds_per_image`` (mean over images with a known time).
    """
    per_image: list[dict[str, Any]] = []
    for result in results:
        m = match_detections(result.detections, result.annotation, diameter)
        detected, fp = m.n_hit, m.n_fp
        seconds = float(result.seconds)
        per_image.append({
            "image_id": result.image_id,
            "targets": m.n_targets,
            "detected": detected,
            "candidates": len(result.detections),
            "fp": fp,
            "sensitivity": detected / m.n_targets if m.n_targets else None,
            "fp_per_tp": fp / detected if detected else None,
            "seconds": seconds if math.isfinite(seconds) else None,
        })
    targets = sum(r["targets"] for r in per_image)
    detected = sum(r["detected"] for r in per_image)
    fp_per_tp = [r["fp_per_tp"] for r in per_image if r["fp_per_tp"] is not None]
    return {
        "images": len(per_image),
        "targets": targets,
        "detected": detected,
        "candidates": sum(r["candidates"] for r in per_image),
        "fp": sum(r["fp"] for r in per_image),
        "sensitivity": detected / targets if targets else None,
        "mean_image_sensitivity": _mean([r["sensitivity"] for r in per_image if r["sensitivity"] is not None]),
        "fp_per_image": _mean([float(r["fp"]) for r in per_image]),
        "fp_per_tp_per_image": _mean(fp_per_tp),
        "fp_per_tp_per_image_median": _median(fp_per_tp),
        "images_without_detected_target": sum(1 for r in per_image if r["targets"] and not r["detected"]),
        "seconds_per_image": _mean([r["seconds"] for r in per_image if r["seconds"] is not None]),
        "diameter_px": float(diameter),
        "per_image": per_image,
    }
