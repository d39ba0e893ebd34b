"""``training.transform``: a detector trained on normal images with MCs inserted afresh every epoch (mc-insertion)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from calcdet_phantom import generate_release

from calcdet_core.api import build_component

DETECTOR = "{plugin: point-heatmap, params: {widths: [4, 8, 16], window: 64, windows_per_image: 8, epochs: 2}}"


def calcdet(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, timeout=600)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return generate_release(tmp_path_factory.mktemp("data") / "release", n_images=24, seed=5, height=480, width=384)


def test_a_detector_learns_from_normal_images_with_insertions_only(release, tmp_path):
    (tmp_path / "p.yaml").write_text(f"name: inserted\ndetector: {DETECTOR}\ntraining:\n  transform:\n"
                                     "    plugin: mc-insertion\n    params: {images: normal}\n")
    done = calcdet("train", str(tmp_path / "p.yaml"), "--dataset", "inbreast", "--root", str(release),
                   "--out", str(tmp_path / "model"), "--device", "cpu")
    assert done.returncode == 0, done.stderr
    facts = json.loads((tmp_path / "model" / "training_metrics.json").read_text())
    normals = sum(r.is_normal for r in build_component("datasets", "inbreast").index(release).records)
    train = facts["train"]
    assert 0 < train["images"] <= normals, "only normal images are trained on"
    assert train["targets"] > 0 and train["normal_images"] < train["images"], "inserted MCs are the targets"
    resolved = (tmp_path / "model" / "pipeline.yaml").read_text()
    assert "mc-insertion" in resolved, "the model directory records the transform it was trained with"


def test_a_transform_is_refused_where_it_cannot_work_naming_the_key(release, tmp_path):
    proposer = "name: p\nproposer: {plugin: hdog}\ntraining: {transform: {plugin: mc-insertion}}\n"
    (tmp_path / "proposer.yaml").write_text(proposer)
    done = calcdet("validate", str(tmp_path / "proposer.yaml"))
    assert done.returncode != 0 and "training.transform: only a detector" in done.stderr
    (tmp_path / "big.yaml").write_text(f"name: b\ndetector: {DETECTOR}\ntraining:\n  transform:\n"
                                       "    plugin: mc-insertion\n    params: {mcs: {high_mm: 4}}\n")
    done = calcdet("validate", str(tmp_path / "big.yaml"))
    assert done.returncode != 0 and "training.transform.params: mc-insertion: mcs.high_mm" in done.stderr
