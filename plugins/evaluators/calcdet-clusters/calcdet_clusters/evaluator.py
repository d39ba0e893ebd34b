"""``cluster-froc``: the FROC of clusters (detected clusters against truth clusters), per normal image and per image.

Detections and annotated MCs of every image are grouped by :func:`calcdet_clusters.grouping.find_clusters`
with the same settings, matched by :func:`calcdet_clusters.matching.match_clusters`, and the matched
events go through calcdet's own FROC and image bootstrap (``calcdet_core.api.FrocData``,
``bootstrap_froc``), so cluster and MC figures are computed, cut and resampled alike. Two FP
denominators are reported, from the same image draws: FP clusters on normal images per normal image
(as calcdet's MC-level FROC) and FP clusters on all images per image (as much of the cluster
literature).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field

from calcdet_clusters.grouping import DEFAULT_SPACING_MM, Cluster, find_clusters, spacing_or_default
from calcdet_clusters.matching import FP, ClusterMatch, match_clusters
from calcdet_core.api import (
    STUDY_DIAMETER_PX,
    BootstrapFroc,
    ComponentConfig,
    Evaluator,
    FrocData,
    ImageResult,
    bootstrap_froc,
    froc_point_estimate,
)

RULE = ("a truth cluster is found by a detected cluster whose convex hull, widened by tolerance_px, holds at least "
        "one of its MCs; each truth cluster counts once, at the highest such score")
DENOMINATORS = {"per_normal_image": "FP clusters on normal images / normal images",
                "per_image": "FP clusters on all images / all images"}
Spacing = Annotated[float, Field(ge=0.01, le=1.0)]
"""A pixel spacing, mm: the range calcdet's DICOM reader accepts."""


class ClusterSettings(ComponentConfig):
    """How clusters are formed: shared by the evaluator and the DICOM SR writer."""

    distance_mm: float = Field(5.0, gt=0, le=100,
                               description="Single-linkage distance: MCs at most this far apart (mm) "
                                           "belong to one cluster.")
    min_count: int = Field(3, ge=1, le=1000, description="Fewest MCs in a cluster (BI-RADS: several, usually 3).")
    score: Literal["max", "top_k_mean", "count_weighted"] = Field(
        "max", description="Cluster score from its members: max, mean of the top_k best, or their sum (scores >= 0).")
    top_k: int = Field(3, ge=1, le=1000, description="Members averaged by score: top_k_mean.")
    min_score: float | None = Field(None, ge=-1e6, le=1e6,
                                    description="Only detections scoring at least this are clustered "
                                                "(None: see the evaluator's detections_per_normal_image; "
                                                "for the DICOM SR, the cutoff unless --dicom-sr-min-score).")


@dataclass(frozen=True)
class ImageClusters:
    """The clusters of one image and their matching."""

    image_id: str
    detected: list[Cluster]
    truth: list[Cluster]
    match: ClusterMatch
    detected_xy: np.ndarray


@dataclass(frozen=True)
class ClusterFrocResult:
    """Everything the report reads: per image clusters, the two FROC inputs, their estimates and bootstraps."""

    images: list[ImageClusters]
    data: dict[str, FrocData]
    estimate: dict[str, dict[str, Any]]
    bootstrap: dict[str, BootstrapFroc]
    spacing_mm: list[tuple[float, float]]
    spacing_source: str
    threshold: float
    clustered: str


