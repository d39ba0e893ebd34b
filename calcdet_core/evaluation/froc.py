"""FROC: sensitivity over all targets against mean false positives per *normal* image.

Definitions (the study's section 2.2.3, made exact):

- Detections and targets are matched by :func:`calcdet_core.evaluation.matching.match_detections`,
  with the study's crediting rule by default or the strict one (one target per detection).
  A target reached by detections counts as found at every threshold up to the highest
  score that reached it. Targets in ignore regions are left out.
- The FP rate is the number of FPs on normal (MC-free) images divided by the number of
  normal images. FPs on images with MCs are not counted, because those images hold MCs
  that nobody annotated. **The study's public code divided by all images; we do not**:
  our FPPI is per normal image, as its text defines it, so our numbers are comparable
  with the published ones only where its code agreed with its text.
- An operating point is taken at every distinct score (threshold ``score >= t``); ties
  between TPs and FPs move both at once. The curve is the polyline through the
  operating points, starting at (0, 0), and continues flat after the last one (a budget
  of more FPs than a system ever makes is met by that system's last point).
- The AUC is the area under that polyline over FPPI in [0, ``max_fppi``] (50),
  divided by ``max_fppi``, so it lies in [0, 1]. Sensitivity at a given FPPI is read
  off the same polyline (linear interpolation, as MONAI's ``compute_froc_score``).

Everything is computed from per-image counts, so the same code gives the point estimate
(each image counted once) and every bootstrap resample (each image counted as often as it
was drawn), see :mod:`calcdet_core.evaluation.bootstrap`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.matching import FP, STUDY_DIAMETER_PX, match_detections

MAX_FPPI = 50.0
"""The study cuts the FROC at 50 false positives per normal image."""

STUDY_FPPI = (0.5, 1.0, 2.0, 5.0, 10.0, 25.0, 50.0)
"""FP rates at which the sensitivity is reported."""

CURVE_GRID = np.unique(np.concatenate([np.linspace(0.0, 1.0, 101), np.linspace(1.0, MAX_FPPI, 491)]))
"""FPPI values at which curves (and their bootstrap bands) are tabulated: 0.01 steps to 1, then 0.1."""


@dataclass(frozen=True)
class FrocData:
    """The matched events of a set of images: all the FROC (and its bootstrap) needs.

    ``fp_score``/``fp_image``: every FP on a normal image and the index of its image.
    ``hit_score``/``target_image``: every target, the highest score that reached it (NaN
    when missed) and its image. ``normal``: per image, whether it is MC-free.
    """

    image_ids: tuple[str, ...]
    normal: np.ndarray
    fp_score: np.ndarray
    fp_image: np.ndarray
    hit_score: np.ndarray
    target_image: np.ndarray

    @property
    def n_images(self) -> int:
        return len(self.image_ids)

    @property
    def n_normal(self) -> int:
        return int(np.count_nonzero(self.normal))

    @property
    def n_targets(self) -> int:
        return len(self.hit_score)


def froc_data(results: Sequence[ImageResult], diameter: float = STUDY_DIAMETER_PX,
              crediting: str = "study") -> FrocData:
    """Match every image once (``crediting``: ``study`` or ``strict``) and keep the FROC events."""
    ids = [r.image_id for r in results]
    duplicated = sorted({i for i in ids if ids.count(i) > 1}) if len(set(ids)) != len(ids) else []
    if duplicated:
        raise ValueError(f"image ids must be unique in an evaluation; repeated: {', '.join(duplicated[:5])}")
    normal = np.array([r.is_normal for r in results], bool)
    fp_score, fp_image, hit_score, target_image = [], [], [], []
    for i, result in enumerate(results):
        m = match_detections(result.detections, result.annotation, diameter, crediting)
        if normal[i]:
            fps = result.detections.score[m.status == FP]
            fp_score.append(fps)
            fp_image.append(np.full(len(fps), i, np.int64))
        hit_score.append(m.hit_score)
        target_image.append(np.full(m.n_targets, i, np.int64))

    def cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return FrocData(tuple(ids), normal, cat(fp_score, np.float64), cat(fp_image, np.int64),
                    cat(hit_score, np.float64), cat(target_image, np.int64))


def operating_points(data: FrocData) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Exact operating points ``(threshold, fppi, sensitivity)``, thresholds descending.

    The first point is ``(inf, 0, 0)``: nothing is reported. NaN arrays when the FROC is
    undefined (no normal image or no target).
    """
    hits = data.hit_score[np.isfinite(data.hit_score)]
    scores = np.concatenate([data.fp_score, hits])
    is_fp = np.concatenate([np.ones(len(data.fp_score)), np.zeros(len(hits))])
    order = np.argsort(-scores, kind="stable")
    scores, is_fp = scores[order], is_fp[order]
    last_of_group = np.r_[scores[1:] != scores[:-1], True] if len(scores) else np.zeros(0, bool)
    fp = np.cumsum(is_fp)[last_of_group]
    tp = np.cumsum(1 - is_fp)[last_of_group]
    thresholds = np.r_[np.inf, scores[last_of_group]]
    with np.errstate(divide="ignore", invalid="ignore"):
        fppi = np.r_[0.0, fp] / (data.n_normal or np.nan)
        sensitivity = np.r_[0.0, tp] / (data.n_targets or np.nan)
    return thresholds, fppi, sensitivity


