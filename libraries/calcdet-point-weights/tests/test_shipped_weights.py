"""The shipped weights load as a model directory, find MCs on phantoms they never saw, and start a fine-tuning."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from calcdet_point_weights import model_dir, weights_file

from calcdet_core.api import Detections, ImageResult, build_component, froc_data, load_pipeline, shipped_weights


def calcdet(*args) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([sys.executable, "-m", "calcdet_core", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="250"), timeout=600)
    assert done.returncode == 0, done.stderr
    return done


def test_the_model_directory_loads_checked_with_its_operating_point():
    shown = calcdet("model", "show", model_dir()).stdout
    assert "pipeline point-heatmap (detector point-heatmap" in shown and "findings at score >= 0.3217" in shown


def test_it_finds_mcs_of_phantoms_it_never_saw_above_the_normal_images_false_positives(tmp_path):
    root = tmp_path / "release"
    calcdet("phantom", root, "--images", 8, "--seed", 101, "--height", 1024, "--width", 800)
    calcdet("detect", model_dir(), "--dataset", "inbreast", "--root", root, "--out", tmp_path / "d.csv")
    rows: dict[str, list[list[float]]] = {}
    with (tmp_path / "d.csv").open() as f:
        for row in csv.DictReader(f):
            rows.setdefault(row["image_id"], []).append([float(row[k]) for k in ("x", "y", "radius", "score")])
    results = []
    for record in build_component("datasets", "inbreast").index(root).records:
        found = np.array(rows.get(record.image_id, []), float).reshape(-1, 4)
        detections = Detections.from_columns(found[:, 0], found[:, 1], found[:, 2], found[:, 3], record.image_id)
        results.append(ImageResult(record.image_id, detections, record.annotation))
    data = froc_data(results)
    hits = data.hit_score[np.isfinite(data.hit_score)]
    assert data.n_targets and data.n_normal, "the release holds MCs and normal images"
    assert len(hits) >= 0.2 * data.n_targets, f"{len(hits)} of {data.n_targets} MCs found"
    assert np.median(hits) > np.median(data.fp_score), "MCs score above the false positives of normal images"


def test_a_model_card_lies_beside_the_weights():
    card = (weights_file().parent / "MODEL_CARD.md").read_text()
    for section in ("## How it was trained", "## Figures", "## Intended use and limits"):
        assert section in card


def test_its_weights_start_a_fine_tuning_and_the_module_prints_where_they_are():
    detector = build_component("detectors", "point-heatmap", {"initial_weights": str(weights_file())})
    assert detector.config.initial_weights is not None
    printed = subprocess.run([sys.executable, "-m", "calcdet_point_weights", "--weights"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert printed == str(weights_file())


def test_a_pipeline_names_them_shipped_point_heatmap_wherever_they_are_installed():
    assert shipped_weights("point-heatmap") == weights_file()
    root = Path(__file__).resolve().parents[3]
    pipeline = load_pipeline(root / "pipelines" / "point-heatmap-pretrained.yaml")
    assert pipeline.detector.config.initial_weights == weights_file()
