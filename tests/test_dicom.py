"""DICOM reading: compressed syntaxes, MONOCHROME1, BitsStored, spacing and clear errors."""

from __future__ import annotations

import numpy as np
import pydicom
import pytest

from calcdet_core.errors import InvalidInputError
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


def _with_raw_value(path, group: int, element: int, vr: bytes, value: bytes) -> None:
    """Rewrite one explicit-VR tag's stored bytes as a faulty writer would (pydicom refuses to write them)."""
    data = path.read_bytes()
    head = group.to_bytes(2, "little") + element.to_bytes(2, "little") + vr
    start = data.index(head) + len(head)
    length = int.from_bytes(data[start: start + 2], "little")
    padded = value + b" " * (len(value) % 2)
    path.write_bytes(data[:start] + len(padded).to_bytes(2, "little") + padded + data[start + 2 + length:])


@pytest.fixture()
def stored(tmp_path):
    path = tmp_path / "x.dcm"
    write_dicom(path, np.arange(64 * 64, dtype=np.uint16).reshape(64, 64) % 4000)
    return path


@pytest.mark.parametrize(("value", "message"), [(b"abc\\def", r"ImagerPixelSpacing must be two numbers.*'abc'"),
                                                (b"5\\5", "5.0\\\\5.0 mm is no mammogram's pixel spacing"),
                                                (b"0.0001\\0.0001", "no mammogram's pixel spacing"),
                                                (b"0.07\\0.07\\0.07", "must be two numbers")])
def test_a_spacing_no_mammogram_has_is_refused_naming_file_and_tag(stored, value, message):
    _with_raw_value(stored, 0x0018, 0x1164, b"DS", value)
    with pytest.raises(InvalidInputError, match=message) as caught:
        read_dicom(stored)
    assert str(stored) in str(caught.value)


def test_a_one_valued_spacing_is_read_as_square_pixels_with_a_warning(stored):
    _with_raw_value(stored, 0x0018, 0x1164, b"DS", b"0.14")
    with pytest.warns(UserWarning, match="one value"):
        assert read_dicom(stored).spacing_mm == (0.14, 0.14)


def test_an_integer_tag_that_is_no_integer_is_named(stored):
    ds = pydicom.dcmread(stored)
    ds.NumberOfFrames = 7
    ds.save_as(stored)
    _with_raw_value(stored, 0x0028, 0x0008, b"IS", b"abc")
    with pytest.raises(InvalidInputError, match=r"x.dcm: NumberOfFrames must be an integer, got 'abc"):
        read_dicom(stored)


def test_the_header_reader_reads_and_checks_spacing_as_read_dicom_does(stored):
    from calcdet_core.io.images import image_header

    _with_raw_value(stored, 0x0018, 0x1164, b"DS", b"0.14")
    with pytest.warns(UserWarning, match="one value"):
        assert image_header(stored)[2] == (0.14, 0.14)
    _with_raw_value(stored, 0x0018, 0x1164, b"DS", b"5\\5")
    with pytest.raises(InvalidInputError, match="no mammogram's pixel spacing"):
        image_header(stored)