@dataclass(frozen=True)
class Polylines:
    """One FROC polyline per row (one row per weighting of the images); rows may be invalid (NaN)."""

    fppi: np.ndarray  # (B, L) non-decreasing along each row
    sensitivity: np.ndarray  # (B, L)

    def auc(self, max_fppi: float = MAX_FPPI) -> np.ndarray:
        """(B,) area under each polyline over [0, max_fppi], divided by max_fppi."""
        x0, x1 = self.fppi[:, :-1], self.fppi[:, 1:]
        y0, y1 = self.sensitivity[:, :-1], self.sensitivity[:, 1:]
        lo, hi = np.minimum(x0, max_fppi), np.minimum(x1, max_fppi)
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(x1 > x0, (y1 - y0) / (x1 - x0), 0.0)
        y_hi = y0 + slope * (hi - x0)
        area = np.where(hi > lo, (hi - lo) * (y0 + y_hi) / 2, 0.0).sum(axis=1)
        tail = (max_fppi - np.minimum(self.fppi[:, -1], max_fppi)) * self.sensitivity[:, -1]
        out = (area + tail) / max_fppi
        return np.where(self.valid, out, np.nan)

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.fppi).all(axis=1) & np.isfinite(self.sensitivity).all(axis=1)

    def sensitivity_at(self, fppi: Sequence[float] | np.ndarray) -> np.ndarray:
        """(B, Q) sensitivity of each polyline at the FP rates ``fppi`` (linear interpolation)."""
        query = np.asarray(fppi, dtype=np.float64)
        b, length = self.fppi.shape
        if b == 0 or query.size == 0:
            return np.zeros((b, query.size))
        # One searchsorted for all rows: shift row r by r * span, with values clipped below the span.
        span = float(query.max()) + 2.0
        xs = np.where(np.isfinite(self.fppi), np.minimum(self.fppi, span - 1.0), 0.0)
        offsets = np.arange(b)[:, None] * span
        flat = (xs + offsets).ravel()
        k = np.searchsorted(flat, (query[None, :] + offsets).ravel(), side="right").reshape(b, -1) - 1
        k -= np.arange(b)[:, None] * length
        k_next = np.minimum(k + 1, length - 1)
        rows = np.arange(b)[:, None]
        x0, x1 = self.fppi[rows, k], self.fppi[rows, k_next]
        y0, y1 = self.sensitivity[rows, k], self.sensitivity[rows, k_next]
        with np.errstate(divide="ignore", invalid="ignore"):
            t = np.where(x1 > x0, (query[None, :] - x0) / (x1 - x0), 0.0)
        out = y0 + np.clip(t, 0.0, 1.0) * (y1 - y0)
        return np.where(self.valid[:, None], out, np.nan)


