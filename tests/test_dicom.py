"""DICOM reading: compressed syntaxes, MONOCHROME1, BitsStored, spacing and clear errors."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from calcdet_core.io.dicom import TRANSFER_SYNTAXES, read_dicom, write_dicom
from calcdet_core.io.ljpeg import encode_lossless_jpeg


def _image(bits: int = 14, shape: tuple[int, int] = (67, 53), seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.cumsum(rng.integers(-40, 41, shape), axis=1) + (1 << (bits - 1))
    img = np.clip(smooth, 0, (1 << bits) - 1)
    img[:5] = rng.integers(0, 1 << bits, (5, shape[1]))  # noisy rows: large residuals
    img[5, :3] = [0, (1 << bits) - 1, 0]  # extreme jumps
    return img.astype(np.uint16)


@pytest.mark.parametrize("photometric", ["MONOCHROME2", "MONOCHROME1"])
@pytest.mark.parametrize("syntax", sorted(TRANSFER_SYNTAXES))
def test_round_trip_is_exact(tmp_path, syntax, photometric):
    img = _image()
    path = write_dicom(tmp_path / "a.dcm", img, photometric=photometric, transfer_syntax=syntax,
                       laterality="R", view="MLO", patient_id="p1")
    ds = pydicom.dcmread(path)
    assert ds.file_meta.TransferSyntaxUID == TRANSFER_SYNTAXES[syntax]
    assert ds.PhotometricInterpretation == photometric
    m = read_dicom(path)
    assert m.pixels.dtype == np.uint16
    np.testing.assert_array_equal(m.pixels, img)
    assert (m.laterality, m.view, m.patient_id, m.image_id) == ("R", "MLO", "p1", "a")
    assert m.spacing_mm == (0.07, 0.07)


def test_monochrome1_is_stored_inverted(tmp_path):
    img = _image()
    path = write_dicom(tmp_path / "m1.dcm", img, photometric="MONOCHROME1")
    np.testing.assert_array_equal(pydicom.dcmread(path).pixel_array, (1 << 14) - 1 - img)
    np.testing.assert_array_equal(read_dicom(path).pixels, img)


def test_lossless_jpeg_full_16_bit_range(tmp_path):
    img = _image(bits=16, seed=3)
    img[6, :2] = [0, 32768]  # residual of exactly 32768: category 16, no extra bits
    path = write_dicom(tmp_path / "j16.dcm", img, bits_stored=16, transfer_syntax="jpeg-lossless")
    np.testing.assert_array_equal(read_dicom(path).pixels, img)
    assert encode_lossless_jpeg(img).count(b"\xff\xd9") >= 1


def test_bits_above_bits_stored_are_cleared(tmp_path):
    img = _image()
    path = write_dicom(tmp_path / "junk.dcm", img)
    ds = pydicom.dcmread(path)
    ds.PixelData = (img | np.uint16(0xC000)).tobytes()  # overlay junk in bits 14-15
    ds.save_as(path)
    with pytest.warns(UserWarning, match=r"3551 of 3551 pixels \(100\.0%\) exceed 16383"):
        np.testing.assert_array_equal(read_dicom(path).pixels, img)


@pytest.mark.parametrize("tag", ["PixelSpacing", "ImagerPixelSpacing"])
def test_spacing_from_either_tag(tmp_path, tag):
    path = write_dicom(tmp_path / "s.dcm", _image(), spacing_mm=(0.05, 0.06), spacing_tag=tag)
    assert read_dicom(path).spacing_mm == (0.05, 0.06)


def test_missing_metadata_is_none(tmp_path):
    m = read_dicom(write_dicom(tmp_path / "bare.dcm", _image(), spacing_mm=None))
    assert (m.spacing_mm, m.laterality, m.view, m.patient_id) == (None, None, None, None)


def test_unreadable_file_error_names_it(tmp_path):
    bad = tmp_path / "broken_42.dcm"
    bad.write_bytes(b"not a dicom file at all")
    with pytest.raises(ValueError, match=r"broken_42\.dcm"):
        read_dicom(bad)


def test_colour_image_refused_with_file_name(tmp_path):
    path = write_dicom(tmp_path / "rgb.dcm", _image())
    ds = pydicom.dcmread(path)
    rgb = np.zeros((4, 5, 3), np.uint8)
    ds.set_pixel_data(rgb, "RGB", 8)
    ds.save_as(path)
    with pytest.raises(ValueError, match=r"rgb\.dcm.*grayscale"):
        read_dicom(path)


def test_write_refuses_values_beyond_bits_stored(tmp_path):
    with pytest.raises(ValueError, match="does not fit in 12 bits"):
        write_dicom(tmp_path / "x.dcm", np.full((4, 4), 5000, np.uint16), bits_stored=12)
    with pytest.raises(ValueError, match="unknown transfer syntax"):
        write_dicom(tmp_path / "x.dcm", np.zeros((4, 4), np.uint16), transfer_syntax="jpeg-ls")