class ClusterFrocEvaluator(Evaluator):
    """Cluster-level FROC with image-bootstrap intervals; see the module docstring."""

    name = "cluster-froc"
    seed_setting = "seed"
    description = "Cluster-level FROC (MC clusters by single linkage in mm), per normal image and per image."

    class Config(ClusterSettings):
        pixel_spacing_mm: tuple[Spacing, Spacing] | None = Field(
            None, description="(row, column) pixel spacing of the evaluated grid, mm, for every image; default: "
                              "each image's own (DICOM PixelSpacing/ImagerPixelSpacing), 0.07 assumed where "
                              "unknown, and the metrics say so.")
        tolerance_px: float = Field(STUDY_DIAMETER_PX / 2, ge=0, le=200,
                                    description="A detected cluster's hull widened by "
                                                "this (px) must hold an MC of the truth "
                                                "cluster.")
        max_fp: float = Field(2.0, gt=0, le=1000, description="FP clusters per image where the curve and AUC stop.")
        fp_at: tuple[Annotated[float, Field(gt=0, le=1000)], ...] = Field((0.25, 0.5, 1.0, 2.0),
                                            description="FP cluster rates at which the "
                                                        "sensitivity is reported.")
        bootstrap_resamples: int = Field(1000, ge=0, le=100_000,
                                         description="Image resamples for the intervals (0 = none).")
        seed: int = Field(0, ge=0, le=2**32 - 1, description="Seed of the bootstrap draws.")
        detections_per_normal_image: float | None = Field(
            10.0, gt=0, le=100_000,
            description="Without min_score: only the detections above the score at which normal images hold at most "
                        "this many per image are clustered (None: all detections).")

    config: Config

    def compute(self, results: Sequence[ImageResult]) -> ClusterFrocResult:
        c = self.config
        spacings, source = image_spacings(results, c.pixel_spacing_mm)
        threshold, clustered = detection_threshold(results, c.min_score, c.detections_per_normal_image)
        settings = {"distance_mm": c.distance_mm, "min_count": c.min_count, "score": c.score, "top_k": c.top_k}
        images = []
        for r, spacing in zip(results, spacings, strict=True):
            keep = r.detections.score >= threshold
            det_xy, det_score = r.detections.xyr[keep, :2], r.detections.score[keep]
            truth_xy = np.array([[t.x, t.y] for t in r.annotation.targets], dtype=np.float64).reshape(-1, 2)
            detected = find_clusters(det_xy, det_score, spacing, **settings)
            truth = find_clusters(truth_xy, None, spacing, **{**settings, "score": "max"})
            match = match_clusters(detected, det_xy, truth, truth_xy, [g.contour for g in r.annotation.ignore],
                                   c.tolerance_px)
            images.append(ImageClusters(r.image_id, detected, truth, match, det_xy))
        data = {key: _froc_data(results, images, all_images=key == "per_image") for key in DENOMINATORS}
        grid = np.linspace(0.0, c.max_fp, 201)
        estimate = {k: froc_point_estimate(d, c.fp_at, c.max_fp) for k, d in data.items()}
        boot = {k: bootstrap_froc(d, c.bootstrap_resamples, c.seed, c.fp_at, c.max_fp, grid)
                for k, d in data.items()}
        return ClusterFrocResult(images, data, estimate, boot, spacings, source, threshold, clustered)

    def metrics(self, computed: ClusterFrocResult) -> dict[str, Any]:
        c = self.config
        per_normal = computed.data["per_normal_image"]
        out: dict[str, Any] = {
            "rule": RULE,
            "pixel_spacing_mm": [list(s) for s in sorted(set(computed.spacing_mm))],
            "pixel_spacing": computed.spacing_source,
            "distance_mm": c.distance_mm, "min_count": c.min_count, "score": c.score,
            "tolerance_px": c.tolerance_px, "max_fp": c.max_fp,
            "detection_threshold": computed.threshold if np.isfinite(computed.threshold) else None,
            "detections_clustered": sum(len(i.detected_xy) for i in computed.images),
            "clustered": computed.clustered,
            "images": per_normal.n_images, "normal_images": per_normal.n_normal,
            "truth_clusters": per_normal.n_targets,
            "truth_clusters_found": int(np.isfinite(per_normal.hit_score).sum()),
            "detected_clusters": sum(len(i.detected) for i in computed.images),
            "fp_clusters": sum(int(np.count_nonzero(i.match.status == FP)) for i in computed.images),
            "fp_clusters_on_normal_images": len(per_normal.fp_score),
        }
        for key, denominator in DENOMINATORS.items():
            summary = computed.bootstrap[key].summary()
            out[f"auc_{key}"] = computed.estimate[key]["auc"]
            out[f"auc_{key}_ci95"] = summary["auc"]["ci"]  # type: ignore[index]
            out[f"sensitivity_at_{key}"] = computed.estimate[key]["sensitivity_at"]
            out[f"sensitivity_at_{key}_ci95"] = {k: v["ci"] for k, v in summary["sensitivity_at"].items()}
            out[f"fp_rate_{key}"] = denominator
        summary = computed.bootstrap["per_normal_image"].summary()
        out["bootstrap"] = {k: summary[k] for k in ("resamples", "valid_resamples", "seed", "confidence")}
        return out

    def write_report(self, metrics: dict[str, Any], computed: ClusterFrocResult, out_dir: Path) -> list[Path]:
        """``cluster_froc.csv`` (both curves, bands), ``clusters.csv`` (each detected cluster), ``cluster_froc.png``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        grid = computed.bootstrap["per_normal_image"].grid
        columns, header = [grid], ["fp_clusters_rate"]
        for key in DENOMINATORS:
            _, _, lo, hi = computed.bootstrap[key].band()
            columns += [computed.estimate[key]["lines"].sensitivity_at(grid)[0], lo, hi]
            header += [f"sensitivity_{key}", f"ci95_low_{key}", f"ci95_high_{key}"]
        table_rows = zip(*columns, strict=True)
        curve_path = _csv(out / "cluster_froc.csv", header,
                          [["" if not np.isfinite(v) else repr(float(v)) for v in row] for row in table_rows])
        rows = [[i.image_id, k, cl.count, repr(cl.score), {1: "TP", 0: "FP", -1: "neither"}[int(i.match.status[k])],
                 ";".join(f"{x:g} {y:g}" for x, y in cl.hull)]
                for i in computed.images for k, cl in enumerate(i.detected)]
        table = _csv(out / "clusters.csv", ["image_id", "cluster", "count", "score", "status", "hull_xy"], rows)
        return [curve_path, table, _plot(columns, metrics, out / "cluster_froc.png", self.config.max_fp)]


def detection_threshold(results: Sequence[ImageResult], min_score: float | None, per_normal_image: float | None
                        ) -> tuple[float, str]:
    """The lowest score a clustered detection has, and how it was chosen, as the metrics say it.

    A pipeline that outputs every scored candidate (hundreds per image) would otherwise have them all
    linked into one cluster covering the breast; clusters are formed at an operating point, and the
    cluster FROC then sweeps the cluster scores. ``min_score`` wins; else the threshold keeps at most
    ``per_normal_image`` detections per normal image (on a normal image every detection is a false one).
    """
    if min_score is not None:
        return float(min_score), f"detections scoring at least min_score {min_score:g}"
    everything = "all detections"
    normal = [r.detections.score for r in results if r.is_normal]
    if per_normal_image is None:
        return float("-inf"), everything
    if not normal:
        return float("-inf"), f"{everything} (no normal image to set the operating point)"
    scores = np.sort(np.concatenate(normal))[::-1]
    allowed = int(np.floor(per_normal_image * len(normal)))
    if len(scores) <= allowed:
        return float("-inf"), f"{everything} (at most {per_normal_image:g} per normal image already)"
    return float(np.nextafter(scores[allowed], np.inf)), \
        f"detections above the score with at most {per_normal_image:g} per normal image"


def image_spacings(results: Sequence[ImageResult], override: Sequence[float] | None
                   ) -> tuple[list[tuple[float, float]], str]:
    """The spacing each image is clustered at, and where it came from, as the metrics say it.

    ``override`` (the config's ``pixel_spacing_mm``) applies to every image; otherwise each image's own
    stored spacing (:attr:`ImageResult.spacing_mm`), and :data:`DEFAULT_SPACING_MM` where that is unknown.
    """
    if override is not None:
        spacing, _ = spacing_or_default(override)
        return [spacing] * len(results), "given"
    own = [spacing_or_default(r.spacing_mm) for r in results]
    unknown = sum(not known for _, known in own)
    assumed = f"{DEFAULT_SPACING_MM * 1000:g} um assumed"
    if unknown == 0:
        source = "from the images"
    elif unknown == len(own):
        source = f"unknown: {assumed}"
    else:
        source = f"from the images; unknown for {unknown} of {len(own)}: {assumed} for those"
    return [spacing for spacing, _ in own], source


def _froc_data(results: Sequence[ImageResult], images: Sequence[ImageClusters], all_images: bool) -> FrocData:
    """The FROC events; ``all_images``: every image is in the FP denominator and its FP clusters count."""
    normal = np.array([True if all_images else r.is_normal for r in results], bool)
    fp_score, fp_image, hit, hit_image = [np.zeros(0)], [np.zeros(0, np.int64)], [np.zeros(0)], [np.zeros(0, np.int64)]
    for n, image in enumerate(images):
        if normal[n]:
            scores = np.array([c.score for c in image.detected])[image.match.status == FP] if image.detected else []
            fp_score.append(np.asarray(scores, np.float64))
            fp_image.append(np.full(len(scores), n, np.int64))
        hit.append(image.match.hit_score)
        hit_image.append(np.full(len(image.truth), n, np.int64))
    return FrocData(tuple(r.image_id for r in results), normal, np.concatenate(fp_score), np.concatenate(fp_image),
                    np.concatenate(hit), np.concatenate(hit_image))


def _csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _plot(columns: list[np.ndarray], metrics: dict[str, Any], path: Path, max_fp: float) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7.0, 5.0), dpi=110)
    for i, key in enumerate(DENOMINATORS):
        curve, lo, hi = columns[1 + 3 * i : 4 + 3 * i]
        auc = metrics.get(f"auc_{key}")
        ax.plot(columns[0], curve, color=f"C{i}", lw=2,
                label=f"{DENOMINATORS[key]}: AUC {'n/a' if auc is None else f'{auc:.3f}'}")
        if np.isfinite(lo).any():
            ax.fill_between(columns[0], lo, hi, color=f"C{i}", alpha=0.2, lw=0)
    ax.set(xlim=(0, max_fp), ylim=(0, 1.02), xlabel="false-positive clusters per image",
           ylabel="sensitivity (fraction of truth clusters found)", title="Cluster FROC")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path
