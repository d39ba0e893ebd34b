"""The shipped weights load as a model directory, find MCs on a phantom they never saw, and start a fine-tuning."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from calcdet_phantom import generate_release
from calcdet_point_weights import model_dir, weights_file

from calcdet_core.api import ImageResult, build_component, froc_data
from calcdet_core.io.model_dir import load_model, read_metrics
from calcdet_core.run.detection import detect_record


def test_the_model_directory_loads_checked_and_keeps_its_operating_point():
    pipeline = load_model(model_dir())
    assert pipeline.detector is not None and pipeline.detector.name == "point-heatmap"
    assert read_metrics(model_dir())["operating_point"]["chosen"]


def test_it_finds_mcs_of_phantoms_it_never_saw_above_chance(tmp_path):
    root = generate_release(tmp_path / "release", 8, seed=101, height=1024, width=800)
    pipeline = load_model(model_dir())
    records = build_component("datasets", "inbreast").index(root).records
    data = froc_data([ImageResult(r.image_id, detect_record(pipeline, r), r.annotation) for r in records])
    hits = data.hit_score[np.isfinite(data.hit_score)]
    assert data.n_targets and data.n_normal, "the release holds MCs and normal images"
    assert len(hits) >= 0.2 * data.n_targets, f"{len(hits)} of {data.n_targets} MCs found"
    assert np.median(hits) > np.median(data.fp_score), "MCs score above the false positives of normal images"


def test_its_weights_start_a_fine_tuning_and_the_module_prints_where_they_are():
    detector = build_component("detectors", "point-heatmap", {"initial_weights": str(weights_file())})
    assert detector.config.initial_weights is not None
    printed = subprocess.run([sys.executable, "-m", "calcdet_point_weights", "--weights"], capture_output=True,
                             text=True, check=True).stdout.strip()
    assert printed == str(weights_file())
