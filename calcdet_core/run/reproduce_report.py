"""The report of ``calcdet reproduce``: every pipeline's test figures side by side, and the study's beside them.

Per pipeline: the FROC AUC and its 95% interval (from its evaluation's ``metrics.json``), AP@0.5 and
AR@0.5:0.95 (its ``box-ap`` evaluator's, else :func:`~calcdet_core.evaluation.boxes.box_metrics` on its
detections, so every pipeline has them), detection seconds per image and training seconds. Per pair:
the FROC AUC difference with a paired image-bootstrap interval, from the detections of both on the
same test images. The curves and their bands go on one plot through
:func:`~calcdet_core.evaluation.compare.compare_runs`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import TYPE_CHECKING, Any

from calcdet_core.contracts.data import ImageRecord, ImageResult

if TYPE_CHECKING:
    from calcdet_core.run.reproduce import Study

STUDY_SOURCE = ("A. Cortina Uribe, J. O. Seia, V. Zalevskyi, 'Calcification detection in mammograms: Project "
                "report' (code: github.com/joaco18/calc-det). FROC AUC over 0-50 FP per normal "
                "image on the test split, mean +- bootstrap std: abstract and section 3 (Figure 19). AP@0.5 and "
                "AR@0.5:0.95: Table 5, measured on validation 224 px windows, not test images. Seconds per image "
                "are published only as a figure (Figure 19, right), on other hardware.")
"""Where :data:`STUDY_FIGURES` come from."""

STUDY_FIGURES: dict[str, dict[str, Any]] = {
    "aia-ml": {"froc_auc": 0.7569, "froc_auc_std": 0.0184,
               "model": "GM candidates, fos + Gabor + wavelet + Haar features, cascaded SVM"},
    "resnet-saliency": {"froc_auc": 0.6787, "froc_auc_std": 0.0188,
                        "model": "16 px patch ResNet saliency map, stride 8"},
    "faster-rcnn": {"froc_auc": 0.8092, "froc_auc_std": 0.0141, "ap50_validation_windows": 0.90434,
                    "ar_validation_windows": 0.748859,
                    "model": "Faster R-CNN, DenseNet-121 backbone (pipelines/faster-rcnn.yaml ships a ResNet-18 "
                             "FPN; pipelines/faster-rcnn-densenet121.yaml is the study's)"},
}
"""The study's published figures per pipeline name (see :data:`STUDY_SOURCE`)."""


def split_results(evaluation: Path, selected: Sequence[ImageRecord], dataset_ids: set[str]) -> list[ImageResult]:
    """The evaluation's detections paired with the test images' annotations, in the split's order."""
    from calcdet_core.evaluation.scoring import pair_with_records
    from calcdet_core.io.detections_csv import read_detections_csv

    csv_path = Path(evaluation) / "detections.csv"
    results, _ = pair_with_records(selected, read_detections_csv(csv_path), dataset_ids, source=str(csv_path))
    return results


def box_figures(metrics: dict[str, Any], results: Sequence[ImageResult]) -> dict[str, Any]:
    """AP@0.5 and AR@0.5:0.95: the pipeline's box-ap evaluator's, else computed on its detections the same way."""
    from calcdet_core.evaluation.boxes import box_metrics

    if isinstance(metrics.get("box-ap"), dict):
        found, source = metrics["box-ap"], "the pipeline's box-ap evaluator"
    else:
        found, source = box_metrics(results), "box_metrics on the evaluation's detections (default box-ap settings)"
    return {"ap50": found.get("ap50"), "ar": found.get("ar"), "box_size_px": found.get("box_size_px"),
            "detection_boxes": found.get("detection_boxes"), "source": source}


def detection_seconds(metrics: dict[str, Any]) -> float | None:
    """Mean detection seconds per test image, as the evaluation recorded it (None if it did not)."""
    seconds = metrics.get("detection_seconds_per_image")
    if seconds is None and isinstance(metrics.get("candidates"), dict):
        seconds = metrics["candidates"].get("seconds_per_image")
    return seconds


def pipeline_summary(entry: dict[str, Any], metrics: dict[str, Any], results: Sequence[ImageResult]) -> dict[str, Any]:
    """One pipeline's row of the study: what was run and reused, and its figures beside the study's."""
    froc = metrics.get("froc", {})
    seconds = detection_seconds(metrics)
    box = box_figures(metrics, results)
    notes = [] if seconds is not None else ["its evaluation recorded no detection time"]
    if box["detection_boxes"] == "squares":
        notes.append("it predicts no boxes: AP and AR are of the squares its detection radii span")
    return {**entry,
            "froc": {k: froc.get(k) for k in ("auc", "auc_ci95", "auc_bootstrap_std", "crediting", "diameter_px",
                                             "max_fppi", "sensitivity_at")},
            "box": box, "detection_seconds_per_image": seconds, "notes": notes,
            "published": STUDY_FIGURES.get(entry["name"])}


