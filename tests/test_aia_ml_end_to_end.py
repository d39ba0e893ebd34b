"""The shipped aia-ml-demo pipeline through every command a user runs, on a few small phantoms read as INbreast.

Every plugin of the pipeline takes part (gm, fos, gabor, wavelet, haar, context, svm-cascade,
froc); only costs are shrunk (aia-ml-demo's caps, and fewer Haar features and folds by --set).
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app

SETTINGS = ["--set", "features[3].params.n_selected=40", "--set", "features[3].params.cv_folds=2"]


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> dict[str, Path]:
    app = create_app()
    folder = tmp_path_factory.mktemp("aia-ml")
    release = generate_release(folder / "release", 24, seed=3, height=640, width=512)
    runner = CliRunner()
    model = folder / "model"
    result = runner.invoke(app, ["train", "aia-ml-demo", *SETTINGS, "--dataset", "inbreast", "--root", str(release),
                                 "--out", str(model)])
    assert result.exit_code == 0, result.output
    detections = folder / "test.csv"
    result = runner.invoke(app, ["detect", str(model), "--dataset", "inbreast", "--root", str(release),
                                 "--split", "test", "--out", str(detections)])
    assert result.exit_code == 0, result.output
    for command, out in (("score", folder / "scored"), ("evaluate", folder / "evaluated")):
        args = [str(detections)] if command == "score" else [str(model)]
        result = runner.invoke(app, [command, *args, "--dataset", "inbreast", "--root", str(release),
                                     "--split", "test", "--out", str(out)])
        assert result.exit_code == 0, result.output
    return {"model": model, "detections": detections, "scored": folder / "scored", "evaluated": folder / "evaluated"}


def test_model_holds_every_component_of_the_study_pipeline(run):
    plugins = {p["name"] for p in json.loads((run["model"] / "plugins.json").read_text())}
    assert plugins == {"gm", "fos", "gabor", "wavelet", "haar", "context", "svm-cascade", "froc"}
    metrics = json.loads((run["model"] / "training_metrics.json").read_text())
    assert metrics["features"] == 17 + 30 + 92 + 40 + 9
    assert metrics["classifier"]["threshold_choice"]["source"] in ("validation", "grouped 3-fold out-of-fold "
                                                                   "scores of training rows")


def test_detections_csv_scores_like_evaluate(run):
    with run["detections"].open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and all(float(r["radius"]) > 0 for r in rows)
    scored = json.loads((run["scored"] / "metrics.json").read_text())
    evaluated = json.loads((run["evaluated"] / "metrics.json").read_text())
    assert scored["froc"]["auc"] == pytest.approx(evaluated["froc"]["auc"])
    assert scored["images"] == evaluated["images"] > 0
    assert (run["evaluated"] / "report.html").is_file()
