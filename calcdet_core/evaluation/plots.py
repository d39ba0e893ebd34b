"""Pictures for reports: FROC curves with bootstrap bands, and detection overlays on image crops.

matplotlib is imported inside the functions (headless Agg backend), so importing the
evaluation package stays cheap and numpy-only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

TP_COLOUR, FP_COLOUR, MISSED_COLOUR = "#1a9e3f", "#d62728", "#1f5fd6"


@dataclass(frozen=True)
class CurveToPlot:
    """One run's FROC: the curve and, optionally, its bootstrap band (same FPPI grid)."""

    label: str
    fppi: np.ndarray
    sensitivity: np.ndarray
    band_low: np.ndarray | None = None
    band_high: np.ndarray | None = None


def _pyplot():  # type: ignore[no-untyped-def]
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


CLINICAL_FPPI = 2.0
"""The FP rates a reader tolerates: the FROC's right panel zooms on 0 to this."""


def plot_froc(curves: Sequence[CurveToPlot], path: Path, max_fppi: float, title: str = "FROC") -> Path:
    """Sensitivity against FP per normal image, one line (and 95 % bootstrap band) per curve: the study's range
    0-``max_fppi`` on the left, the clinically used 0-2 FPPI on the right."""
    plt = _pyplot()
    from matplotlib.patches import Patch

    zoom = min(CLINICAL_FPPI, max_fppi)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 4.8), dpi=110, gridspec_kw={"width_ratios": [3, 2]})
    banded = False
    for ax, right in zip(axes, (max_fppi, zoom), strict=True):
        for i, curve in enumerate(curves):
            colour = f"C{i % 10}"
            ax.plot(curve.fppi, curve.sensitivity, color=colour, lw=2, label=curve.label)
            if curve.band_low is not None and curve.band_high is not None and np.isfinite(curve.band_low).any():
                ax.fill_between(curve.fppi, curve.band_low, curve.band_high, color=colour, alpha=0.2, lw=0)
                banded = True
        ax.set_xlim(0, right)
        ax.set_ylim(0, 1.02)
        ax.set_xlabel("mean false positives per normal image (FPPI)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("sensitivity (fraction of MC targets found)")
    axes[0].set_title(f"{title}: 0-{max_fppi:g} FPPI (the study's range)", fontsize=10)
    axes[1].set_title(f"0-{zoom:g} FPPI (what a reader tolerates)", fontsize=10)
    if curves:
        handles, labels = axes[0].get_legend_handles_labels()
        if banded:
            handles.append(Patch(color="0.5", alpha=0.3, lw=0))
            labels.append("shaded: 95 % bootstrap band (images resampled)")
        axes[0].legend(handles, labels, loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path


@dataclass(frozen=True)
class Crop:
    """A window of an image with what to draw on it (coordinates relative to the crop)."""

    pixels: np.ndarray
    title: str
    tp: np.ndarray  # (K, 2) x, y
    fp: np.ndarray
    missed: np.ndarray


def plot_overlays(rows: Sequence[tuple[str, Sequence[Crop]]], path: Path, radius: float) -> Path | None:
    """A grid of crops, one row per kind of example; circles of ``radius``: TP green, FP red, missed blue."""
    rows = [(name, crops) for name, crops in rows if crops]
    if not rows:
        return None
    plt = _pyplot()
    from matplotlib.patches import Circle

    columns = max(len(crops) for _, crops in rows)
    fig, axes = plt.subplots(len(rows), columns, figsize=(2.2 * columns, 2.5 * len(rows)), dpi=100, squeeze=False)
    for r, (name, crops) in enumerate(rows):
        for c in range(columns):
            ax = axes[r, c]
            ax.set_axis_off()
            if c >= len(crops):
                continue
            crop = crops[c]
            lo, hi = np.percentile(crop.pixels, [1, 99.5]) if crop.pixels.size else (0.0, 1.0)
            ax.imshow(crop.pixels, cmap="gray", vmin=lo, vmax=hi if hi > lo else lo + 1, interpolation="nearest")
            for points, colour in ((crop.tp, TP_COLOUR), (crop.fp, FP_COLOUR), (crop.missed, MISSED_COLOUR)):
                for x, y in points:
                    ax.add_patch(Circle((x, y), radius, fill=False, color=colour, lw=1.6))
            ax.set_title(crop.title, fontsize=7)
        axes[r, 0].text(-0.08, 0.5, name, transform=axes[r, 0].transAxes, rotation=90, ha="right", va="center",
                        fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
