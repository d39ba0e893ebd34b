"""Pixel data not taken on trust: non-finite floats, BitsStored masking, the modality."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from calcdet_core.contracts.data import Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.io.images import read_image


def write_float_dicom(path: Path, pixels: np.ndarray, photometric: str = "MONOCHROME2") -> Path:
    """A single-frame Float Pixel Data image (32-bit IEEE), as some processing workstations export."""
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.1.2"
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID = generate_uid()
    ds.Modality, ds.SamplesPerPixel, ds.PhotometricInterpretation = "MG", 1, photometric
    ds.Rows, ds.Columns = pixels.shape
    ds.BitsAllocated = 32
    ds.FloatPixelData = np.ascontiguousarray(pixels, np.float32).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


def _float_image(bad: dict[tuple[int, int], float] | None = None) -> np.ndarray:
    pixels = np.full((24, 20), 10.0, np.float32)
    pixels[4:20, 2:14] = 200.5
    for (y, x), value in (bad or {}).items():
        pixels[y, x] = value
    return pixels


def test_float_dicom_with_nan_and_inf_says_so(tmp_path):
    path = write_float_dicom(tmp_path / "f.dcm", _float_image({(3, 4): np.nan, (5, 5): np.inf, (6, 6): -np.inf}))
    with pytest.raises(InvalidInputError) as info:
        read_image(path)
    assert str(info.value) == (f"{path}: 3 of 480 float pixels are not finite (1 NaN, 2 infinite); "
                               "calcdet needs finite intensities")
    assert "no pixel data" not in str(info.value)


def test_finite_float_dicom_reads_and_monochrome1_is_inverted(tmp_path):
    pixels = _float_image()
    np.testing.assert_array_equal(read_image(write_float_dicom(tmp_path / "a.dcm", pixels)).pixels, pixels)
    inverted = read_image(write_float_dicom(tmp_path / "b.dcm", pixels.max() + pixels.min() - pixels, "MONOCHROME1"))
    np.testing.assert_array_equal(inverted.pixels, pixels)
    assert preprocess(inverted).mask.any()


def test_float_tiff_with_nan_says_so(tmp_path):
    from PIL import Image

    path = tmp_path / "f.tif"
    Image.fromarray(_float_image({(0, 0): np.nan})).save(path)
    with pytest.raises(InvalidInputError, match=r"f\.tif: 1 of 480 float pixels are not finite \(1 NaN, 0 infinite\)"):
        read_image(path)


def test_preprocess_refuses_non_finite_pixels_given_through_the_api():
    image = Mammogram(pixels=_float_image({(1, 1): np.inf}), image_id="api")
    with pytest.raises(InvalidInputError, match="api: 1 of 480 float pixels are not finite"):
        preprocess(image)


def test_a_dicom_without_any_pixel_data_still_says_so(tmp_path):
    path = write_float_dicom(tmp_path / "f.dcm", _float_image())
    ds = pydicom.dcmread(path)
    del ds.FloatPixelData
    ds.save_as(path)
    with pytest.raises(InvalidInputError, match="holds no pixel data"):
        read_image(path)
