"""``evaluate_results``: every metric, its files and one self-contained HTML report for a set of results.

Used by ``calcdet score`` (any detections CSV) and ``calcdet evaluate`` (a trained model).
The output directory holds ``metrics.json``, ``froc.csv``, ``froc_points.csv``,
``froc.png``, the other evaluators' files, ``overlays.png`` when pixels are available,
and ``report.html`` with every picture embedded (base64), so the report is one file to
mail or archive.
"""

from __future__ import annotations

import base64
import html
import json
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from calcdet_core.contracts.components import Evaluator
from calcdet_core.contracts.data import ImageResult
from calcdet_core.evaluation.evaluators import (
    CandidatesEvaluator,
    ClassificationEvaluator,
    FrocEvaluator,
)
from calcdet_core.evaluation.overlays import write_overlays


def default_evaluators(seed: int = 0) -> list[Evaluator]:
    """FROC (bootstrap seeded with ``seed``), candidate and classification metrics.

    Box metrics (``box-ap``) are left to box detectors that ask for them: for a detector
    whose radius is not a box (candidates, saliency maxima) AP at IoU 0.5 says nothing.
    """
    return [FrocEvaluator(seed=seed), CandidatesEvaluator(), ClassificationEvaluator()]


def json_ready(value: Any) -> Any:
    """Replace NaN/inf by None and numpy scalars by Python ones, recursively (strict JSON)."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def evaluate_results(results: Sequence[ImageResult], out_dir: Path, evaluators: Sequence[Evaluator] | None = None,
                     seed: int = 0, load_image: Callable[[str], np.ndarray | None] | None = None,
                     title: str = "calcdet evaluation", extra: dict[str, Any] | None = None,
                     operating_threshold: float | None = None,
                     pictures: dict[str, list[Path]] | None = None) -> dict[str, Any]:
    """Run ``evaluators`` (default :func:`default_evaluators`), write their files, metrics.json and report.html.

    A FROC evaluator is always included (added with ``seed`` when the list has none),
    because every report leads with the FROC. ``load_image(image_id)`` returns the
    stored-grid pixels of an image (or None); without it the report has no overlays.
    ``extra`` entries (e.g. where the detections came from) are added to the metrics. The overlays show
    the detections scoring at least ``operating_threshold`` (a model's operating point) when given, else
    at least the lowest threshold with 1 FP per normal image on these images. ``pictures`` (by ``extra`` key)
    are embedded under that entry's table, as each evaluator's figures are under its metrics.
    Returns the metrics written to ``metrics.json``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    chosen = list(evaluators) if evaluators else default_evaluators(seed)
    if not any(isinstance(e, FrocEvaluator) for e in chosen):
        chosen.insert(0, FrocEvaluator(seed=seed))
    names = [e.name for e in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"each evaluator may appear once in a report; got {', '.join(names)}")

    # each evaluator computes once; its metrics, its files and (for the FROC) the header and overlays read that
    computed = {e.name: e.compute(results) for e in chosen}
    froc = next(e for e in chosen if isinstance(e, FrocEvaluator))
    data = computed[froc.name].data
    metrics: dict[str, Any] = {
        "images": data.n_images,
        "normal_images": data.n_normal,
        "targets": data.n_targets,
        "detections": int(sum(len(r.detections) for r in results)),
    }
    figures: dict[str, list[Path]] = {}
    for evaluator in chosen:
        metrics[evaluator.name] = json_ready(evaluator.metrics(computed[evaluator.name]))
        written = evaluator.write_report(metrics[evaluator.name], computed[evaluator.name], out)
        figures[evaluator.name] = [Path(f) for f in written if Path(f).suffix.lower() == ".png"]

    overlay, threshold = (None, float("nan"))
    if load_image is not None:
        overlay, threshold = write_overlays(results, data, load_image, out / "overlays.png",
                                            diameter=froc.config.diameter_px, threshold=operating_threshold)
    metrics["overlay_threshold"] = threshold
    metrics["overlay_threshold_from"] = ("the model's operating point (validation split)" if operating_threshold
                                         is not None else "these images: the lowest score with at most 1 FP per "
                                                          "normal image")
    metrics.update(extra or {})
    figures.update(pictures or {})
    metrics = json_ready(metrics)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    write_html(out / "report.html", metrics, out, overlay, title, figures)
    return metrics


# --------------------------------------------------------------------------- HTML


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _image(path: Path | None, alt: str) -> str:
    if path is None or not path.exists():
        return f"<p class='note'>No {html.escape(alt)}.</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'>"


def _table(rows: Sequence[Sequence[str]], header: Sequence[str] | None = None) -> str:
    head = "".join(f"<th>{h}</th>" for h in header) if header else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{'<tr>' + head + '</tr>' if head else ''}{body}</table>"


def _flat_rows(metrics: dict[str, Any]) -> list[list[str]]:
    """Scalar entries of an evaluator's metrics (lists of per-image rows are left to its CSV)."""
    rows = []
    for key, value in metrics.items():
        if isinstance(value, dict):
            rows.append([html.escape(key), ", ".join(f"{html.escape(str(k))}: {_fmt(v)}" for k, v in value.items())])
        elif not isinstance(value, list):
            rows.append([html.escape(key), _fmt(value)])
    return rows


_CREDITING = {
    "study": "study (a detection finds every target its disc touches, as the study's code)",
    "strict": "strict (a detection finds only its nearest target)",
}
"""How the report names the FROC's crediting rule (``crediting`` in metrics.json)."""


def html_head(title: str, css: str = "") -> str:
    """The start of a self-contained calcdet page (up to ``<body>``): the report's style, plus ``css``."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1180px; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
td, th {{ border: 1px solid #ccc; padding: 0.25em 0.7em; text-align: left; font-size: 0.92em; }}
th {{ background: #f1f1f1; }} img {{ max-width: 100%; }} .note {{ color: #555; font-size: 0.9em; }}
{css}
</style></head><body>"""


def write_html(path: Path, metrics: dict[str, Any], out: Path, overlay: Path | None, title: str,
               figures: dict[str, list[Path]] | None = None) -> Path:
    """The report: summary, FROC with band, sensitivities with intervals, other metrics, examples.

    ``figures`` holds the PNGs each evaluator wrote (by evaluator name); those of evaluators other than the
    FROC (whose plot leads the report) are embedded under their metrics, so a plugin's figure (e.g. the
    cluster FROC) reaches the report without the report knowing the plugin.
    """
    froc = metrics["froc"]
    ci = froc.get("auc_ci95") or [None, None]
    boot = froc["bootstrap"]
    summary = [
        ["images", _fmt(metrics["images"])], ["normal images (FP denominator)", _fmt(metrics["normal_images"])],
        ["MC targets", _fmt(metrics["targets"])],
        ["detections", _fmt(metrics["detections"])],
        ["crediting rule", _CREDITING.get(froc.get("crediting", "study"), _fmt(froc.get("crediting")))],
        ["FROC AUC (0-{:g} FPPI, normalised)".format(froc["max_fppi"]), f"<b>{_fmt(froc['auc'])}</b>"],
        ["95% bootstrap interval", f"{_fmt(ci[0])} - {_fmt(ci[1])}"],
        ["bootstrap mean &plusmn; std", f"{_fmt(froc.get('auc_bootstrap_mean'))} &plusmn; "
                                        f"{_fmt(froc.get('auc_bootstrap_std'))}"
                                        f" ({boot['valid_resamples']} of {boot['resamples']} resamples, "
                                        f"seed {boot['seed']})"],
    ]
    sens_ci = froc.get("sensitivity_at_ci95", {})
    sens_rows = [[html.escape(k), _fmt(v), "{} - {}".format(*(_fmt(x) for x in sens_ci.get(k, [None, None])))]
                 for k, v in froc["sensitivity_at"].items()]
    others = "".join(f"<h2>{html.escape(name)}</h2>{_table(_flat_rows(value))}"
                     + "".join(_image(f, f"{name} figure {f.name}") for f in (figures or {}).get(name, []))
                     for name, value in metrics.items() if isinstance(value, dict) and name != "froc")
    threshold = metrics.get("overlay_threshold")
    examples = (_image(overlay, "overlays (no image pixels were available)")
                + (f"<p class='note'>Operating point: score &ge; {_fmt(threshold)} (from "
                   f"{html.escape(str(metrics.get('overlay_threshold_from', 'these images')))}). Circles: 14 px "
                   "matching disc; <span style='color:#1a9e3f'>TP green"
                   "</span>, <span style='color:#d62728'>FP red</span>, <span style='color:#1f5fd6'>missed target "
                   "blue</span>.</p>" if overlay is not None else ""))
    created = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = html_head(title, ".row { display: flex; gap: 2em; align-items: flex-start; flex-wrap: wrap; }\n"
                            ".row > div { flex: 1 1 0; min-width: 420px; } .row img { width: 100%; }") + f"""
<h1>{html.escape(title)}</h1>
<p class="note">Written {created} from <code>{html.escape(str(out))}</code>.</p>
<div class="row"><div>{_table(summary)}
<h2>Sensitivity at FP per normal image</h2>{_table(sens_rows, ["FPPI", "sensitivity", "95% interval"])}</div>
<div>{_image(out / "froc.png", "FROC plot")}</div></div>
<h2>Examples</h2>{examples}
{others}
<h2>Definitions</h2>
<p class="note">A detection is a true positive when the 14 px disc around its centre touches a target (a point
target's pixel, or a contour; under the strict crediting rule only its nearest such target); each target counts
once, at the highest score that reached it; detections on a target already taken count as neither TP nor FP; a
detection that touches no target and is centred in an ignore region
(cluster outline, calcification over 1 mm) is dropped. The FP rate is FPs on normal images divided by the number of
normal images (the study's public code divided by all images; we do not). The AUC is the area under the FROC over
0-{froc['max_fppi']:g} FPPI divided by {froc['max_fppi']:g}; intervals are percentiles of
{froc['bootstrap']['resamples']} bootstrap resamples of images.</p>
</body></html>
"""
    path.write_text(page, encoding="utf-8")
    return path
