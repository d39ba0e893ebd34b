"""The shared data model: grid transforms, candidate arrays, patient splits."""

from __future__ import annotations

import numpy as np
import pytest

from calcdet_core.contracts.data import (
    Annotation,
    Candidates,
    Dataset,
    GridTransform,
    IgnoreRegion,
    ImageRecord,
    Mammogram,
    Target,
)


def test_grid_transform_round_trip_with_crop_and_flip():
    t = GridTransform(x0=100, y0=40, width=300, height=500, flipped=True)
    stored = np.array([[100.0, 40.0], [399.0, 539.0], [250.5, 77.25]])
    working = t.to_working(stored)
    np.testing.assert_allclose(working[:2], [[299, 0], [0, 499]])
    np.testing.assert_allclose(t.to_stored(working), stored)


def test_flipped_transform_needs_width():
    with pytest.raises(ValueError, match="working width"):
        GridTransform(flipped=True).to_stored(np.zeros((1, 2)))


def test_annotation_transform_moves_targets_contours_and_ignore_regions():
    contour = np.array([[10.0, 10.0], [12.0, 10.0], [11.0, 12.0]])
    ann = Annotation(targets=(Target(11, 11, 3, contour), Target(5, 6)), ignore=(IgnoreRegion(contour + 50),))
    t = GridTransform(x0=2, y0=3, width=40, height=80, flipped=True)
    moved = ann.transformed(t.to_working).transformed(t.to_stored)
    assert moved.targets[1].x == 5 and moved.targets[1].y == 6
    np.testing.assert_allclose(moved.targets[0].contour, contour)
    np.testing.assert_allclose(moved.ignore[0].contour, contour + 50)
    assert not ann.is_normal and Annotation().is_normal


def test_candidates_validate_shapes_and_map():
    c = Candidates.from_columns([1, 2], [3, 4], [2, 2], [0.5, 0.9], "img")
    assert c.xyr.dtype == np.float64 and len(c) == 2
    with pytest.raises(ValueError, match="score must have 2 values"):
        Candidates(c.xyr, np.zeros(3))
    shifted = c.mapped(lambda xy: xy + np.array([10, 20]))
    np.testing.assert_allclose(shifted.xyr, [[11, 23, 2], [12, 24, 2]])
    assert shifted.image_id == "img" and len(Candidates.empty().mapped(lambda xy: xy + 1)) == 0


def _record(image_id: str, patient: str, positive: bool) -> ImageRecord:
    ann = Annotation(targets=(Target(1, 1),)) if positive else Annotation()
    return ImageRecord(image_id, patient, path=None, annotation=ann,  # type: ignore[arg-type]
                       read=lambda: Mammogram(np.zeros((2, 2)), image_id))


def test_patient_split_is_disjoint_stratified_and_deterministic():
    rng = np.random.default_rng(0)
    records = [_record(f"{p}-{i}", f"p{p}", positive=p % 3 == 0) for p in range(60) for i in range(rng.integers(1, 4))]
    dataset = Dataset("toy", root=None, records=records)  # type: ignore[arg-type]
    splits = dataset.split(seed=7)
    patients = {k: {r.patient_id for r in v} for k, v in splits.items()}
    assert not (patients["train"] & patients["validation"] or patients["train"] & patients["test"]
                or patients["validation"] & patients["test"])
    assert sum(len(v) for v in splits.values()) == len(records)
    positive = {k: {r.patient_id for r in v if not r.is_normal} for k, v in splits.items()}
    assert [len(positive[k]) for k in ("train", "validation", "test")] == [7, 3, 10]  # 20 positive patients
    assert [len(patients[k]) for k in ("train", "validation", "test")] == [20, 10, 30]
    again = dataset.split(seed=7)
    assert {k: [r.image_id for r in v] for k, v in again.items()} == {
        k: [r.image_id for r in v] for k, v in splits.items()}
    assert dataset.split(seed=8)["test"] != splits["test"]
    assert dataset.select("all") == records
    with pytest.raises(ValueError, match="unknown split 'tset'"):
        dataset.select("tset")
