"""Pixel spacing is honoured: images are resampled to the pipeline's working spacing, and back exactly."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import numpy as np
import pytest

from calcdet_core.contracts.data import Annotation, Candidates, GridTransform, ImageRecord, Mammogram, Target
from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.plugins.registry import build_registry
from calcdet_core.run.detection import detect_record
from calcdet_core.run.pipeline import build_pipeline
from calcdet_core.run.sources import load_working

SPOTS = [(60.0, 50.0), (90.0, 110.0), (40.0, 140.0)]  # (x, y) on the 70 µm grid


def scene_70um() -> np.ndarray:
    """A breast-like region with bright spots 4 px (0.28 mm) across, on a 70 µm grid."""
    yy, xx = np.mgrid[0:200, 0:160].astype(np.float64)
    pixels = np.where(((xx + 40) / 190) ** 2 + ((yy - 100) / 95) ** 2 < 1, 1500.0, 100.0)
    for x, y in SPOTS:
        pixels += 900 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 1.6**2))
    return pixels + np.random.default_rng(0).normal(0, 15, pixels.shape)


def binned(pixels: np.ndarray, factor: int) -> np.ndarray:
    """The same scene stored with ``factor`` times coarser pixels (area average)."""
    h, w = (s // factor * factor for s in pixels.shape)
    return pixels[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def _image(pixels: np.ndarray, spacing: float | None, laterality: str = "L") -> Mammogram:
    return Mammogram(pixels=pixels.astype(np.uint16), image_id="s", spacing_mm=None if spacing is None
                     else (spacing, spacing), laterality=laterality)


def test_transform_with_scale_is_exact_both_ways_and_keeps_pixel_edges_in_register():
    t = GridTransform(x0=7, y0=3, width=50, height=40, flipped=True, scale_x=2.0, scale_y=1.5)
    stored = np.array([[7.0, 3.0], [56.0, 42.0], [20.25, 11.5], [6.5, 2.5]])
    np.testing.assert_allclose(t.to_stored(t.to_working(stored)), stored, rtol=0, atol=1e-12)
    np.testing.assert_allclose(t.to_working(np.array([[56.5, 2.5]])), [[-0.5, -0.5]])  # the crop's corner edges
    assert t.size_scale == pytest.approx(np.sqrt(3.0))
    annotation = Annotation(targets=(Target(20, 11, 4.0),))
    moved = annotation.transformed(t.to_working, t.size_scale)
    assert moved.targets[0].diameter == pytest.approx(4 * np.sqrt(3.0))
    back = Candidates(np.array([[10.0, 12.0, 6.0]]), np.array([0.5])).to_stored(t, "s")
    assert back.xyr[0, 2] == pytest.approx(6 / np.sqrt(3.0))


@pytest.mark.parametrize("spacing", [0.07, 0.0700001, None])
def test_an_image_at_the_working_spacing_is_untouched(spacing):
    image = _image(scene_70um(), spacing)
    plain = preprocess(image)
    at_70 = preprocess(image, working_spacing_mm=0.07)
    assert at_70.pixels.tobytes() == plain.pixels.tobytes() and at_70.transform == plain.transform
    assert not at_70.transform.scaled and np.array_equal(at_70.mask, plain.mask)


@pytest.mark.parametrize("factor, laterality", [(2, "L"), (3, "R")])
def test_a_coarser_image_is_resampled_and_its_detections_map_back_to_the_stored_grid(factor, laterality):
    stored = binned(scene_70um(), factor)
    if laterality == "R":
        stored = stored[:, ::-1]  # right breasts are stored mirrored
    spacing = 0.07 * factor
    record = ImageRecord("s", "p", Path("s.dcm"), Annotation(), partial(_image, stored, spacing, laterality))
    raw = {"name": "p", "preprocess": {"working_spacing_mm": 0.07},
           "proposer": {"plugin": "local-contrast", "params": {"k": 6}}}
    pipeline = build_pipeline(raw, registry=build_registry())
    working, _ = load_working(record, pipeline.spec.preprocess)
    assert working.transform.scale_x == pytest.approx(factor, rel=0.05)
    assert working.spacing_mm == pytest.approx((0.07, 0.07), rel=0.05)
    found = detect_record(pipeline, record)
    width = stored.shape[1]
    for x, y in SPOTS:  # where each spot lies on the stored grid (pixel edges in register)
        sx, sy = (x + 0.5) / factor - 0.5, (y + 0.5) / factor - 0.5
        if laterality == "R":
            sx = width - 1 - sx
        distance = np.hypot(found.xyr[:, 0] - sx, found.xyr[:, 1] - sy)
        assert distance.min() < 1.0, f"spot ({sx:.1f}, {sy:.1f}) not found near {found.xyr[:, :2]}"
    np.testing.assert_allclose(found.xyr[:, 2], 3.0 / working.transform.size_scale)  # radii in stored pixels
    unscaled = build_pipeline({**raw, "preprocess": {"working_spacing_mm": None}}, registry=build_registry())
    assert not load_working(record, unscaled.spec.preprocess)[0].transform.scaled


def test_a_resampling_that_would_make_a_huge_image_is_refused_before_any_allocation():
    """A 10 mm spacing (a wrong tag) at 70 µm would be 143 times the size in each direction."""
    from calcdet_core.errors import InvalidInputError

    image = _image(scene_70um(), 10.0)
    with pytest.raises(InvalidInputError, match=r"s: resampling from \(10.0, 10.0\) mm .* M pixel image"):
        preprocess(image, working_spacing_mm=0.07)


@pytest.mark.parametrize("value", [0.001, 5.0])
def test_a_working_spacing_no_mammogram_has_is_refused_at_its_yaml_path(value):
    from calcdet_core.run.pipeline import PipelineValidationError

    raw = {"name": "p", "preprocess": {"working_spacing_mm": value}, "proposer": {"plugin": "hdog"}}
    with pytest.raises(PipelineValidationError, match=r"preprocess\.working_spacing_mm"):
        build_pipeline(raw)
