"""Several evaluation runs side by side: one FROC plot and one table (``calcdet compare``)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.errors import InvalidInputError
from calcdet_core.evaluation.plots import CurveToPlot, plot_froc


def _read_curve(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    needed = ("fppi", "sensitivity", "ci95_low", "ci95_high")
    if not rows or any(c not in rows[0] for c in needed):
        raise InvalidInputError(f"{path}: expected a froc.csv written by calcdet with columns {', '.join(needed)}")
    return {c: np.array([float(r[c]) if r[c] else np.nan for r in rows]) for c in needed}


def _labels(dirs: Sequence[Path]) -> list[str]:
    """Folder names, or whole paths where two runs share a folder name."""
    names = [d.name or str(d) for d in dirs]
    return [str(d) if names.count(n) > 1 else n for d, n in zip(dirs, names, strict=True)]


def _other_aucs(metrics: dict[str, Any]) -> dict[str, Any]:
    """Every other evaluator's AUC figures (``auc...`` keys, intervals left out), as ``evaluator.key``.

    So a plugin's curve (``cluster-froc``'s cluster AUCs) is compared too, without calcdet knowing it.
    """
    return {f"{name}.{key}": value for name, entry in metrics.items() if name != "froc" and isinstance(entry, dict)
            for key, value in entry.items()
            if key.startswith("auc") and not key.endswith("ci95") and (value is None or isinstance(value, int | float))}


def compare_runs(run_dirs: Sequence[Path], out_dir: Path, labels: Sequence[str] | None = None) -> dict[str, Any]:
    """Read each run's ``metrics.json`` and ``froc.csv``; write compare.png, compare.csv and compare.json.

    ``labels`` name the runs (default: their folder names, or whole paths where two share a name).
    """
    if not run_dirs:
        raise InvalidInputError("give at least one evaluation folder to compare")
    dirs = [Path(d) for d in run_dirs]
    runs, curves, max_fppi = [], [], 0.0
    if labels is not None and len(labels) != len(dirs):
        raise ValueError(f"{len(labels)} labels for {len(dirs)} runs")
    for label, d in zip(labels or _labels(dirs), dirs, strict=True):
        for name in ("metrics.json", "froc.csv"):
            if not (d / name).is_file():
                raise InvalidInputError(f"{d} is not an evaluation folder: {name} is missing (write one with "
                                        "calcdet score or calcdet evaluate)")
        metrics = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
        froc = metrics.get("froc", {})
        curve = _read_curve(d / "froc.csv")
        max_fppi = max(max_fppi, float(froc.get("max_fppi") or np.nanmax(curve["fppi"])))
        ci = froc.get("auc_ci95") or [None, None]
        auc = froc.get("auc")
        crediting = froc.get("crediting", "study")  # runs written before the strict rule used the study's
        runs.append({"run": label, "path": str(d), "crediting": crediting, "auc": auc, "auc_ci95": ci,
                     "sensitivity_at": froc.get("sensitivity_at", {}), "images": froc.get("images"),
                     "normal_images": froc.get("normal_images"), "targets": froc.get("targets"),
                     "other_auc": _other_aucs(metrics)})
        text = "no FROC" if auc is None else f"{auc:.4f}" + ("" if ci[0] is None else f" [{ci[0]:.3f}, {ci[1]:.3f}]")
        curves.append(CurveToPlot(f"{label} ({crediting} crediting): AUC {text}", curve["fppi"], curve["sensitivity"],
                                  curve["ci95_low"],
                                  curve["ci95_high"]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plot_froc(curves, out / "compare.png", max_fppi or 50.0, title="FROC comparison")
    fppi_keys = list(dict.fromkeys(k for r in runs for k in r["sensitivity_at"]))
    other_keys = list(dict.fromkeys(k for r in runs for k in r["other_auc"]))
    with (out / "compare.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["run", "crediting", "auc", "auc_ci95_low", "auc_ci95_high",
                         *(f"sensitivity_at_{k}" for k in fppi_keys),
                         *other_keys, "images", "normal_images", "targets", "path"])
        for r in runs:
            cells = [r["auc"], *r["auc_ci95"], *(r["sensitivity_at"].get(k) for k in fppi_keys),
                     *(r["other_auc"].get(k) for k in other_keys), r["images"],
                     r["normal_images"], r["targets"], r["path"]]
            writer.writerow([r["run"], r["crediting"], *("" if c is None else c for c in cells)])
    summary = {"runs": runs, "fppi_at": fppi_keys, "files": ["compare.png", "compare.csv", "compare.json"]}
    (out / "compare.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return summary
