"""``--set PATH=VALUE``: one setting changed without a copy of the YAML, checked like the YAML itself."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml
from calcdet_phantom.release import generate_release

from calcdet_core.run.overrides import OverrideError, apply_overrides
from calcdet_core.run.pipeline import PipelineValidationError, load_pipeline

DOC = {"name": "p", "proposer": {"plugin": "gm", "params": {}},
       "features": [{"plugin": "fos", "params": {"patch_size": 7}}, {"plugin": "haar", "params": {"cv_folds": 5}}]}


def test_values_are_yaml_and_land_at_their_path_without_touching_the_original():
    out = apply_overrides(DOC, ["features[1].params.cv_folds=3", "features[0].params.patch_size=[8, 8]",
                                "proposer.params=null"])
    assert out["features"][1]["params"]["cv_folds"] == 3 and out["features"][0]["params"]["patch_size"] == [8, 8]
    assert out["proposer"]["params"] is None
    assert DOC["features"][1]["params"]["cv_folds"] == 5 and DOC["features"][0]["params"]["patch_size"] == 7


def test_defaults_the_yaml_leaves_out_can_be_set_and_unknown_parameters_are_named(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "p", "proposer": {"plugin": "gm"}}))
    pipeline = load_pipeline(path, overrides=["operating_point.fppi=0.5", "preprocess.flip_to_left=false"])
    assert pipeline.spec.operating_point.fppi == 0.5 and not pipeline.spec.preprocess.flip_to_left
    with pytest.raises(OverrideError, match=r"'nonexistent' names nothing here; it holds"):
        load_pipeline(path, overrides=["proposer.params.nonexistent=1"])


@pytest.mark.parametrize(("setting", "message"), [
    ("detectr.params.epochs=3", "'detectr' names nothing here; it holds name, proposer, features"),
    ("feature[1].params.cv_folds=3", "did you mean 'features'"),
    ("features[4].params.cv_folds=3", r"index \[4\] is past the 2 entries"),
    ("features[1].params.cv_folds", "--set expects PATH=VALUE"),
    ("features..x=1", "not a setting path"),
    ("features[1].params.cv_folds=[1", "is not YAML"),
])
def test_a_path_that_names_nothing_is_refused_with_what_it_may_have_meant(setting, message):
    with pytest.raises(OverrideError, match=message):
        apply_overrides(DOC, [setting])


def test_a_wrong_value_or_parameter_name_is_refused_at_its_path(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"name": "p", "proposer": {"plugin": "gm"}}))
    with pytest.raises(PipelineValidationError, match=r"preprocess\.working_spacing_mm"):
        load_pipeline(path, overrides=["preprocess.working_spacing_mm=abc"])


def test_train_keeps_the_overridden_setting_in_the_models_pipeline(tmp_path):
    root = generate_release(tmp_path / "release", 6, seed=1, height=256, width=192)
    (tmp_path / "p.yaml").write_text("name: gm-only\nproposer: {plugin: gm}\n")
    done = subprocess.run([sys.executable, "-m", "calcdet_core", "train", str(tmp_path / "p.yaml"), "--dataset",
                           "inbreast", "--root", str(root), "--out", str(tmp_path / "model"),
                           "--set", "operating_point.fppi=0.5"], capture_output=True, text=True,
                          env=dict(os.environ, COLUMNS="200"), timeout=300)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((tmp_path / "model" / "pipeline.yaml").read_text())["operating_point"] == {"fppi": 0.5}


def test_detect_takes_set_on_a_pipeline_yaml_and_refuses_it_on_a_trained_model(tmp_path):
    root = generate_release(tmp_path / "release", 4, seed=1, height=256, width=192)
    (tmp_path / "p.yaml").write_text("name: gm-only\nproposer: {plugin: gm}\n")

    def detect(model, out, *extra):
        return subprocess.run([sys.executable, "-m", "calcdet_core", "detect", str(model), "--dataset", "inbreast",
                               "--root", str(root), "--out", str(tmp_path / out), *extra], capture_output=True,
                              text=True, env=dict(os.environ, COLUMNS="200"), timeout=300)

    plain, strict = detect(tmp_path / "p.yaml", "a.csv"), detect(
        tmp_path / "p.yaml", "b.csv", "--set", "proposer.params.first_quantile=0.999")
    assert plain.returncode == 0 and strict.returncode == 0, strict.stderr
    rows = [len((tmp_path / name).read_text().splitlines()) for name in ("a.csv", "b.csv")]
    assert rows[1] < rows[0], "a stricter quantile proposes fewer candidates"
    trained = tmp_path / "model"
    done = subprocess.run([sys.executable, "-m", "calcdet_core", "train", str(tmp_path / "p.yaml"), "--dataset",
                           "inbreast", "--root", str(root), "--out", str(trained)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    refused = detect(trained, "c.csv", "--set", "proposer.params.first_quantile=0.999")
    assert refused.returncode == 1 and "--set changes a pipeline YAML" in refused.stderr