def _settings(metrics: dict[str, Any]) -> tuple[float, str, float]:
    from calcdet_core.evaluation.froc import MAX_FPPI
    from calcdet_core.evaluation.matching import STUDY_DIAMETER_PX

    froc = metrics.get("froc", {})
    return (float(froc.get("diameter_px") or STUDY_DIAMETER_PX), str(froc.get("crediting") or "study"),
            float(froc.get("max_fppi") or MAX_FPPI))


def paired_differences(results: dict[str, list[ImageResult]], metrics: dict[str, dict[str, Any]],
                       seed: int) -> list[dict[str, Any]]:
    """FROC AUC of every pair (first minus second), with a paired bootstrap interval over the same test images."""
    from calcdet_core.evaluation.bootstrap import paired_auc_difference
    from calcdet_core.evaluation.froc import froc_data

    out = []
    for a, b in combinations(results, 2):
        row: dict[str, Any] = {"a": a, "b": b}
        mine, other = _settings(metrics[a]), _settings(metrics[b])
        diameter, crediting, max_fppi = mine
        resamples = int(metrics[a].get("froc", {}).get("bootstrap", {}).get("resamples") or 1000)
        if other != mine:
            row["note"] = f"not compared: FROC settings (diameter, crediting, max FPPI) {mine} and {other} differ"
        else:
            try:
                row |= paired_auc_difference(froc_data(results[a], diameter, crediting),
                                             froc_data(results[b], diameter, crediting), resamples, seed, max_fppi)
            except ValueError as exc:  # no normal image or no target among the test images
                row["note"] = str(exc)
        out.append(row)
    return out


SYNTHETIC_TRUTH = "phantom_truth.json"
"""What ``calcdet phantom`` and ``calcdet insert`` write beside a release: its truth is calcdet's own."""


def data_description(dataset: str, root: Path) -> tuple[str, bool]:
    """What the study ran on, in words, and whether the published INbreast figures compare with it."""
    if (Path(root) / SYNTHETIC_TRUTH).is_file():
        return (f"a release with calcdet's synthetic truth ({SYNTHETIC_TRUTH}: phantoms or inserted MCs), "
                "not INbreast"), False
    if dataset == "inbreast":
        return "INbreast", True
    return f"the {dataset} dataset, not INbreast", False


def _tables(study: dict[str, Any]) -> tuple[list[str], list[list[str]], list[str], list[list[str]], list[str]]:
    """The pipelines table, the differences table and the notes, as cells both study.md and study.html show."""
    from calcdet_core.cli.output import figure, interval

    comparable = study.get("comparable_with_published", False)
    header = ["pipeline", "FROC AUC [95% CI]", "INbreast (published)", "AP@0.5", "AR@0.5:0.95", "s / image",
              "training s (wall / CPU)", "model"]
    rows, notes = [], []
    for p in study["pipelines"]:
        published = p["published"] or {}
        paper = (f"{figure(published['froc_auc'], 4)} +- {figure(published['froc_auc_std'], 4)}"
                 if published else "n/a (the study has no such pipeline)")
        if "ap50_validation_windows" in published:
            paper += (f"; AP@0.5 {figure(published['ap50_validation_windows'])}, AR "
                      f"{figure(published['ar_validation_windows'])} (validation windows)")
        if published and not comparable:
            paper += " (not comparable: other data)"
        boxes = p["box"].get("detection_boxes") != "squares"
        ap, ar = ((figure(p["box"]["ap50"]), figure(p["box"]["ar"])) if boxes
                  else ("n/a (no boxes)", "n/a (no boxes)"))
        rows.append([p["name"], f"{figure(p['froc']['auc'])} {interval(p['froc']['auc_ci95'])}", paper, ap, ar,
                     figure(p["detection_seconds_per_image"], 2),
                     f"{figure(p['training']['wall_seconds'], 0)} / {figure(p['training']['cpu_seconds'], 0)}",
                     "trained" if p["trained_now"] else "reused"])
        notes += [f"{p['name']}: {p['published']['model']} in the study"] if p["published"] else []
        notes += [f"{p['name']} training: {p['training']['source']}"]
        notes += [f"{p['name']}: {n}" for n in p["notes"]]
    differences = [[f"{d['a']} - {d['b']}", d.get("note") or f"{figure(d.get('difference'))} {interval(d.get('ci'))}",
                    figure(d.get("share_above_zero"))] for d in study["differences"]]
    return header, rows, ["difference", "FROC AUC [95% paired CI]", "share of resamples above 0"], differences, notes


