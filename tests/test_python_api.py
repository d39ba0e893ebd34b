"""The user API (`import calcdet`): what it refuses, what it keeps, and that it stays light to import."""

from __future__ import annotations

import gc
import subprocess
import sys

import numpy as np
import pytest
from calcdet_phantom.release import generate_release

import calcdet
from calcdet_core.io.model_dir import ModelDirError
from calcdet_core.run.pipeline import PipelineValidationError

TINY = {"name": "tiny", "proposer": {"plugin": "gm", "params": {"first_quantile": 0.8, "second_quantile": 0.5}},
        "features": [{"plugin": "fos"}], "classifier": {"plugin": "svm-cascade", "params": {"max_train_samples": 400}}}


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    return generate_release(tmp_path_factory.mktemp("release"), 14, seed=1, height=640, width=512)


@pytest.fixture(scope="module")
def model(release):
    return calcdet.Pipeline.from_dict(TINY).fit("inbreast", release, progress=False)


def test_import_loads_no_numerical_library():
    heavy = "('numpy', 'pydicom', 'torch', 'calcdet_core')"
    code = f"import sys, calcdet; print(sorted(m for m in {heavy} if m in sys.modules))"
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert shown.strip() == "[]"


def test_a_dict_pipeline_is_validated_whole_and_settings_by_path():
    with pytest.raises(PipelineValidationError) as error:
        calcdet.Pipeline.from_dict({**TINY, "proposer": {"plugin": "gmm"}, "classifier": {"plugin": "svm-cascade",
                                                                                         "params": {"C": -1}}})
    assert {issue.path for issue in error.value.issues} == {"proposer.plugin", "classifier.params.C"}
    changed = calcdet.Pipeline.from_dict(TINY, {"classifier.params.C": 3.0, "operating_point.fppi": 0.5})
    assert changed.resolved()["classifier"]["params"]["C"] == 3.0 and changed.resolved()["operating_point"] == {
        "fppi": 0.5}
    with pytest.raises(calcdet.CalcdetError, match=r"setting features\[1\]\.params\.x: index \[1\] is past the 1"):
        changed.with_settings({"features[1].params.x": 1})


def test_an_unknown_yaml_or_shipped_name_is_refused_with_the_shipped_names():
    with pytest.raises(calcdet.CalcdetError, match=r"no shipped pipeline is named 'aia-m'.*aia-ml-demo"):
        calcdet.Pipeline.from_yaml("aia-m")


def test_array_and_dicom_give_the_same_detections_in_the_stored_grid(model, release):
    import pydicom

    path = sorted((release / "AllDICOMs").glob("*.dcm"))[0]
    header = pydicom.dcmread(path)
    from_file = model.detect(path)
    from_array = model.detect(header.pixel_array, spacing_mm=(0.07, 0.07), laterality=header.ImageLaterality)
    assert len(from_file) > 0 and from_file.score.tolist() == from_array.score.tolist()
    assert from_file.x.max() < header.Columns and from_file.y.max() < header.Rows
    assert list(from_file.score) == sorted(from_file.score, reverse=True)
    assert from_array.image_id == "array" and from_file.image_id == path.stem


@pytest.mark.parametrize(("pixels", "options", "message"), [
    (np.zeros((4, 5, 3), np.uint16), {}, "expected a non-empty 2-D image"),
    (np.zeros((40, 50), bool), {}, "expected integer or float pixels"),
    (np.ones((40, 50), np.uint16), {"spacing_mm": 2.0}, "spacing_mm must be"),
    (np.ones((40, 50), np.uint16), {"laterality": "left"}, "laterality must be"),
    (np.ones((40, 50), np.uint16), {"image_id": "flat"}, "flat: image is constant"),
])
def test_an_unusable_array_is_refused_by_name(model, pixels, options, message):
    with pytest.raises(calcdet.CalcdetError, match=message):
        model.detect(pixels, **options)


def test_findings_follow_min_score_and_need_a_threshold(model, release):
    path = sorted((release / "AllDICOMs").glob("*.dcm"))[0]
    every = model.detect(path, min_score="all")
    assert every.is_finding.all() and len(every.findings()) == len(every)
    cut = float(np.median(every.score))
    half = model.detect(path, min_score=cut)
    assert len(half.findings()) == int(np.count_nonzero(every.score >= cut))
    assert [row["finding"] for row in half.to_records()] == list(half.score >= cut)
    frame = half.to_dataframe()
    assert list(frame.columns) == ["image_id", "x", "y", "radius", "score", "finding"] and len(frame) == len(half)
    if model.operating_point is None:  # a tiny release may have no normal validation image
        with pytest.raises(calcdet.CalcdetError, match="no operating point"):
            model.detect(path).findings()


def test_to_dataframe_without_pandas_says_what_to_install(model, release, monkeypatch):
    found = model.detect(sorted((release / "AllDICOMs").glob("*.dcm"))[0])
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(calcdet.CalcdetError, match="pip install pandas"):
        found.to_dataframe()


def test_save_copies_a_loadable_model_and_refuses_to_overwrite_one(model, release, tmp_path):
    saved = model.save(tmp_path / "saved")
    again = calcdet.load_model(saved)
    path = sorted((release / "AllDICOMs").glob("*.dcm"))[1]
    assert again.detect(path).score.tolist() == model.detect(path).score.tolist()
    with pytest.raises(calcdet.CalcdetError, match="already holds a trained model"):
        model.save(saved)
    (saved / "pipeline.yaml").write_text("name: changed\n")
    with pytest.raises(ModelDirError, match=r"pipeline\.yaml"):
        calcdet.load_model(saved)


def test_a_model_trained_without_out_is_deleted_with_its_object(release, capfd):
    trained = calcdet.Pipeline.from_dict({"name": "gm-only", "proposer": {"plugin": "gm"}}).fit(
        "inbreast", release, progress=False)
    assert capfd.readouterr().err == ""  # progress=False: nothing on stderr
    folder = trained.directory
    assert (folder / "checksums.json").is_file()
    del trained
    gc.collect()
    assert not folder.exists()


def test_dataset_options_are_checked_before_training_and_reach_the_adapter(model, release, tmp_path):
    with pytest.raises(calcdet.CalcdetError, match=r"dataset_options max_mc_diameter: unknown inbreast setting "
                                                   r"'max_mc_diameter'; did you mean 'max_mc_diameter_mm'\?"):
        calcdet.Pipeline.from_dict(TINY).fit("inbreast", release, out=tmp_path / "never",
                                             dataset_options={"max_mc_diameter": 0.3})
    assert not (tmp_path / "never").exists()
    default = model.evaluate("inbreast", release, tmp_path / "default", progress=False)
    strict = model.evaluate("inbreast", release, tmp_path / "strict", progress=False,
                            dataset_options={"max_mc_diameter_mm": 0.3})
    assert strict.metrics["dataset_settings"] == {"max_mc_diameter_mm": 0.3}
    assert 0 < strict.metrics["targets"] < default.metrics["targets"], "MCs over 0.3 mm become ignore regions"
