"""The built-in evaluator components (registered in :mod:`calcdet_core.plugins.builtins`).

Each wraps one metric module so that a pipeline YAML can list it under ``evaluators``
with its parameters; defaults are the study's.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from calcdet_core.contracts.components import ComponentConfig, Evaluator
from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.bootstrap import BootstrapFroc, bootstrap_froc
from calcdet_core.evaluation.boxes import STUDY_BOX_PX, box_metrics
from calcdet_core.evaluation.candidates import candidate_metrics
from calcdet_core.evaluation.classification import classification_metrics
from calcdet_core.evaluation.froc import (
    CURVE_GRID,
    MAX_FPPI,
    STUDY_FPPI,
    FrocData,
    froc_data,
    froc_point_estimate,
    operating_points,
)
from calcdet_core.evaluation.matching import STUDY_DIAMETER_PX
from calcdet_core.evaluation.plots import CurveToPlot, plot_froc
from calcdet_core.io.detections_csv import neutralised

_DIAMETER = "Matching disc diameter in px: a detection hits a target this disc around it touches (study: 14)."
_MAX_DIAMETER_PX = 200.0
"""A 14 mm disc at 70 um: far wider than any calcification, the plausibility limit of the matching discs."""
_MAX_RESAMPLES = 100_000
"""Bootstrap resamples beyond which the intervals stop changing and only the run time grows."""
_MAX_SEED = 2**32 - 1
"""numpy's largest seed."""
FppiRate = Annotated[float, Field(gt=0, le=1000)]
"""An FP rate per normal image at which a figure is reported."""


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows([neutralised(c) if isinstance(c, str) else c for c in row] for row in rows)
    return path


def _number(value: float) -> str:
    return "" if not np.isfinite(value) else repr(float(value))


@dataclass(frozen=True)
class FrocResult:
    """What the FROC evaluator computes once per report: matched events, point estimate and bootstrap."""

    data: FrocData
    estimate: dict[str, Any]
    bootstrap: BootstrapFroc


class FrocEvaluator(Evaluator):
    """FROC per normal image with image-bootstrap intervals; see :mod:`calcdet_core.evaluation.froc`."""

    name = "froc"
    seed_setting = "seed"
    description = "FROC (sensitivity vs FP per normal image, cut at 50) with AUC and image-bootstrap intervals."

    class Config(ComponentConfig):
        diameter_px: float = Field(STUDY_DIAMETER_PX, gt=0, le=_MAX_DIAMETER_PX, description=_DIAMETER)
        crediting: Literal["study", "strict"] = Field(
            "study", description="study: a detection finds every target its disc touches (the study's code); "
                                 "strict: only its nearest one.")
        max_fppi: float = Field(MAX_FPPI, gt=0, le=1000,
                                description="FP per normal image where the curve and AUC stop.")
        fppi_at: tuple[FppiRate, ...] = Field(STUDY_FPPI, description="FP rates at which sensitivity is reported.")
        bootstrap_resamples: int = Field(1000, ge=0, le=_MAX_RESAMPLES,
                                         description="Image resamples for the intervals (0 = none).")
        seed: int = Field(0, ge=0, le=_MAX_SEED, description="Seed of the bootstrap draws (same seed, same intervals).")

    config: Config

    def compute(self, results: Sequence[ImageResult]) -> FrocResult:
        """Match every image, then the FROC and its bootstrap, once."""
        c = self.config
        data = froc_data(results, c.diameter_px, c.crediting)
        estimate = froc_point_estimate(data, c.fppi_at, c.max_fppi)
        boot = bootstrap_froc(data, c.bootstrap_resamples, c.seed, c.fppi_at, c.max_fppi)
        return FrocResult(data, estimate, boot)

    def metrics(self, computed: FrocResult) -> dict[str, Any]:
        c = self.config
        data, estimate = computed.data, computed.estimate
        summary = computed.bootstrap.summary()
        return {
            "auc": estimate["auc"],
            "auc_ci95": summary["auc"]["ci"],
            "auc_bootstrap_mean": summary["auc"]["mean"],
            "auc_bootstrap_std": summary["auc"]["std"],
            "sensitivity_at": estimate["sensitivity_at"],
            "sensitivity_at_ci95": {k: v["ci"] for k, v in summary["sensitivity_at"].items()},
            "max_fppi": c.max_fppi,
            "fppi_denominator": "normal images",
            "images": data.n_images,
            "normal_images": data.n_normal,
            "targets": data.n_targets,
            "targets_found": int(np.isfinite(data.hit_score).sum()),
            "fp_on_normal_images": len(data.fp_score),
            "diameter_px": c.diameter_px,
            "crediting": c.crediting,
            "bootstrap": {k: summary[k] for k in ("resamples", "valid_resamples", "seed", "confidence")},
        }

    def write_report(self, metrics: dict[str, Any], computed: FrocResult, out_dir: Path) -> list[Path]:
        """``froc.csv`` (curve and band on a fixed FPPI grid), ``froc_points.csv`` (thresholds), ``froc.png``."""
        c = self.config
        data = computed.data
        curve = computed.estimate["lines"].sensitivity_at(CURVE_GRID)[0]
        mean, std, lo, hi = computed.bootstrap.band()
        out = Path(out_dir)
        files = [_csv(out / "froc.csv", ("fppi", "sensitivity", "bootstrap_mean", "bootstrap_std", "ci95_low",
                                          "ci95_high"),
                      [[_number(v) for v in row] for row in zip(CURVE_GRID, curve, mean, std, lo, hi, strict=True)])]
        thresholds, fppi, sens = operating_points(data)
        last = int(np.searchsorted(fppi, c.max_fppi, side="right")) + 1 if np.isfinite(fppi).all() else 0
        files.append(_csv(out / "froc_points.csv", ("threshold", "fppi", "sensitivity"),
                          [[_number(t) if np.isfinite(t) else "inf", _number(f), _number(s)]
                           for t, f, s in zip(thresholds[:last], fppi[:last], sens[:last], strict=True)]))
        auc = metrics.get("auc")
        label = "no FROC (no normal image or no target)" if auc is None else f"AUC {auc:.4f}"
        if auc is not None and metrics.get("auc_ci95", [None])[0] is not None:
            label += " (95% CI {:.4f}-{:.4f})".format(*metrics["auc_ci95"])
        label += f", {c.crediting} crediting"
        files.append(plot_froc([CurveToPlot(label, CURVE_GRID, curve, lo, hi)], out / "froc.png",
                               c.max_fppi))
        return files


