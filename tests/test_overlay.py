"""Detection overlays (``calcdet detect --overlays``): windowed grey image, circles, PNG written by Pillow."""

import numpy as np
import pytest
from PIL import Image

from calcdet_core.contracts.data import Candidates
from calcdet_core.imaging.overlay import MIN_DRAWN_RADIUS, draw_circles, to_8bit, write_overlay, write_png


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


def test_overlay_is_the_windowed_image_with_circles_on_the_detections(tmp_path):
    pixels = np.random.default_rng(1).uniform(0.2, 0.8, (64, 80))
    detections = Candidates.from_columns([20.0, 60.0], [30.0, 10.0], [1.0, 8.0], [0.9, 0.4], "x")
    path = write_overlay(tmp_path / "o.png", pixels, detections, color=(255, 0, 0))
    with Image.open(path) as png:
        drawn = np.asarray(png.convert("RGB"))
    grey = to_8bit(pixels)
    expected = draw_circles(np.repeat(grey[:, :, None], 3, axis=2), detections, (255, 0, 0))
    assert np.array_equal(drawn, expected)
    # a 1 px detection is drawn at the minimum radius; the 8 px one at its own; the centres stay grey
    assert tuple(drawn[30, 20 + int(MIN_DRAWN_RADIUS)]) == (255, 0, 0)
    assert tuple(drawn[10, 68]) == (255, 0, 0)
    untouched = (expected == grey[:, :, None]).all(axis=2)
    assert untouched[30, 20] and untouched[10, 60] and untouched.mean() > 0.9
