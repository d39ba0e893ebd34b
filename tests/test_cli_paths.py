"""The README's command lines no other test runs, run as a user runs them on one small phantom release:
`train --workers 2`, `detect` and `train` on a Dask cluster of worker processes (everything pickled), `calcdet
tune`, the module behind `make demo`, `detect MODEL_DIR files.dcm`, and a training resumed after an input changed.

One model trained in this process is the reference: every other way of running must give its detections.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from calcdet_phantom.release import generate_release
from typer.testing import CliRunner

from calcdet_core.cli.app import create_app
from calcdet_core.run.workflows import load_dataset

PIPELINE = """
name: tiny-aia-ml
proposer: {plugin: gm, params: {first_quantile: 0.8, second_quantile: 0.5}}
features: [{plugin: fos}]
classifier: {plugin: svm-cascade, params: {max_train_samples: 400, tune_folds: 2, tune_max_samples: 120}}
"""

app = create_app()
runner = CliRunner()


def calcdet(*args: str | Path) -> str:
    """Run ``calcdet ARGS`` in this process; its output, after checking it succeeded."""
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def calcdet_on_cluster(scheduler: str, *args: str | Path) -> None:
    """Run ``calcdet ARGS --scheduler ADDRESS`` in this process; the command closes the Dask client it connected
    (a notebook or a test session keeps no connection to a cluster a run is done with)."""
    from distributed import Client

    calcdet(*args, "--scheduler", scheduler)
    with pytest.raises(ValueError, match="No clients found"):
        Client.current()


def training_facts(model: Path) -> dict[str, object]:
    """What training learned and decided, without its timings: equal for equal training."""
    metrics = json.loads((model / "training_metrics.json").read_text())
    return {key: metrics[key] for key in ("train", "validation", "validation_auroc", "operating_point")}


@pytest.fixture(scope="module")
def release(tmp_path_factory) -> Path:
    """12 images of 5 patients: the train split holds 2, both with MCs, as `calcdet tune`'s 2 grouped folds need."""
    return generate_release(tmp_path_factory.mktemp("release"), 12, seed=5, height=320, width=256)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipeline") / "tiny.yaml"
    path.write_text(PIPELINE)
    return path


def train(pipeline: Path, root: Path, out: Path, *extra: str) -> Path:
    calcdet("train", pipeline, "--dataset", "inbreast", "--root", root, "--out", out, "--quiet", *extra)
    return out


def detect_test_split(model: Path, root: Path, out: Path, *extra: str) -> list[dict[str, str]]:
    calcdet("detect", model, "--dataset", "inbreast", "--root", root, "--split", "test", "--out", out, *extra)
    return read_rows(out)


@pytest.fixture(scope="module")
def model(pipeline, release, tmp_path_factory) -> Path:
    """The reference: trained in this one process."""
    return train(pipeline, release, tmp_path_factory.mktemp("serial") / "model")


