"""The engine on small synthetic mammograms: training, detection in the stored grid, parallel and resumable runs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, ImageRecord, Mammogram
from calcdet_core.evaluation.matching import DROPPED, match_detections
from calcdet_core.run.detection import detect_record, extract_features, feature_names, run_detection
from calcdet_core.run.executor import JobsFailed, SerialExecutor, job_key, load_result, save_result
from calcdet_core.run.pipeline import build_pipeline
from calcdet_core.run.sources import ImageSource, load_working
from calcdet_core.run.training import train_pipeline, training_data
from tests.synthetic_mammograms import AIA_ML_SMALL, synthetic_record


@pytest.fixture(scope="module")
def records() -> list[ImageRecord]:
    return [synthetic_record(i, "R" if i % 2 else "L") for i in range(14)]


@pytest.fixture(scope="module")
def trained(records, tmp_path_factory):
    pipeline = build_pipeline(AIA_ML_SMALL)
    metrics = train_pipeline(pipeline, ImageSource(records[:6]), ImageSource(records[6:10]), SerialExecutor(),
                             tmp_path_factory.mktemp("work"), seed=0)
    return pipeline, metrics


def test_training_labels_candidates_and_fits_every_learnable_part(trained):
    pipeline, metrics = trained
    assert metrics["train"]["tp"] > 0 and metrics["train"]["fp"] > 0
    assert metrics["train"]["proposer_sensitivity"] > 0.5
    assert metrics["classifier"]["threshold_choice"]["source"] == "validation"
    assert metrics["validation_auroc"] > 0.5
    names = feature_names(pipeline.features)
    assert metrics["features"] == len(names) == 17 + 16
    assert names[0].startswith("fos.") and names[-1].startswith("haar.")


def test_training_features_are_computed_among_every_candidate_as_at_detection(records, tmp_path):
    """Context features see the duplicates that labelling drops; their rows go only afterwards."""
    loose = {"plugin": "gm", "params": {"first_quantile": 0.8, "second_quantile": 0.3, "min_distance": 2}}
    spec = {**AIA_ML_SMALL, "proposer": loose, "features": [{"plugin": "context"}, AIA_ML_SMALL["features"][1]]}
    pipeline = build_pipeline(spec)
    data = training_data(pipeline, ImageSource(records[:4]), ImageSource(records[4:6]), SerialExecutor(), tmp_path)
    assert data.metrics["train"]["dropped"] > 0
    rows = []
    for record in records[:4]:
        image, annotation = load_working(record, pipeline.spec.preprocess)
        candidates = pipeline.proposer.propose(image.pixels, image.mask)
        kept = match_detections(candidates, annotation).status != DROPPED
        rows.append(extract_features(pipeline.features, image.pixels, candidates)[kept])
    np.testing.assert_array_equal(data.X, np.vstack(rows))


def test_negatives_per_image_keeps_every_tp_and_at_most_that_many_fps(records, tmp_path):
    loose = {"plugin": "gm", "params": {"first_quantile": 0.8, "second_quantile": 0.3, "min_distance": 2}}
    spec = {**AIA_ML_SMALL, "proposer": loose, "features": [{"plugin": "context"}]}
    every = training_data(build_pipeline(spec), ImageSource(records[:4]), ImageSource(records[4:6]),
                          SerialExecutor(), tmp_path / "every")
    capped_spec = {**spec, "training": {"negatives_per_image": 5}}
    capped = [training_data(build_pipeline(capped_spec), ImageSource(records[:4]), ImageSource(records[4:6]),
                            SerialExecutor(), tmp_path / name, seed=seed)
              for name, seed in (("a", 0), ("b", 0), ("c", 1))]
    train, full = capped[0].metrics["train"], every.metrics["train"]
    assert train["tp"] == full["tp"] and train["fp"] == 4 * 5 < full["fp"]
    assert train["negatives_left_out"] == full["fp"] - train["fp"] and full["negatives_left_out"] == 0
    assert capped[0].metrics["validation"]["fp"] == 2 * 5
    rows_of = {tuple(row) for row in every.X}  # the kept rows are rows of the full matrix, features unchanged
    assert all(tuple(row) in rows_of for row in capped[0].X)
    np.testing.assert_array_equal(capped[0].X, capped[1].X)  # the seed decides the draw
    assert not np.array_equal(capped[0].X, capped[2].X)


def test_detections_are_in_the_stored_grid(trained, records):
    pipeline, _ = trained
    for record in records[10:13]:
        found = detect_record(pipeline, record)
        assert found.image_id == record.image_id and len(found)
        stored = record.read().pixels
        h, w = stored.shape
        assert ((found.x >= 0) & (found.x < w) & (found.y >= 0) & (found.y < h)).all()
        if record.annotation.targets:
            match = match_detections(found, record.annotation)
            top = np.argsort(-found.score)[: len(record.annotation.targets)]
            assert (match.status[top] == 1).sum() >= len(top) // 2, "the best scores should sit on the MCs"


def test_flipped_and_unflipped_images_map_back_alike(trained):
    pipeline, _ = trained
    right, left = synthetic_record(20, "R"), synthetic_record(20, "L")
    a, b = detect_record(pipeline, right), detect_record(pipeline, left)
    w = right.read().pixels.shape[1]
    np.testing.assert_allclose(np.sort(a.x), np.sort(w - 1 - b.x), atol=1e-9)


def test_interrupted_run_resumes_from_saved_results(trained, records, tmp_path):
    pipeline, _ = trained
    source = ImageSource(records[10:13])
    first = run_detection(pipeline, source, SerialExecutor(), tmp_path)
    keys = source.job_keys()
    marker = {"xyr": np.array([[1.0, 2.0, 3.0]]), "score": np.array([0.5]), "seconds": np.float64(0)}
    save_result(tmp_path / f"{keys[0]}.npz", marker)  # as if this image had finished before an interruption
    (tmp_path / f"{keys[1]}.npz").unlink()  # and this one had not
    again = run_detection(pipeline, source, SerialExecutor(), tmp_path)
    assert again[0].detections.xyr.tolist() == [[1.0, 2.0, 3.0]], "a saved result is reused, not recomputed"
    np.testing.assert_array_equal(again[1].detections.score, first[1].detections.score)
    assert (tmp_path / f"{keys[1]}.npz").is_file()


def test_failed_image_is_named_and_the_others_are_kept(trained, records, tmp_path):
    pipeline, _ = trained

    def broken() -> Mammogram:
        raise ValueError("cannot decode pixel data")

    bad = ImageRecord("broken-image", "p", Path("x"), Annotation(), read=broken)
    with pytest.raises(JobsFailed, match="broken-image: ValueError: cannot decode"):
        run_detection(pipeline, ImageSource([records[10], bad]), SerialExecutor(), tmp_path)
    assert load_result(tmp_path / f"{job_key(records[10].image_id)}.npz")["xyr"].shape[1] == 3


def test_dask_cluster_gives_the_serial_result(trained, records, tmp_path):
    distributed = pytest.importorskip("distributed")
    from calcdet_core.run.executor import DaskExecutor

    pipeline, _ = trained
    source = ImageSource(records[10:12])
    serial = run_detection(pipeline, source, SerialExecutor(), tmp_path / "serial")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, distributed.Client(cluster) as client:
        with DaskExecutor(client) as given:
            on_cluster = run_detection(pipeline, source, given, tmp_path / "dask")
        assert client.status == "running", "a client the executor was given is its caller's to close"
        with DaskExecutor(cluster.scheduler_address) as connected:
            assert connected.client.status == "running"
        assert connected.client.status == "closed", "a client the executor connected is closed with it"
    for a, b in zip(serial, on_cluster, strict=True):
        np.testing.assert_array_equal(a.detections.score, b.detections.score)


def test_proposer_only_pipeline_needs_no_training(records):
    pipeline = build_pipeline({"name": "gm-only", "proposer": {"plugin": "gm"}})
    found = detect_record(pipeline, records[0])
    assert len(found) and np.isfinite(found.score).all()


def test_interrupted_training_resumes_without_redoing_finished_images(records, tmp_path):
    def broken() -> Mammogram:
        raise OSError("disk went away")

    bad = ImageRecord("img-bad", "patient-bad", Path("x"), Annotation(), read=broken)
    with pytest.raises(JobsFailed, match="img-bad"):
        train_pipeline(build_pipeline(AIA_ML_SMALL), ImageSource(records[:6]), ImageSource([*records[6:8], bad]),
                       SerialExecutor(), tmp_path)
    done = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*.npz")}
    assert len(done) == 6 + 2, "every finished image was saved before the failure"
    metrics = train_pipeline(build_pipeline(AIA_ML_SMALL), ImageSource(records[:6]), ImageSource(records[6:8]),
                             SerialExecutor(), tmp_path)
    assert metrics["train"]["images"] == 6
    assert all(p.stat().st_mtime_ns == t for p, t in done.items()), "finished images are read back, not redone"
