"""Preflight: a pipeline whose settings the data cannot meet is refused before any work, naming the fix."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from calcdet_phantom.release import generate_release

from calcdet_core.api import DataNeed, SplitFacts


def calcdet(*args) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "calcdet_core", *map(str, args)], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="250"), timeout=300)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return generate_release(tmp_path_factory.mktemp("data") / "release", 30, seed=2, height=192, width=160)


def test_haar_folds_against_training_patients_refused_at_validate_and_train_with_the_set_that_fits(release, tmp_path):
    from calcdet_core.api import build_component
    from calcdet_core.run.workflows import load_dataset

    patients = len({r.patient_id for r in load_dataset("inbreast", release).split(0)["train"]})
    assert 2 <= patients < 5, "the 30-image release's train split has fewer patients than Haar's 5 folds"
    yaml = (tmp_path / "p.yaml")
    yaml.write_text("name: p\nproposer: {plugin: gm}\nfeatures: [{plugin: fos}, {plugin: haar}]\n"
                    "classifier: {plugin: svm-cascade}\n")
    expected = (f"features[1].params.cv_folds: 5-fold patient-grouped cross-validation needs at least 5 training "
                f"patients; the train split has {patients} (--set features[1].params.cv_folds={patients} fits)")
    checked = calcdet("validate", yaml, "--dataset", "inbreast", "--root", release)
    assert checked.returncode == 1 and expected in checked.stderr
    trained = calcdet("train", yaml, "--dataset", "inbreast", "--root", release, "--out", tmp_path / "model")
    assert trained.returncode == 1 and expected in trained.stderr and "Traceback" not in trained.stderr
    assert not (tmp_path / "model" / "work").exists(), "refused before any work"
    haar = build_component("features", "haar", {"cv_folds": patients})
    assert haar.data_needs(SplitFacts(6, patients, 3, 20), SplitFacts(2, 1, 1, 5)) == []
    assert build_component("features", "haar").data_needs(SplitFacts(6, 1, 3, 20), SplitFacts(2, 1, 1, 5)) == [
        DataNeed("cv_folds", "5-fold patient-grouped cross-validation needs at least 5 training patients; the "
                             "train split has 1", None)]