def _title(study: dict[str, Any]) -> tuple[str, str]:
    data = study.get("data") or study["dataset"]
    head = f"The study reproduced on {data}: test split (seed {study['seed']})"
    lead = (f"{study['images']} test images ({study['normal_images']} normal, {study['targets']} targets); FROC AUC "
            "over 0-50 FP per normal image with 95% image-bootstrap intervals.")
    if not study.get("comparable_with_published", False):
        lead += (" The published figures are the study's on INbreast: beside these they say what the study "
                 "measured, not what these pipelines should score here.")
    return head, lead


def study_markdown(study: dict[str, Any]) -> str:
    """``study.md``: the tables a person reads, the plot, and where the published figures come from."""
    header, rows, diff_header, differences, notes = _tables(study)
    head, lead = _title(study)

    def table(columns: list[str], body: list[list[str]]) -> list[str]:
        return ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns),
                *("| " + " | ".join(r) + " |" for r in body)]

    lines = [f"# {head}", "", lead, "", *table(header, rows), "", *table(diff_header, differences), "",
             "![FROC curves with 95% bootstrap bands](compare.png)", "", f"Published figures: {STUDY_SOURCE}", "",
             *(f"- {n}" for n in notes)]
    return "\n".join(lines) + "\n"


def study_html(study: dict[str, Any], out: Path) -> str:
    """``study.html``: the same as ``study.md``, self-contained (the plot embedded) like ``calcdet evaluate``'s."""
    import html

    from calcdet_core.evaluation.report import _image, _table, html_head

    header, rows, diff_header, differences, notes = _tables(study)
    head, lead = _title(study)

    def escaped(body: list[list[str]]) -> list[list[str]]:
        return [[html.escape(c) for c in row] for row in body]

    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return html_head(head) + f"""
<h1>{html.escape(head)}</h1>
<p>{html.escape(lead)}</p>
{_table(escaped(rows), [html.escape(h) for h in header])}
{_table(escaped(differences), [html.escape(h) for h in diff_header])}
{_image(out / "compare.png", "FROC curves with 95% bootstrap bands")}
<p class="note">Published figures: {html.escape(STUDY_SOURCE)}</p>
<ul class="note">{items}</ul>
</body></html>
"""


def write_study(out: Path, entries: Sequence[dict[str, Any]], study: Study) -> dict[str, Any]:
    """Read every evaluation, write ``study.json``, ``study.md``, ``study.html`` and ``compare.png`` (+ csv, json)."""
    from calcdet_core.evaluation.compare import compare_runs
    from calcdet_core.evaluation.report import json_ready
    from calcdet_core.run.workflows import load_dataset

    dataset = load_dataset(study.dataset, study.root)
    selected, ids = dataset.select("test", study.seed), {r.image_id for r in dataset.records}
    metrics = {e["name"]: json.loads((Path(e["evaluation"]) / "metrics.json").read_text(encoding="utf-8"))
               for e in entries}
    results = {e["name"]: split_results(Path(e["evaluation"]), selected, ids) for e in entries}
    compare_runs([Path(e["evaluation"]) for e in entries], out, labels=[e["name"] for e in entries])
    first = metrics[entries[0]["name"]]
    data, comparable = data_description(study.dataset.name, study.root)
    summary = json_ready({
        "dataset": study.dataset.name,
        **({"dataset_settings": study.dataset.settings} if study.dataset.settings else {}),
        "root": str(study.root), "data": data, "comparable_with_published": comparable,
        "split": "test", "seed": study.seed,
        "device": study.device, "workers": study.workers, "images": first.get("images"),
        "normal_images": first.get("normal_images"), "targets": first.get("targets"),
        "pipelines": [pipeline_summary(e, metrics[e["name"]], results[e["name"]]) for e in entries],
        "differences": paired_differences(results, metrics, study.seed),
        "published_source": STUDY_SOURCE,
        "files": ["study.json", "study.md", "study.html", "compare.png", "compare.csv", "compare.json"]})
    (out / "study.json").write_text(json.dumps(summary, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    (out / "study.md").write_text(study_markdown(summary), encoding="utf-8")
    (out / "study.html").write_text(study_html(summary, out), encoding="utf-8")
    return summary