class CandidatesEvaluator(Evaluator):
    """Proposer metrics of the study's section 2.1; see :mod:`calcdet_core.evaluation.candidates`."""

    name = "candidates"
    description = "Candidate sensitivity, FP per image, FP per TP per image and seconds per image."

    class Config(ComponentConfig):
        diameter_px: float = Field(STUDY_DIAMETER_PX, gt=0, le=_MAX_DIAMETER_PX, description=_DIAMETER)

    config: Config

    def metrics(self, computed: Sequence[ImageResult]) -> dict[str, Any]:
        return candidate_metrics(computed, self.config.diameter_px)

    def write_report(self, metrics: dict[str, Any], computed: Sequence[ImageResult], out_dir: Path) -> list[Path]:
        """``candidates.csv``: one row per image."""
        rows = metrics.get("per_image", [])
        header = ("image_id", "targets", "detected", "candidates", "fp", "sensitivity", "fp_per_tp", "seconds")
        return [_csv(Path(out_dir) / "candidates.csv", header,
                     [["" if r[k] is None else r[k] for k in header] for r in rows])]


class ClassificationEvaluator(Evaluator):
    """AUROC/AUPRC of detection scores; see :mod:`calcdet_core.evaluation.classification`."""

    name = "classification"
    description = "AUROC and AUPRC of detection scores against matching labels, at the data's prevalence."

    class Config(ComponentConfig):
        diameter_px: float = Field(STUDY_DIAMETER_PX, gt=0, le=_MAX_DIAMETER_PX, description=_DIAMETER)

    config: Config

    def metrics(self, computed: Sequence[ImageResult]) -> dict[str, Any]:
        return classification_metrics(computed, self.config.diameter_px)


class BoxEvaluator(Evaluator):
    """COCO-style box metrics of the study's Table 5; see :mod:`calcdet_core.evaluation.boxes`."""

    name = "box-ap"
    description = "AP at IoU 0.5 and AR over IoU 0.5:0.95 with 14 px target boxes, COCO style."

    class Config(ComponentConfig):
        box_size_px: float = Field(STUDY_BOX_PX, gt=0, le=_MAX_DIAMETER_PX,
                                   description="Side of the square box around each target.")
        max_detections: int = Field(100, ge=1, le=100_000,
                                    description="Detections kept per image, best first (COCO: 100).")

    config: Config

    def metrics(self, computed: Sequence[ImageResult]) -> dict[str, Any]:
        c = self.config
        return box_metrics(computed, c.box_size_px, c.max_detections)


BUILTIN_EVALUATORS: list[type[Evaluator]] = [FrocEvaluator, CandidatesEvaluator, ClassificationEvaluator,
                                             BoxEvaluator]
