"""The model directory: what training writes, and every way loading refuses a directory it cannot trust."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from calcdet_core.io.model_dir import ModelDirError, load_model, save_model, sha256
from calcdet_core.run.detection import detect_record
from calcdet_core.run.executor import SerialExecutor
from calcdet_core.run.pipeline import build_pipeline
from calcdet_core.run.sources import ImageSource
from calcdet_core.run.training import train_pipeline
from tests.synthetic_mammograms import synthetic_record

SMALL = {"name": "small", "proposer": {"plugin": "gm"}, "features": [{"plugin": "fos"}],
         "classifier": {"plugin": "svm-cascade", "params": {"max_train_samples": 300}}}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> tuple[Path, object]:
    records = [synthetic_record(i) for i in range(8)]
    pipeline = build_pipeline(SMALL)
    metrics = train_pipeline(pipeline, ImageSource(records[:4]), ImageSource(records[4:7]), SerialExecutor(),
                             tmp_path_factory.mktemp("work"))
    directory = tmp_path_factory.mktemp("models") / "small"
    save_model(directory, pipeline, metrics)
    return directory, pipeline


@pytest.fixture
def copy(model, tmp_path) -> Path:
    import shutil

    return Path(shutil.copytree(model[0], tmp_path / "copy"))


def test_layout_and_round_trip(model):
    directory, pipeline = model
    names = {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}
    assert {"pipeline.yaml", "plugins.json", "training_metrics.json", "checksums.json",
            "components/classifier-svm-cascade/classifier.json"} <= names
    assert not any(n.endswith((".pkl", ".pickle", ".joblib")) for n in names)
    plugins = json.loads((directory / "plugins.json").read_text())
    assert {(p["slot"], p["name"], p["distribution"]) for p in plugins} >= {
        ("proposer", "gm", "calcdet-gm"), ("classifier", "svm-cascade", "calcdet-svm")}
    record = synthetic_record(9)
    np.testing.assert_array_equal(detect_record(load_model(directory), record).score,
                                  detect_record(pipeline, record).score)


def test_changed_file_is_refused_by_name(copy):
    target = copy / "components" / "classifier-svm-cascade" / "stage1.skops"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    with pytest.raises(ModelDirError, match=r"stage1\.skops: SHA-256 does not match"):
        load_model(copy)


def test_added_and_missing_files_are_refused(copy):
    (copy / "components" / "classifier-svm-cascade" / "extra.skops").write_bytes(b"x")
    (copy / "training_metrics.json").unlink()
    with pytest.raises(ModelDirError) as err:
        load_model(copy)
    assert "extra.skops: not covered" in str(err.value) and "training_metrics.json: listed" in str(err.value)


def test_swapped_model_with_forged_checksums_is_still_refused(copy):
    """Even an attacker who rewrites checksums.json cannot make skops load unexpected types."""
    import skops.io as sio
    from sklearn.linear_model import LogisticRegression

    target = copy / "components" / "classifier-svm-cascade" / "stage1.skops"
    sio.dump(LogisticRegression().fit(np.random.default_rng(0).normal(size=(20, 17)), np.arange(20) % 2), target)
    sums = json.loads((copy / "checksums.json").read_text())
    sums["files"]["components/classifier-svm-cascade/stage1.skops"] = sha256(target)
    (copy / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(ValueError, match="LogisticRegression"):
        load_model(copy)


def test_missing_or_different_plugins_are_named(copy):
    plugins = json.loads((copy / "plugins.json").read_text())
    for p in plugins:
        if p["slot"] == "proposer":
            p["name"] = "no-such-proposer"
        if p["slot"] == "classifier":
            p["version"] = "9.9.9"
    (copy / "plugins.json").write_text(json.dumps(plugins))
    sums = json.loads((copy / "checksums.json").read_text())
    sums["files"]["plugins.json"] = sha256(copy / "plugins.json")
    (copy / "checksums.json").write_text(json.dumps(sums))
    with pytest.raises(ModelDirError) as err:
        load_model(copy)
    message = str(err.value)
    assert "'no-such-proposer'" in message and "not installed" in message
    assert "trained with calcdet-svm 9.9.9" in message


def test_not_a_model_directory(tmp_path):
    with pytest.raises(ModelDirError, match=r"not a .*model directory"):
        load_model(tmp_path)


def test_existing_model_is_not_overwritten(model):
    directory, pipeline = model
    with pytest.raises(ValueError, match="already holds a trained model"):
        save_model(directory, pipeline, {})
