"""`calcdet train`, `detect` and `evaluate` as a user runs them, on a small phantom release read as INbreast."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.io.dicom import read_dicom

PIPELINE = """
name: tiny-aia-ml
proposer: {plugin: gm, params: {first_quantile: 0.8, second_quantile: 0.5}}
features: [{plugin: fos}]
classifier: {plugin: svm-cascade, params: {max_train_samples: 400}}
"""


app = create_app()


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    return generate_release(tmp_path_factory.mktemp("release"), 14, seed=1, height=640, width=512)


@pytest.fixture(scope="module")
def model(runner, release, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("run")
    (folder / "pipeline.yaml").write_text(PIPELINE)
    out = folder / "model"
    result = runner.invoke(app, ["train", str(folder / "pipeline.yaml"), "--dataset", "inbreast",
                                 "--root", str(release), "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_train_writes_a_model_directory(model):
    assert (model / "checksums.json").is_file() and not (model / "work").exists()
    metrics = json.loads((model / "training_metrics.json").read_text())
    assert metrics["train"]["tp"] > 0 and metrics["dataset"]["name"] == "inbreast"


def test_detect_on_a_split_writes_stored_grid_rows_named_by_file_name(runner, model, release, tmp_path):
    out = tmp_path / "detections.csv"
    result = runner.invoke(app, ["detect", str(model), "--dataset", "inbreast", "--root", str(release),
                                 "--split", "test", "--out", str(out), "--overlay", str(tmp_path / "overlays"),
                                 "--min-score", "all"])  # this release's validation split has no normal image
    assert result.exit_code == 0, result.output
    rows = read_rows(out)
    assert rows and list(rows[0]) == ["image_id", "x", "y", "radius", "score", "finding"]
    assert {row["finding"] for row in rows} == {"1"}, "--min-score all: every detection is a finding"
    files = {p.name.split("_")[0]: p for p in (release / "AllDICOMs").glob("*.dcm")}
    for row in rows[:50]:
        h, w = read_dicom(files[row["image_id"]]).pixels.shape
        assert 0 <= float(row["x"]) < w and 0 <= float(row["y"]) < h
    pngs = list((tmp_path / "overlays").glob("*.png"))
    assert pngs and pngs[0].read_bytes().startswith(b"\x89PNG")
    assert not out.with_name(out.name + ".work").exists(), "the work folder goes once the CSV is complete"


def test_detect_dicom_inputs_with_a_proposer_only_pipeline(runner, release, tmp_path):
    (tmp_path / "gm.yaml").write_text("name: gm\nproposer: {plugin: gm}\n")
    dicoms = sorted((release / "AllDICOMs").glob("*.dcm"))[:2]
    shutil.copy(dicoms[1], tmp_path / dicoms[1].name)
    out = tmp_path / "candidates.csv"
    result = runner.invoke(app, ["detect", str(tmp_path / "gm.yaml"), str(dicoms[0]), str(tmp_path),
                                 "--out", str(out), "--workers", "1"])
    assert result.exit_code == 0, result.output
    assert {r["image_id"] for r in read_rows(out)} == {d.stem for d in dicoms}


def test_evaluate_scores_the_test_split(runner, model, release, tmp_path):
    result = runner.invoke(app, ["evaluate", str(model), "--dataset", "inbreast", "--root", str(release),
                                 "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert 0 <= metrics["froc"]["auc"] <= 1 and metrics["split"] == "test"
    assert (tmp_path / "report.html").is_file() and (tmp_path / "detections.csv").is_file()


def test_tampered_model_is_refused_with_the_reason(runner, model, release, tmp_path):
    copy = Path(shutil.copytree(model, tmp_path / "model"))
    stage1 = next(copy.rglob("stage1.skops"))
    stage1.write_bytes(stage1.read_bytes()[:-10] + bytes(10))
    result = runner.invoke(app, ["detect", str(copy), "--dataset", "inbreast", "--root", str(release),
                                 "--out", str(tmp_path / "d.csv")])
    assert result.exit_code == 1
    assert "stage1.skops: SHA-256 does not match" in result.output
    assert not (tmp_path / "d.csv").exists()


def test_untrained_pipeline_is_refused_by_detect(runner, release, tmp_path):
    (tmp_path / "p.yaml").write_text(PIPELINE)
    result = runner.invoke(app, ["detect", str(tmp_path / "p.yaml"), "--dataset", "inbreast",
                                 "--root", str(release), "--out", str(tmp_path / "d.csv")])
    assert result.exit_code == 1 and "must be trained first" in result.output


def test_same_detections_with_two_workers(runner, model, release, tmp_path):
    runs = {}
    for workers in ("1", "2"):
        out = tmp_path / f"d{workers}.csv"
        result = runner.invoke(app, ["detect", str(model), "--dataset", "inbreast", "--root", str(release),
                                     "--split", "validation", "--out", str(out), "--workers", workers])
        assert result.exit_code == 0, result.output
        runs[workers] = np.array([[float(r[c]) for c in ("x", "y", "radius", "score")] for r in read_rows(out)])
    np.testing.assert_array_equal(runs["1"], runs["2"])
