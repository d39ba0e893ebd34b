"""Findings overlays (``calcdet detect --overlay``): windowed grey image, findings by truth, legend, scale bar."""

import numpy as np
import pytest
from PIL import Image

from calcdet_core.contracts.data import Annotation, Candidates, Target
from calcdet_core.imaging.overlay import (
    FINDING_RGB,
    FP_RGB,
    MISSED_RGB,
    TP_RGB,
    write_findings_overlay,
    write_png,
)


def test_write_png_round_trips_every_pixel_as_8_bit_rgb(tmp_path):
    rgb = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    path = write_png(tmp_path / "deep" / "x.png", rgb)
    raw = path.read_bytes()
    assert raw[:8] == b"\x89PNG\r\n\x1a\n" and raw[24:26] == bytes([8, 2])  # IHDR: 8 bits, truecolour
    with Image.open(path) as png:
        assert png.mode == "RGB" and png.size == (53, 37)
        assert np.array_equal(np.asarray(png), rgb)


def test_write_png_names_the_file_on_a_wrong_shape(tmp_path):
    with pytest.raises(ValueError, match=r"grey\.png.*\(H, W, 3\)"):
        write_png(tmp_path / "grey.png", np.zeros((4, 4), np.uint8))


def _colour_near(rgb: np.ndarray, x: float, y: float, reach: int, colour: tuple[int, int, int]) -> bool:
    window = rgb[max(int(y) - reach, 0): int(y) + reach + 1, max(int(x) - reach, 0): int(x) + reach + 1]
    return bool((window == colour).all(axis=2).any())


def test_findings_are_coloured_by_the_truth_with_missed_mcs_legend_and_scale(tmp_path):
    pixels = np.random.default_rng(1).uniform(0.2, 0.8, (300, 260))
    findings = Candidates.from_columns([60.0, 200.0], [80.0, 150.0], [2.0, 2.0], [0.9, 0.4], "x")
    truth = Annotation((Target(61.0, 80.0, 3.0), Target(120.0, 220.0, 3.0)))
    path = write_findings_overlay(tmp_path / "x.png", pixels, findings, 0.3, truth, (0.1, 0.1))
    with Image.open(path) as png:
        rgb = np.asarray(png.convert("RGB"))
    assert rgb.shape == (300, 260, 3)
    assert _colour_near(rgb, 60, 80, 10, TP_RGB) and not _colour_near(rgb, 60, 80, 10, FP_RGB)
    assert _colour_near(rgb, 200, 150, 10, FP_RGB), "a finding on no MC is a false positive"
    assert _colour_near(rgb, 120, 220, 12, MISSED_RGB), "the MC no finding reached is drawn"
    assert (rgb[280:295, 10:110] == 255).all(axis=2).sum() > 100, "a 10 mm scale bar: 100 px at 0.1 mm"


def test_without_truth_every_finding_is_one_colour(tmp_path):
    pixels = np.random.default_rng(2).uniform(0.2, 0.8, (200, 200))
    findings = Candidates.from_columns([50.0, 150.0], [50.0, 150.0], [2.0, 2.0], [0.9, 0.4], "x")
    with Image.open(write_findings_overlay(tmp_path / "y.png", pixels, findings, float("-inf"))) as png:
        rgb = np.asarray(png.convert("RGB"))
    assert _colour_near(rgb, 50, 50, 10, FINDING_RGB) and _colour_near(rgb, 150, 150, 10, FINDING_RGB)
    assert not _colour_near(rgb, 150, 150, 10, FP_RGB)
