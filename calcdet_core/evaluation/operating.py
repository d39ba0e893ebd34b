"""A model's operating point: the score threshold its findings are reported at, chosen on the validation split.

A CAD result a reader sees is a handful of marks at a validated operating point, not every scored
candidate. Training picks the lowest threshold whose false positives per normal image (the study's
FROC protocol) stay within the pipeline's ``operating_point.fppi`` on the validation split, and
keeps it in the model directory with the FPPI and sensitivity it gave there; evaluation reports
what the same threshold gives on the test split.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from calcdet_core.evaluation.froc import FrocData, operating_points


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold and what it gave: detections scoring at least ``threshold`` are the model's findings."""

    threshold: float
    fppi: float
    sensitivity: float
    target_fppi: float
    images: int
    normal_images: int
    targets: int
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> OperatingPoint:
        return cls(**{k: doc[k] for k in cls.__dataclass_fields__ if k in doc})


def choose_operating_point(data: FrocData, target_fppi: float) -> tuple[OperatingPoint | None, str]:
    """The lowest threshold keeping FP per normal image within ``target_fppi``, and a note (why none, or a warning).

    ``None`` when the split has no normal image or no target (no FROC to choose on). When even every
    detection stays under ``target_fppi`` the lowest score is taken and the note says which FPPI was reached.
    """
    if data.n_normal == 0 or data.n_targets == 0:
        return None, (f"the validation split has {data.n_normal} normal images and {data.n_targets} MCs; a FROC "
                      "needs both")
    thresholds, fppi, sensitivity = operating_points(data)
    if len(thresholds) == 1:
        return None, "the model makes no detection on the validation split"
    within = np.flatnonzero(fppi <= target_fppi + 1e-12)
    k = int(within[-1])
    note = ""
    if k == len(thresholds) - 1 and fppi[k] < target_fppi:
        note = (f"the validation FROC reaches only {fppi[k]:.3g} FP per normal image, below the {target_fppi:g} "
                f"asked for: the operating point reports every detection")
    threshold = float(thresholds[k])
    if not np.isfinite(threshold):  # the highest-scoring group alone exceeds the budget: report nothing
        top = float(max(data.fp_score.max(initial=-np.inf), np.nanmax(data.hit_score, initial=-np.inf)))
        threshold = float(np.nextafter(top, np.inf))
        note = f"even the highest-scoring detections exceed {target_fppi:g} FP per normal image: nothing is reported"
    point = OperatingPoint(threshold, float(fppi[k]), float(sensitivity[k]), float(target_fppi), data.n_images,
                           data.n_normal, data.n_targets, note)
    return point, note


def at_threshold(data: FrocData, threshold: float) -> dict[str, float | None]:
    """FP per normal image and sensitivity of the detections scoring at least ``threshold`` (None: undefined)."""
    fp = int(np.count_nonzero(data.fp_score >= threshold))
    hit = int(np.count_nonzero(data.hit_score[np.isfinite(data.hit_score)] >= threshold))
    return {"fppi": fp / data.n_normal if data.n_normal else None,
            "sensitivity": hit / data.n_targets if data.n_targets else None}


def stored_operating_point(metrics: dict[str, Any]) -> OperatingPoint | None:
    """The operating point a model's ``training_metrics.json`` holds (``None``: none was chosen)."""
    doc = metrics.get("operating_point")
    return OperatingPoint.from_json(doc) if isinstance(doc, dict) and doc.get("chosen") else None
