"""`calcdet tune`, the command this plugin registers: the Appendix 1 grid on a pipeline's training candidates."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from calcdet_svm.plugin import calcdet_register_commands
from typer.testing import CliRunner

from calcdet_core.api import CalcdetUserError, write_dicom
from calcdet_core.testing import add_disks, textured_background

PIPELINE = """
name: tiny-tune
proposer: {plugin: gm, params: {first_quantile: 0.8, second_quantile: 0.5, border_erosion: 2}}
features: [{plugin: fos}]
classifier: {plugin: CLASSIFIER, params: PARAMS}
"""


def write_pipeline(folder: Path, classifier: str, params: str) -> Path:
    path = folder / f"{classifier}.yaml"
    path.write_text(PIPELINE.replace("CLASSIFIER", classifier).replace("PARAMS", params))
    return path


@pytest.fixture(scope="module")
def app() -> typer.Typer:
    """A command-line app holding what the plugin registers, as calcdet's own app would."""
    cli = typer.Typer()

    @cli.callback()
    def _root() -> None:
        """Test app."""

    calcdet_register_commands(cli)
    return cli


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    """A 'folder' dataset: 16 patients, one 128x128 DICOM each with four MCs in a breast-like region."""
    root = tmp_path_factory.mktemp("folder")
    rows = ["image,x,y,diameter,patient"]
    yy, xx = np.mgrid[:128, :128]
    breast = (xx / 110.0) ** 2 + ((yy - 63.5) / 70.0) ** 2 <= 1.0
    for i in range(16):
        rng = np.random.default_rng(i)
        disks = [(float(x), float(y), float(rng.uniform(1.5, 3.0)), 0.25)
                 for x, y in zip(rng.uniform(15, 65, 4), np.linspace(25, 103, 4) + rng.uniform(-5, 5, 4), strict=True)]
        pixels = np.where(breast, add_disks(textured_background((128, 128), seed=i), disks), 0.0)
        write_dicom(root / f"case{i:02d}.dcm", np.round(pixels * 16383).astype(np.uint16), laterality="L", view="CC",
                    patient_id=f"p{i:02d}")
        rows += [f"case{i:02d},{x:.2f},{y:.2f},{2 * r:.2f},p{i:02d}" for x, y, r, _ in disks]
    (root / "annotations.csv").write_text("\n".join(rows) + "\n")
    return root


def test_tune_searches_the_appendix_grid_on_the_train_split(app, dataset, tmp_path):
    pipeline = write_pipeline(tmp_path, "svm-cascade", "{tune_folds: 2, tune_max_samples: 120}")
    out = tmp_path / "reports" / "tuning.json"
    result = CliRunner().invoke(app, ["tune", str(pipeline), "--dataset", "folder", "--root", str(dataset),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["classifier"] == "svm-cascade" and report["dataset"] == "folder" and report["seed"] == 0
    assert len(report["grid"]) == 27 and report["folds"] == 2 and report["rows"] <= 120
    assert report["candidates"]["tp"] > 0 and report["candidates"]["images"] < 16, "the train split only"
    scored = [row for row in report["grid"] if row["score"] is not None]
    best = max(scored, key=lambda row: row["score"])
    assert report["best_score"] == pytest.approx(best["score"])
    assert report["best"] == {k: v for k, v in best.items() if k != "score"}
    chosen = ", ".join(f"{k}: {v}" for k, v in report["best"].items())
    assert f"best: classifier: {{plugin: svm-cascade, params: {{{chosen}}}}}" in result.output
    assert not (tmp_path / "reports" / "tuning.json.work").exists(), "the per-image work folder is removed"


def test_a_classifier_without_an_svm_is_refused_before_any_image_is_read(app, tmp_path):
    pipeline = write_pipeline(tmp_path, "random-forest", "{n_estimators: 5}")
    empty = tmp_path / "empty"  # indexing it would fail: the refusal must come first
    empty.mkdir()
    result = CliRunner().invoke(app, ["tune", str(pipeline), "--dataset", "folder", "--root", str(empty),
                                      "--out", str(tmp_path / "t.json")])
    assert isinstance(result.exception, CalcdetUserError)
    assert "random-forest" in str(result.exception) and "svm-cascade" in str(result.exception)
    assert not (tmp_path / "t.json").exists()