class FrocCounts:
    """Per-image counts at the thresholds where the sensitivity changes, computed once.

    The polyline only bends where a target is reached: between two such thresholds it
    is flat. So for each distinct hit score ``u_g`` (descending) we need, per image, the
    FPs scoring ``> u_g`` (just before the step) and ``>= u_g`` (just after) and the
    targets reached at ``>= u_g``. A weighting of the images (a bootstrap resample's
    draw counts) then turns into polylines by one matrix product.
    """

    def __init__(self, data: FrocData) -> None:
        self.data = data
        n = data.n_images
        found = np.isfinite(data.hit_score)
        steps = np.unique(data.hit_score[found])[::-1]  # u_g, descending
        self.steps = steps
        k = len(steps)
        ascending = steps[::-1]
        # An FP of score s counts just after step g when s >= u_g, i.e. from g = #{u > s} on,
        # and just before step g when s > u_g, i.e. from g = #{u >= s} on.
        after_from = k - np.searchsorted(ascending, data.fp_score, side="right")
        before_from = k - np.searchsorted(ascending, data.fp_score, side="left")
        self.fp_after = self._cumulative(data.fp_image, after_from, n, k)
        self.fp_before = self._cumulative(data.fp_image, before_from, n, k)
        target_from = k - np.searchsorted(ascending, data.hit_score[found], side="right")
        self.tp_after = self._cumulative(data.target_image[found], target_from, n, k)
        self.targets = np.bincount(data.target_image, minlength=n).astype(np.float64)
        self.normal = data.normal.astype(np.float64)

    @staticmethod
    def _cumulative(image: np.ndarray, first_step: np.ndarray, n: int, k: int) -> np.ndarray:
        """(n, k) counts per image of events whose first step index is <= g."""
        counts = np.bincount(image * (k + 1) + first_step, minlength=n * (k + 1)).reshape(n, k + 1)
        return np.cumsum(counts, axis=1)[:, :k].astype(np.float64)

    def polylines(self, weights: np.ndarray) -> Polylines:
        """FROC polylines for image weights ``(B, n_images)`` (1 = counted once, 2 = drawn twice, ...)."""
        weights = np.asarray(weights, dtype=np.float64)
        b, k = len(weights), len(self.steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            n_normal = weights @ self.normal
            n_targets = weights @ self.targets
            inv_normal = np.where(n_normal > 0, 1.0 / n_normal, np.nan)[:, None]
            inv_targets = np.where(n_targets > 0, 1.0 / n_targets, np.nan)[:, None]
        fppi = np.zeros((b, 2 * k + 1))
        sens = np.zeros((b, 2 * k + 1))
        fppi[:, 1::2] = (weights @ self.fp_before) * inv_normal
        fppi[:, 2::2] = (weights @ self.fp_after) * inv_normal
        tp_after = (weights @ self.tp_after) * inv_targets
        sens[:, 2::2] = tp_after
        sens[:, 3::2] = tp_after[:, :-1]
        fppi[:, 0] *= inv_normal[:, 0]  # NaN for an undefined row, 0 otherwise
        sens[:, 0] *= inv_targets[:, 0]
        if k == 0:  # nothing ever reached: a flat line at 0 (kept NaN where undefined)
            fppi = fppi[:, :1]
            sens = sens[:, :1]
        return Polylines(fppi, sens)


def froc_point_estimate(data: FrocData, fppi_at: Sequence[float] = STUDY_FPPI,
                        max_fppi: float = MAX_FPPI) -> dict[str, object]:
    """AUC, sensitivity at ``fppi_at`` and the curve on :data:`CURVE_GRID` (None where undefined)."""
    lines = FrocCounts(data).polylines(np.ones((1, data.n_images)))
    auc = float(lines.auc(max_fppi)[0])
    at = lines.sensitivity_at(fppi_at)[0]
    return {
        "auc": None if np.isnan(auc) else auc,
        "sensitivity_at": {f"{x:g}": (None if np.isnan(v) else float(v)) for x, v in zip(fppi_at, at, strict=True)},
        "lines": lines,
    }
