"""Pixel data not taken on trust: non-finite floats, BitsStored masking, the modality."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid

from calcdet_core.contracts.data import Mammogram
from calcdet_core.errors import InvalidInputError
from calcdet_core.imaging.preprocess import preprocess
from calcdet_core.io.dicom import MODALITIES_ENV, read_dicom, write_dicom
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


def _image() -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(2000, 16000, size=(40, 32), dtype=np.uint16)  # 14-bit data


def test_heavy_bits_stored_masking_warns_with_the_count(tmp_path):
    img = _image()
    path = write_dicom(tmp_path / "b.dcm", img)
    ds = pydicom.dcmread(path)
    ds.BitsStored, ds.HighBit = 10, 9  # declared 10 bits on 14-bit data
    ds.save_as(path)
    over = int((img > 1023).sum())
    with pytest.warns(UserWarning, match=rf"b\.dcm: {over} of 1280 pixels \(\d+\.\d%\) exceed 1023, the largest "
                                         rf"value BitsStored=10 allows \(largest found {img.max()}\)"):
        pixels = read_dicom(path).pixels
    np.testing.assert_array_equal(pixels, img & 1023)


def test_a_few_overlay_pixels_in_the_high_bits_are_cleared_quietly(tmp_path):
    img = _image()
    path = write_dicom(tmp_path / "o.dcm", img)
    ds = pydicom.dcmread(path)
    marked = img.copy()
    marked[0, :1] |= np.uint16(0x8000)  # one overlay pixel in 1280
    ds.PixelData = marked.tobytes()
    ds.save_as(path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(read_dicom(path).pixels, img)


@pytest.mark.parametrize("modality", ["CT", "MR"])
def test_a_non_mammogram_modality_is_refused_unless_accepted(tmp_path, monkeypatch, modality):
    path = write_dicom(tmp_path / "x.dcm", _image())
    ds = pydicom.dcmread(path)
    ds.Modality = modality
    ds.save_as(path)
    monkeypatch.delenv(MODALITIES_ENV, raising=False)
    with pytest.raises(InvalidInputError) as info:
        read_image(path)
    assert str(info.value) == (f"{path}: Modality is {modality}, not a mammogram (MG); to read it anyway set "
                               f"CALCDET_MODALITIES={','.join(sorted({'MG', modality}))} (or * for any)")
    monkeypatch.setenv(MODALITIES_ENV, f"mg, {modality.lower()}")
    np.testing.assert_array_equal(read_image(path).pixels, _image())
    monkeypatch.setenv(MODALITIES_ENV, "*")
    assert read_image(path).pixels.shape == (40, 32)
    monkeypatch.setenv(MODALITIES_ENV, "DX")
    with pytest.raises(InvalidInputError, match=r"not a mammogram \(DX\)"):
        read_image(path)


def test_the_modality_refusal_reaches_the_cli_without_a_traceback(tmp_path):
    path = write_dicom(tmp_path / "ct.dcm", _image())
    ds = pydicom.dcmread(path)
    ds.Modality = "CT"
    ds.save_as(path)
    (tmp_path / "release").mkdir()
    path.rename(tmp_path / "release" / "ct.dcm")
    env = {k: v for k, v in os.environ.items() if k != MODALITIES_ENV}
    command = [sys.executable, "-m", "calcdet_core", "dataset", "summary", "--dataset", "folder", "--root",
               str(tmp_path / "release"), "--check", "--json"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    (bad,) = json.loads(done.stdout)["unreadable"]
    assert "Modality is CT, not a mammogram" in bad["reason"]
    done = subprocess.run(command, capture_output=True, text=True, check=False, env={**env, MODALITIES_ENV: "MG,CT"})
    assert done.returncode == 0, done.stderr
