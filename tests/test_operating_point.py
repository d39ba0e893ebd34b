"""A model's operating point: chosen on the validation split at training, kept, shown, and measured on test."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from calcdet_phantom.release import generate_release

from calcdet_core.evaluation.froc import FrocData
from calcdet_core.evaluation.operating import at_threshold, choose_operating_point


def events(fp: list[float], hits: list[float], normal: int = 2) -> FrocData:
    """FROC events of ``normal`` normal images (FPs spread over them) and one abnormal image holding the targets."""
    images = normal + 1
    return FrocData(tuple(f"i{k}" for k in range(images)), np.array([True] * normal + [False]),
                    np.array(fp, float), np.arange(len(fp)) % normal, np.array(hits, float),
                    np.full(len(hits), normal))


def test_the_lowest_threshold_within_the_fp_budget_is_chosen():
    data = events(fp=[0.9, 0.5, 0.3, 0.1], hits=[0.95, 0.6, 0.2, np.nan])
    point, note = choose_operating_point(data, target_fppi=1.0)  # 2 normal images: at most 2 FPs
    assert note == "" and point.threshold == 0.5
    assert (point.fppi, point.sensitivity) == (1.0, 0.5)
    assert at_threshold(data, point.threshold) == {"fppi": 1.0, "sensitivity": 0.5}
    assert choose_operating_point(data, target_fppi=0.0)[0].threshold == 0.95


def test_a_budget_the_curve_never_reaches_keeps_every_detection_and_says_so():
    point, note = choose_operating_point(events(fp=[0.4], hits=[0.8, 0.3]), target_fppi=5.0)
    assert point.threshold == 0.3 and point.sensitivity == 1.0
    assert "reaches only 0.5 FP per normal image, below the 5" in note


@pytest.mark.parametrize(("data", "reason"), [(events([], [0.5], normal=0), "0 normal images"),
                                              (events([0.4], []), "0 MCs; a FROC needs both"),
                                              (events([], [np.nan]), "no detection")])
def test_no_operating_point_without_a_froc_to_choose_on(data, reason):
    point, note = choose_operating_point(data, 1.0)
    assert point is None and reason in note


def calcdet(*args, fails: bool = False) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "calcdet_core", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="250"), timeout=300)
    assert (done.returncode != 0) == fails, done.stderr
    return done


def test_train_keeps_it_model_show_prints_it_and_evaluate_measures_it_on_test(tmp_path):
    root = generate_release(tmp_path / "release", 12, seed=3, height=384, width=288)
    (tmp_path / "gm.yaml").write_text("name: gm-only\nproposer: {plugin: gm}\noperating_point: {fppi: 2.0}\n")
    trained = calcdet("train", tmp_path / "gm.yaml", "--dataset", "inbreast", "--root", root, "--out",
                      tmp_path / "model")
    stored = json.loads((tmp_path / "model" / "training_metrics.json").read_text())["operating_point"]
    assert stored["chosen"] and stored["target_fppi"] == 2.0 and stored["fppi"] <= 2.0
    assert f"findings at score >= {stored['threshold']:.4g}" in trained.stdout
    shown = calcdet("model", "show", tmp_path / "model").stdout
    assert "pipeline gm-only" in shown and f"findings at score >= {stored['threshold']:.4g}" in shown
    calcdet("evaluate", tmp_path / "model", "--dataset", "inbreast", "--root", root, "--out", tmp_path / "eval")
    measured = json.loads((tmp_path / "eval" / "metrics.json").read_text())["operating_point"]
    assert measured["threshold"] == stored["threshold"] and set(measured["test"]) == {"fppi", "sensitivity"}
    assert measured["validation"] == {"fppi": stored["fppi"], "sensitivity": stored["sensitivity"]}
    assert 0 < measured["findings_per_image"] < json.loads((tmp_path / "eval" / "metrics.json").read_text())[
        "detections"], "findings are the few detections at the operating point, not every scored candidate"
    worst = json.loads((tmp_path / "eval" / "metrics.json").read_text())["worst_images"]
    assert worst["findings_from_score"] == stored["threshold"]
    drawn = {p.stem for p in (tmp_path / "eval" / "worst").glob("*.png")}
    named = {part.split(" (")[0] for key in ("most_missed_mcs", "most_false_positives")
             for part in worst[key].split(", ") if part != "none"}
    assert drawn == named and drawn, "each listed worst image is drawn, and only those"
    assert "worst_images figure" in (tmp_path / "eval" / "report.html").read_text()
    findings_reach_overlays_and_the_sr_at_the_operating_point(tmp_path, root, stored["threshold"])


def findings_reach_overlays_and_the_sr_at_the_operating_point(tmp_path, root, threshold):
    from calcdet_clusters.sr import read_detections

    dicoms = sorted((root / "AllDICOMs").glob("*.dcm"))[:2]
    calcdet("detect", tmp_path / "model", *dicoms, "--out", tmp_path / "d.csv", "--overlay", tmp_path / "o",
            "--dicom-sr", tmp_path / "sr")
    assert len(list((tmp_path / "o").glob("*.png"))) == 2
    written = read_detections(next((tmp_path / "sr").glob("*.sr.dcm")))
    assert written["parameters"]["min_score"].startswith(f"{threshold!r} (the run's --min-score")
    assert (written["score"] >= threshold).all()
    refused = calcdet("detect", tmp_path / "model", *dicoms, "--out", tmp_path / "e.csv", "--min-score", "some",
                      fails=True)
    assert "--min-score: expected auto, all or a score, got 'some'" in refused.stderr
    refused = calcdet("detect", tmp_path / "gm.yaml", *dicoms, "--out", tmp_path / "e.csv", "--overlay",
                      tmp_path / "p", fails=True)
    assert "has no operating point (a pipeline YAML is not trained); give --min-score SCORE" in refused.stderr
    calcdet("detect", tmp_path / "gm.yaml", *dicoms, "--out", tmp_path / "e.csv", "--overlay", tmp_path / "p",
            "--min-score", "all")


def test_a_pipeline_that_asks_for_none_records_why(tmp_path):
    root = generate_release(tmp_path / "release", 8, seed=3, height=256, width=192)
    (tmp_path / "gm.yaml").write_text("name: gm-only\nproposer: {plugin: gm}\noperating_point: null\n")
    calcdet("train", tmp_path / "gm.yaml", "--dataset", "inbreast", "--root", root, "--out", tmp_path / "model")
    stored = json.loads((tmp_path / "model" / "training_metrics.json").read_text())["operating_point"]
    assert stored == {"chosen": False, "reason": "the pipeline asks for none (operating_point: null)"}
