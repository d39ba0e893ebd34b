"""Bootstrap over images: how much the FROC would move with another draw of images.

Images (not detections) are resampled with replacement, because detections of one
image are not independent. A resample is just a vector of draw counts per image, so
all resamples share the per-image counts of :class:`FrocCounts` (matched and sorted
once) and each block of resamples costs a few matrix products. Resamples that draw no
normal image or no target leave the FROC undefined; they are counted, not hidden.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from calcdet_core.evaluation.froc import CURVE_GRID, MAX_FPPI, STUDY_FPPI, FrocCounts, FrocData, froc_point_estimate

BLOCK = 128
"""Resamples computed together; bounds memory to a few (BLOCK x 2 x targets) arrays."""


def draw_counts(n_images: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_images) how often each image is drawn; reproducible for a seed."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n_images, size=(n_resamples, n_images))
    flat = picks + (np.arange(n_resamples) * n_images)[:, None]
    return np.bincount(flat.ravel(), minlength=n_resamples * n_images).reshape(n_resamples, n_images)


def percentile_interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper percentile of ``values`` along the resample axis (0), ``confidence`` between them."""
    tail = (1 - confidence) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail], axis=0)
    return lo, hi


@dataclass(frozen=True)
class BootstrapFroc:
    """Per-resample AUCs and curves (rows NaN where a resample left the FROC undefined)."""

    auc: np.ndarray  # (B,)
    sensitivity_at: np.ndarray  # (B, len(fppi_at))
    curve: np.ndarray  # (B, len(grid))
    fppi_at: tuple[float, ...]
    grid: np.ndarray
    seed: int

    @property
    def valid(self) -> np.ndarray:
        return np.isfinite(self.auc)

    def summary(self, confidence: float = 0.95) -> dict[str, object]:
        """JSON-ready mean, std and percentile interval of the AUC and of each sensitivity."""
        ok = self.valid

        def stats(values: np.ndarray) -> dict[str, object]:
            if values.shape[0] == 0:
                return {"mean": None, "std": None, "ci": [None, None]}
            lo, hi = percentile_interval(values, confidence)
            return {"mean": float(values.mean()), "std": float(values.std(ddof=1)) if len(values) > 1 else 0.0,
                    "ci": [float(lo), float(hi)]}

        per_fppi = {f"{x:g}": stats(self.sensitivity_at[ok, j]) for j, x in enumerate(self.fppi_at)}
        return {"resamples": len(self.auc), "valid_resamples": int(ok.sum()), "seed": self.seed,
                "confidence": confidence, "auc": stats(self.auc[ok]), "sensitivity_at": per_fppi}

    def band(self, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Mean, std, lower and upper percentile of the curve at each grid FPPI (NaN without valid resamples)."""
        ok = self.curve[self.valid]
        if len(ok) == 0:
            nan = np.full(len(self.grid), np.nan)
            return nan, nan, nan, nan
        lo, hi = percentile_interval(ok, confidence)
        std = ok.std(axis=0, ddof=1) if len(ok) > 1 else np.zeros(len(self.grid))
        return ok.mean(axis=0), std, lo, hi


def bootstrap_froc(data: FrocData, n_resamples: int = 1000, seed: int = 0, fppi_at: Sequence[float] = STUDY_FPPI,
                   max_fppi: float = MAX_FPPI, grid: np.ndarray = CURVE_GRID) -> BootstrapFroc:
    """FROC AUC, sensitivities and curve for ``n_resamples`` image resamples."""
    if n_resamples < 0:
        raise ValueError(f"the number of bootstrap resamples must be >= 0, got {n_resamples}")
    counts = FrocCounts(data)
    weights = draw_counts(data.n_images, n_resamples, seed) if data.n_images else np.zeros((n_resamples, 0))
    aucs, at, curves = [np.zeros(0)], [np.zeros((0, len(fppi_at)))], [np.zeros((0, len(grid)))]
    for lo in range(0, n_resamples, BLOCK):
        lines = counts.polylines(weights[lo : lo + BLOCK])
        aucs.append(lines.auc(max_fppi))
        at.append(lines.sensitivity_at(fppi_at))
        curves.append(lines.sensitivity_at(grid))
    return BootstrapFroc(np.concatenate(aucs), np.concatenate(at), np.concatenate(curves),
                         tuple(float(x) for x in fppi_at), np.asarray(grid), seed)


def paired_auc_difference(a: FrocData, b: FrocData, n_resamples: int = 1000, seed: int = 0,
                          max_fppi: float = MAX_FPPI, confidence: float = 0.95) -> dict[str, object]:
    """FROC AUC of ``a`` minus ``b`` on the same images, with a paired image-bootstrap interval.

    Two systems scored on the same images share the images' difficulty; resampling both with
    the very same draws cancels it, so the interval of the difference is much narrower than
    the two AUC intervals side by side suggest.
    """
    if a.image_ids != b.image_ids:
        raise ValueError("a paired comparison needs the same images in the same order in both")
    aucs = [froc_point_estimate(data, (), max_fppi)["auc"] for data in (a, b)]
    if None in aucs:
        raise ValueError("the FROC AUC is undefined for these images (no normal image or no target)")
    boot_a = bootstrap_froc(a, n_resamples, seed, (), max_fppi, np.zeros(0)).auc
    boot_b = bootstrap_froc(b, n_resamples, seed, (), max_fppi, np.zeros(0)).auc
    diff = (boot_a - boot_b)[np.isfinite(boot_a) & np.isfinite(boot_b)]
    lo, hi = percentile_interval(diff, confidence) if len(diff) else (np.nan, np.nan)
    return {"difference": aucs[0] - aucs[1], "ci": [float(lo), float(hi)], "confidence": confidence,
            "share_above_zero": float((diff > 0).mean()) if len(diff) else None,
            "valid_resamples": len(diff), "resamples": n_resamples, "seed": seed}