@pytest.fixture(scope="module")
def detections(model, release, tmp_path_factory) -> list[dict[str, str]]:
    """The reference model's detections on the test split, found in this one process."""
    rows = detect_test_split(model, release, tmp_path_factory.mktemp("serial-detect") / "d.csv")
    assert len({row["image_id"] for row in rows}) >= 3
    return rows


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """A real local Dask cluster: a scheduler and two worker processes on 127.0.0.1, one thread each."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                                  dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_train_with_two_workers_learns_what_one_process_learns(pipeline, release, model, detections, tmp_path):
    other = train(pipeline, release, tmp_path / "model", "--workers", "2")
    assert training_facts(other) == training_facts(model)
    assert detect_test_split(other, release, tmp_path / "d.csv") == detections


def test_detect_on_a_dask_cluster_finds_what_one_process_finds(scheduler, model, release, detections, tmp_path):
    assert scheduler.startswith("tcp://127.0.0.1:")
    out = tmp_path / "d.csv"
    calcdet_on_cluster(scheduler, "detect", model, "--dataset", "inbreast", "--root", release, "--split", "test",
                       "--out", out)
    assert read_rows(out) == detections


def test_train_on_a_dask_cluster_learns_what_one_process_learns(scheduler, pipeline, release, model, detections,
                                                                tmp_path):
    other = tmp_path / "model"
    calcdet_on_cluster(scheduler, "train", pipeline, "--dataset", "inbreast", "--root", release, "--out", other,
                       "--quiet")
    assert training_facts(other) == training_facts(model)
    assert detect_test_split(other, release, tmp_path / "d.csv") == detections


def test_detect_dicom_files_with_a_trained_model_gives_the_rows_of_the_split_run(model, release, detections,
                                                                                 tmp_path):
    """Files and a folder of them, named by file stem, each with exactly the detections the dataset run gave."""
    found = sorted({row["image_id"] for row in detections})
    files = {name: next((release / "AllDICOMs").glob(f"{name}_*.dcm")) for name in found[:3]}
    folder = tmp_path / "scans"
    folder.mkdir()
    shutil.copy2(files[found[2]], folder)
    out = tmp_path / "files.csv"
    calcdet("detect", model, files[found[0]], files[found[1]], folder, "--out", out)
    rows = read_rows(out)
    for name, path in files.items():
        by_file = [{**row, "image_id": name} for row in rows if row["image_id"] == path.stem]
        assert by_file and by_file == [row for row in detections if row["image_id"] == name], name
    assert {row["image_id"] for row in rows} == {path.stem for path in files.values()}


def test_tune_searches_the_grid_on_the_candidates_training_labelled(pipeline, release, model, tmp_path):
    out = tmp_path / "tuning.json"
    output = calcdet("tune", pipeline, "--dataset", "inbreast", "--root", release, "--out", out)
    report = json.loads(out.read_text())
    assert report["classifier"] == "svm-cascade" and report["folds"] == 2 and len(report["grid"]) == 27
    assert report["candidates"] == training_facts(model)["train"], "the rows `calcdet train` labelled"
    best = ", ".join(f"{k}: {v}" for k, v in report["best"].items())
    assert f"best: classifier: {{plugin: svm-cascade, params: {{{best}}}}}" in output
    assert not out.with_name(out.name + ".work").exists()


def test_training_resumed_after_an_input_changed_learns_from_the_input_as_it_is_now(pipeline, release, detections,
                                                                                   tmp_path):
    """A run stops on an unreadable image after saving the others' candidates; then one of those images changes
    back to its true content. The rerun must not reuse what was computed from the old file."""
    root = Path(shutil.copytree(release, tmp_path / "release"))
    changed, broken = (Path(r.path) for r in load_dataset("inbreast", root).split(0)["train"][:2])
    true_bytes = {changed: changed.read_bytes(), broken: broken.read_bytes()}
    other = next(p for p in (root / "AllDICOMs").glob("*.dcm") if p not in true_bytes)
    changed.write_bytes(other.read_bytes())  # another image's pixels under this image's name and truth
    broken.write_bytes(true_bytes[broken][: len(true_bytes[broken]) // 2])  # its header reads, its pixels do not
    out = tmp_path / "model"
    first = runner.invoke(app, ["train", str(pipeline), "--dataset", "inbreast", "--root", str(root),
                                "--out", str(out)])
    assert first.exit_code == 1 and "1 image(s) failed" in first.output, first.output
    assert list(out.glob("work/*/candidates-train/*.npz")), "the readable images' candidates are kept"
    for path, data in true_bytes.items():
        path.write_bytes(data)
    resumed = runner.invoke(app, ["train", str(pipeline), "--dataset", "inbreast", "--root", str(root),
                                  "--out", str(out)])
    assert resumed.exit_code == 0, resumed.output
    assert "the inputs changed since the work in" in resumed.output
    assert "training starts afresh" in " ".join(resumed.output.split())
    assert detect_test_split(out, root, tmp_path / "d.csv") == detections


def test_the_demo_module_runs_end_to_end_at_the_size_asked(pipeline, tmp_path):
    """`make demo`'s module, as make runs it, on a tiny release and pipeline."""
    out = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "calcdet_core.run.demo", "--out", str(out), "--images", "12",
                           "--height", "320", "--width", "256", "--seed", "5", "--workers", "1",
                           "--pipeline", str(pipeline)],
                          capture_output=True, text=True, env=dict(os.environ, COLUMNS="200"), timeout=600)
    assert done.returncode == 0, done.stderr
    assert len(list((out / "release" / "AllDICOMs").glob("*.dcm"))) == 12
    metrics = json.loads((out / "evaluation" / "metrics.json").read_text())
    assert metrics["split"] == "test" and 0 <= metrics["froc"]["auc"] <= 1
    assert (out / "model" / "checksums.json").is_file() and (out / "evaluation" / "report.html").is_file()
    assert f"{metrics['images']} test images" in done.stderr and "report:" in done.stderr


def test_the_demo_module_refuses_a_wrong_pipeline_in_one_line_before_any_work(tmp_path):
    done = subprocess.run([sys.executable, "-m", "calcdet_core.run.demo", "--out", str(tmp_path / "demo"),
                           "--pipeline", "no-such-pipeline"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: pipeline file no-such-pipeline does not exist")
    assert not (tmp_path / "demo").exists(), "no release made for a run that cannot train"
